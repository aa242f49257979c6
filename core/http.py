"""Beffroi's one outbound HTTP client (sync, httpx-based); every plugin talks to the world through it.

Safety rules live here so plugins cannot forget them:

* SSRF guard, enforced at socket-connect time by a custom httpcore network backend: the host is
  resolved once, every resolved address is vetted (`beffroi.netguard`), and the socket connects to
  the vetted IP. It therefore covers every redirect hop and DNS rebinding cannot swap the address
  between check and connect. TLS still verifies and sends SNI for the host name. Environment
  proxies are ignored (trust_env=False): a proxy would resolve and connect outside the guard.
* Timeouts for every phase, a cap on the decoded response body (so a gzip bomb is caught too),
  and no cookie persistence (the client is shared by all plugins).
* Retries capped in attempts and in total waiting (`beffroi.retrying`), Retry-After honoured within
  that budget. A request the server may have acted on is replayed only when it is idempotent: by its
  method (GET, HEAD, PUT, DELETE, OPTIONS) or because the caller says so (`idempotent=True`, for a POST
  the remote side deduplicates). A header alone (Idempotency-Key) declares nothing: most servers ignore it.
* Failures raise OutboundError with one readable line that never contains userinfo, query strings,
  headers or bodies.
"""

from __future__ import annotations

import http.cookiejar
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

import httpcore
import httpx

from .netguard import IPNetwork, check_address, parse_networks
from .retrying import RetryBudget, WaitTooLong, retry_after_seconds

__all__ = ["BlockedAddressError", "HttpClient", "OutboundError", "ResponseTooLargeError", "RetryAfterTooLongError"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})
# Caller headers that may follow a redirect to another origin; anything else (X-Api-Key,
# Private-Token, ...) may be a credential. httpx itself only strips Authorization.
_CROSS_ORIGIN_SAFE_HEADERS = frozenset({"accept", "accept-language", "content-type", "user-agent"})


class OutboundError(Exception):
    """An outbound request failed; the message is one line without credentials, query or body."""


class BlockedAddressError(OutboundError):
    """Destination refused by the SSRF guard; `host` and `address` say what was refused."""

    def __init__(self, message: str, *, host: str = "", address: str = "") -> None:
        super().__init__(message)
        self.host, self.address = host, address


class ResponseTooLargeError(OutboundError):
    """The response body exceeded max_response_bytes."""


class RetryAfterTooLongError(OutboundError):
    """The server asked (Retry-After) for a longer wait than the retry budget has left; `wait` in seconds."""

    def __init__(self, message: str, *, status: int, wait: float) -> None:
        super().__init__(message)
        self.status, self.wait = status, wait


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore network backend that resolves, vets and then connects to the vetted IP only."""

    def __init__(self, allowed: Sequence[IPNetwork]) -> None:
        self._allowed = tuple(allowed)
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        """Resolve `host`, refuse if any address is forbidden, else connect to a vetted address."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(
                f"cannot resolve host {host!r} ({getattr(exc, 'strerror', None) or exc})") from exc
        addresses = list(dict.fromkeys(
            str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)))
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve host {host!r}")
        # Refuse if ANY answer is forbidden: mixing public and internal answers is a rebinding trick.
        for address in addresses:
            refusal = check_address(address, self._allowed)
            if refusal:
                raise BlockedAddressError(
                    f"{host!r} resolves to {address} ({refusal.reason}); to allow it add "
                    f"{ipaddress.ip_network(refusal.address)} (or a wider network) to "
                    "BEFFROI_ALLOWED_NETWORKS", host=host, address=address)
        error: Exception | None = None
        for address in addresses:  # an IP literal makes the inner backend skip DNS entirely
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        """Unix sockets are local by definition, so always refused."""
        raise BlockedAddressError("unix-socket destinations are not allowed", host=path)

    def sleep(self, seconds: float) -> None:
        """Delegate to the stock backend."""
        self._inner.sleep(seconds)


def _safe_url(url: httpx.URL) -> str:
    """scheme://host[:port]/path — no userinfo, query or fragment, which may carry secrets."""
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}"


class _QuerylessLog(logging.Filter):
    """httpx logs every request's whole URL at INFO: a query may carry a token, so its lines keep scheme://host/path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_safe_url(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def _hide_queries_in_httpx_log() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _QuerylessLog) for f in logger.filters):
        logger.addFilter(_QuerylessLog())


def _describe(exc: Exception, request: httpx.Request) -> str:
    """Short description of a transport failure; only OS/DNS/TLS detail, never request data."""
    if isinstance(exc, httpx.TimeoutException):
        phase = {httpx.ConnectTimeout: "connect", httpx.ReadTimeout: "read",
                 httpx.WriteTimeout: "write", httpx.PoolTimeout: "pool"}.get(type(exc), "")
        limit = request.extensions.get("timeout", {}).get(phase)
        return f"{phase} timeout" + (f" after {limit:g} s" if limit else "")
    if isinstance(exc, httpx.ConnectError):  # text comes from OSError/gaierror/ssl, e.g. "Connection refused"
        text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc)) or "connection failed"
        return text[0].lower() + text[1:]
    if isinstance(exc, httpx.ReadError):
        return "connection lost while reading the response"
    if isinstance(exc, httpx.WriteError):
        return "connection lost while sending the request"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "server closed the connection or sent an invalid HTTP response"
    if isinstance(exc, httpx.LocalProtocolError):
        return "request rejected by the HTTP library (invalid header or body)"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "unsupported URL scheme"
    if isinstance(exc, httpx.DecodingError):
        return "response body could not be decoded"
    return type(exc).__name__


class HttpClient:
    """Shared, thread-safe outbound HTTP client with SSRF guard, timeouts, size cap and retries."""

    def __init__(self, *, allowed_networks: Sequence[str] = (), timeout: float = 30.0,
                 max_response_bytes: int = 10 * 2**20, attempts: int = 3, max_retry_delay: float = 60.0,
                 backoff_base: float = 0.5, backoff_max: float = 30.0, max_redirects: int = 5,
                 user_agent: str = "Beffroi/0.1", sleep: Callable[[float], None] = time.sleep) -> None:
        if min(max_redirects, max_response_bytes, timeout, backoff_base, backoff_max, max_retry_delay) < 0:
            raise ValueError("HttpClient limits and delays must not be negative")
        if attempts < 1:
            raise ValueError("HttpClient attempts must be at least 1")
        self.allowed_networks = parse_networks(allowed_networks)
        _hide_queries_in_httpx_log()
        self._timeout, self._max_bytes, self._attempts = timeout, max_response_bytes, attempts
        self._backoff_base, self._backoff_max = backoff_base, backoff_max
        self._max_retry_delay, self._max_redirects = max_retry_delay, max_redirects
        self._sleep = sleep  # injectable: time is outside the client, and tests read the delays it chose

        transport = httpx.HTTPTransport()
        pool = getattr(transport, "_pool", None)
        # Relies on an httpcore internal; fail closed rather than ever run without the guard.
        if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):
            raise RuntimeError("cannot install the SSRF guard on this httpx/httpcore version")
        self._backend = pool._network_backend = _GuardedBackend(self.allowed_networks)
        self._client = httpx.Client(
            transport=transport, headers={"User-Agent": user_agent}, timeout=httpx.Timeout(timeout),
            trust_env=False, follow_redirects=False,  # redirects are followed (and vetted) below
            cookies=http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
        )

    @property
    def timeout(self) -> float:
        """The default timeout of a request, in seconds."""
        return self._timeout

    def request(self, method: str, url: str, *, headers: Any = None, params: Any = None,
                json: Any = None, content: Any = None, data: Any = None, files: Any = None,
                timeout: float | None = None, attempts: int | None = None, idempotent: bool = False,
                resend_on_429: bool = False, follow_redirects: bool = True) -> httpx.Response:
        """Send one request (with retries); returns an httpx.Response whose body is already read (and capped).

        `idempotent=True` declares that sending this POST/PATCH twice does no harm (the remote side
        deduplicates it), so it may be replayed after a 5xx/429 or a lost answer like a GET.
        `resend_on_429=True` declares that the server answers 429 before acting on a request, so a 429
        may be sent again after its Retry-After even when the request is not idempotent.
        """
        return self._read_capped(self._open(
            method, url, headers=headers, params=params, json=json, content=content, data=data, files=files,
            timeout=timeout, attempts=attempts, idempotent=idempotent, resend_on_429=resend_on_429,
            follow_redirects=follow_redirects))

    def download(self, url: str, sink: BinaryIO, *, max_bytes: int, headers: Any = None,
                 timeout: float | None = None) -> httpx.Response:
        """GET `url` and write a 2xx body to `sink` as it arrives, up to `max_bytes` (ResponseTooLargeError beyond).

        For files larger than the client's own cap (documents): nothing is held in memory. The returned response's
        body is empty for a 2xx (it went to `sink`) and read as usual, capped, otherwise (the server's error).
        """
        response = self._open("GET", url, headers=headers, timeout=timeout)
        if not response.is_success:
            return self._read_capped(response)
        self._drain(response, sink.write, max_bytes, "the file exceeds")
        response._content = b""
        return response

    def _open(self, method: str, url: str, *, headers: Any = None, params: Any = None, json: Any = None,
              content: Any = None, data: Any = None, files: Any = None, timeout: float | None = None,
              attempts: int | None = None, idempotent: bool = False, resend_on_429: bool = False,
              follow_redirects: bool = True) -> httpx.Response:
        """Send with retries and vetted redirects; the final response's body is not read yet."""
        method = method.upper()
        try:
            request = self._client.build_request(
                method, url, headers=headers, params=params, json=json, content=content, data=data,
                files=files, timeout=httpx.Timeout(self._timeout if timeout is None else timeout))
        except httpx.InvalidURL as exc:  # httpx messages name the bad part only, not the whole URL
            raise OutboundError(f"{method} request failed: invalid URL ({exc})") from None
        caller_headers = {k.lower() for k in httpx.Headers(headers or {}).keys()}
        budget = RetryBudget(attempts=self._attempts if attempts is None else attempts,
                             max_delay=self._max_retry_delay, backoff_base=self._backoff_base,
                             backoff_max=self._backoff_max)
        redirects = 0
        while True:
            self._check_scheme(request)
            # request.method, not method: a 303 turns a POST into a GET
            safe = idempotent or request.method in IDEMPOTENT_METHODS
            response = self._send_with_retries(request, budget, idempotent=safe, resend_on_429=resend_on_429)
            if not follow_redirects or response.next_request is None:
                return response
            response.close()  # a redirect body is never needed; do not read it
            if redirects >= self._max_redirects:
                raise OutboundError(f"{method} {_safe_url(request.url)} failed: "
                                    f"more than {self._max_redirects} redirects")
            redirects += 1
            next_request = response.next_request  # httpx applies 301/302/303 method rules
            if next_request.url.netloc != request.url.netloc or next_request.url.scheme != request.url.scheme:
                for name in caller_headers - _CROSS_ORIGIN_SAFE_HEADERS:
                    next_request.headers.pop(name, None)
            request = next_request

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """Shortcut for request("GET", ...)."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """Shortcut for request("POST", ...)."""
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        """Shortcut for request("PUT", ...)."""
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        """Shortcut for request("PATCH", ...)."""
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        """Shortcut for request("DELETE", ...)."""
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _check_scheme(request: httpx.Request) -> None:
        if request.url.scheme not in ("http", "https"):
            raise OutboundError(f"{request.method} {_safe_url(request.url)} failed: "
                                f"unsupported scheme {request.url.scheme!r} (only http and https)")

    def _send_with_retries(self, request: httpx.Request, budget: RetryBudget, *, idempotent: bool,
                           resend_on_429: bool) -> httpx.Response:
        """Send until success or the budget runs out; returns the response head, body not yet read."""
        where = f"{request.method} {_safe_url(request.url)}"
        while True:
            try:
                response = self._client.send(request, stream=True)
            except BlockedAddressError as exc:  # raised by _GuardedBackend; never retried
                raise BlockedAddressError(f"{where} blocked: {exc}", host=exc.host,
                                          address=exc.address) from None
            except httpx.TransportError as exc:
                # Connect failures: the server never saw the request, so even a POST may go again.
                never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
                may_replay = idempotent and isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout,
                                                             httpx.NetworkError, httpx.RemoteProtocolError))
                if budget.exhausted or not (never_sent or may_replay):
                    # `from None`: chained httpx exceptions carry the request (URL, headers)
                    raise OutboundError(f"{where} failed: {_describe(exc, request)}") from None
                self._sleep(budget.next_delay())
                continue
            except httpx.StreamError:
                raise OutboundError(f"{where} failed: request body is a one-shot stream and cannot "
                                    "be re-sent for a retry or redirect") from None
            status = response.status_code
            retryable = (idempotent and status in RETRY_STATUSES) or (resend_on_429 and status == 429)
            if budget.exhausted or not retryable:
                return response
            retry_after = None
            if status in RETRY_AFTER_STATUSES:
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            response.close()
            try:
                delay = budget.next_delay(retry_after)
            except WaitTooLong as exc:
                raise RetryAfterTooLongError(f"{where} failed: the server answered {status} and {exc}",
                                             status=status, wait=exc.asked) from None
            self._sleep(delay)

    def _read_capped(self, response: httpx.Response) -> httpx.Response:
        """Read the body, aborting as soon as it exceeds max_response_bytes (after decompression)."""
        chunks: list[bytes] = []
        self._drain(response, chunks.append, self._max_bytes, "response body exceeds")
        # Same assignment Response.read() makes; lets .content/.text/.json() work as usual.
        response._content = b"".join(chunks)
        return response

    @staticmethod
    def _drain(response: httpx.Response, write: Callable[[bytes], Any], max_bytes: int, exceeds: str) -> None:
        """Pass the body to `write` chunk by chunk, refusing it (ResponseTooLargeError) beyond max_bytes."""
        where = f"{response.request.method} {_safe_url(response.request.url)}"
        too_large = ResponseTooLargeError(f"{where} failed: {exceeds} {max_bytes} bytes")
        size = 0
        try:
            declared = response.headers.get("Content-Length", "")  # HEAD declares a body it omits
            if response.request.method != "HEAD" and declared.isdigit() and int(declared) > max_bytes:
                raise too_large  # refuse before downloading anything
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise too_large
                write(chunk)
        except httpx.HTTPError as exc:
            raise OutboundError(f"{where} failed: {_describe(exc, response.request)}") from None
        finally:
            response.close()
