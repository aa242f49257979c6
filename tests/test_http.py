"""Tests for beffroi.http / beffroi.netguard against throwaway servers on loopback only.

Every request here targets 127.0.0.0/8; addresses outside loopback are only ever tested
against the pure policy function or behind a tripwire backend that refuses to connect.
"""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from beffroi.http import BlockedAddressError, HttpClient, OutboundError, ResponseTooLargeError
from beffroi.netguard import blocked_reason, parse_networks

LOOPBACK = ["127.0.0.0/8"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable

    def _any(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server: CountingServer = self.server  # type: ignore[assignment]
        index = server.record(self)
        result = server.routine(self, index)
        if result is None:  # the routine wrote the response itself
            return
        status, headers, body = result
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

    def log_message(self, *args: object) -> None:
        pass


class CountingServer(ThreadingHTTPServer):
    """HTTP server counting accepted connections and requests; `routine(handler, i)` answers."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], routine) -> None:
        super().__init__(address, _Handler)
        self.routine = routine
        self.connections = 0
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def get_request(self):
        conn = super().get_request()  # called once per accepted TCP connection
        with self._lock:
            self.connections += 1
        return conn

    def record(self, handler: BaseHTTPRequestHandler) -> int:
        with self._lock:
            self.requests.append({k.lower(): v for k, v in handler.headers.items()} | {":path": handler.path})
            return len(self.requests) - 1

    def handle_error(self, request, client_address) -> None:
        pass  # clients hanging up on purpose (timeouts, size cap) are expected here

    @property
    def port(self) -> int:
        return self.server_address[1]


@contextlib.contextmanager
def serve(routine=lambda h, i: (200, {}, b"ok"), host: str = "127.0.0.1", port: int = 0):
    server = CountingServer((host, port), routine)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def fast_client(**kwargs) -> HttpClient:
    kwargs.setdefault("backoff_base", 0.01)
    kwargs.setdefault("timeout", 5.0)
    return HttpClient(**kwargs)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tripwire:
    """Wraps socket.create_connection (what httpcore dials with): lets loopback through,
    records and refuses anything else, so no test can ever reach beyond this machine."""

    def __init__(self, real) -> None:
        self.real = real
        self.blocked: list[tuple] = []

    def __call__(self, address, *args, **kwargs):
        host = address[0].split("%")[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"  # never let a test trigger a real DNS lookup
        if loopback:
            return self.real(address, *args, **kwargs)
        self.blocked.append(address)
        raise ConnectionRefusedError("tripwire: non-loopback connection attempted")


@pytest.fixture(autouse=True)
def tripwire(monkeypatch):
    wire = Tripwire(socket.create_connection)
    monkeypatch.setattr(socket, "create_connection", wire)
    yield wire
    assert wire.blocked == [], "a test tried to connect outside loopback"


# -- address policy ----------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.0.7", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "0.0.0.0", "100.64.0.1", "224.0.0.1", "255.255.255.255", "240.0.0.1", "192.0.2.1",
    "::1", "::", "fc00::1", "fd12::1", "fe80::1", "fe80::1%1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "2002:7f00:1::", "64:ff9b::a9fe:a9fe",
])
def test_policy_blocks_internal_addresses(address):
    assert blocked_reason(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_policy_permits_public_addresses(address):
    assert blocked_reason(address) is None


def test_policy_allowed_networks_override():
    allowed = parse_networks(["127.0.0.0/8", "fd00::/8"])
    assert blocked_reason("127.0.0.2", allowed) is None
    assert blocked_reason("::ffff:127.0.0.1", allowed) is None
    assert blocked_reason("fd00::5", allowed) is None
    assert blocked_reason("10.0.0.1", allowed) == "private"
    assert blocked_reason("169.254.169.254", allowed).startswith("link-local")


@pytest.mark.parametrize("bad", [["not-a-cidr"], ["10.0.0.1/33"], ["10.0.0.5/8"], [""]])
def test_invalid_allowed_networks_raise_at_construction(bad):
    with pytest.raises(ValueError):
        HttpClient(allowed_networks=bad)


# -- SSRF guard: refused destinations receive no connection ------------------------------

def test_blocked_loopback_forms_get_no_connection():
    with serve() as server, fast_client() as client:
        p = server.port
        urls = [f"http://127.0.0.1:{p}/", f"http://localhost:{p}/", f"http://2130706433:{p}/",
                f"http://0x7f000001:{p}/", f"http://127.1:{p}/", f"http://[::ffff:127.0.0.1]:{p}/",
                f"http://0.0.0.0:{p}/", f"http://[::1]:{p}/", f"https://127.0.0.1:{p}/"]
        for url in urls:
            with pytest.raises(BlockedAddressError) as info:
                client.get(url)
            message = str(info.value)
            assert "BEFFROI_ALLOWED_NETWORKS" in message and "blocked" in message, url
        # httpx rejects the octal form outright; still refused, still no connection
        with pytest.raises(OutboundError):
            client.get(f"http://0177.0.0.1:{p}/")
        assert server.connections == 0 and server.requests == []


def test_blocked_error_names_host_and_address():
    with serve() as server, fast_client() as client:
        with pytest.raises(BlockedAddressError) as info:
            client.get(f"http://localhost:{server.port}/x")
        with pytest.raises(BlockedAddressError, match=r"add 127\.0\.0\.1/32 "):
            client.get(f"http://[::ffff:127.0.0.1]:{server.port}/x")
    err = info.value
    assert err.host == "localhost" and err.address == "127.0.0.1"
    assert "'localhost' resolves to 127.0.0.1" in str(err) and "127.0.0.1/32" in str(err)


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://100.64.0.1/",
    "http://[fd00::1]/", "http://[fe80::1]/", "http://224.0.0.1/", "http://[::ffff:10.0.0.1]/",
])
def test_non_loopback_internal_addresses_refused_before_connecting(url, tripwire):
    with fast_client(allowed_networks=LOOPBACK) as client, pytest.raises(BlockedAddressError):
        client.get(url, attempts=1)
    assert tripwire.blocked == []


def test_allowed_network_permits_request():
    with serve(lambda h, i: (200, {"Content-Type": "application/json"}, b'{"ok": true}')) as server:
        with fast_client(allowed_networks=LOOPBACK) as client:
            response = client.get(f"http://localhost:{server.port}/hello")
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert server.requests[0][":path"] == "/hello"
    assert server.requests[0]["user-agent"] == "Beffroi/0.1"


def test_redirect_to_disallowed_address_is_blocked():
    with serve(host="127.0.0.2") as target:
        def redirect(h, i):
            return 302, {"Location": f"http://127.0.0.2:{target.port}/"}, b""
        with serve(redirect) as origin, fast_client(allowed_networks=["127.0.0.1/32"]) as client:
            with pytest.raises(BlockedAddressError) as info:
                client.get(f"http://127.0.0.1:{origin.port}/start")
    assert "127.0.0.2" in str(info.value)
    assert len(origin.requests) == 1 and target.connections == 0


def test_dns_answer_is_used_as_checked(monkeypatch):
    """The connection goes to the address that was vetted: no second lookup to rebind."""
    real = socket.getaddrinfo
    lookups = []

    def rebinding_resolver(host, port, *args, **kwargs):
        if host == "rebind.test":
            lookups.append(host)
            answer = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]
        return real(host, port, *args, **kwargs)

    with serve() as good:
        try:
            evil_cm = serve(host="127.0.0.2", port=good.port)
            evil = evil_cm.__enter__()
        except OSError:
            pytest.skip("could not bind the same port on 127.0.0.2")
        try:
            monkeypatch.setattr(socket, "getaddrinfo", rebinding_resolver)
            with fast_client(allowed_networks=["127.0.0.1/32"]) as client:
                assert client.get(f"http://rebind.test:{good.port}/").status_code == 200
        finally:
            evil_cm.__exit__(None, None, None)
    assert lookups == ["rebind.test"] and good.connections == 1 and evil.connections == 0


def test_redirects_followed_and_credentials_dropped_cross_origin():
    with serve(host="127.0.0.2") as other:
        def routine(h, i):
            if h.path == "/start":
                return 302, {"Location": "/same"}, b""
            return 307, {"Location": f"http://127.0.0.2:{other.port}/final"}, b""
        with serve(routine) as origin, fast_client(allowed_networks=LOOPBACK) as client:
            response = client.get(f"http://127.0.0.1:{origin.port}/start",
                                  headers={"X-Api-Key": "k3y", "Accept": "text/plain"})
    assert response.status_code == 200 and response.text == "ok"
    assert [r[":path"] for r in origin.requests] == ["/start", "/same"]
    assert all(r["x-api-key"] == "k3y" for r in origin.requests)
    assert "x-api-key" not in other.requests[0] and other.requests[0]["accept"] == "text/plain"


def test_redirect_limits_and_schemes():
    def routine(h, i):
        return 302, {"Location": "/loop" if h.path == "/loop" else "file:///etc/passwd"}, b""
    with serve(routine) as server, fast_client(allowed_networks=LOOPBACK, max_redirects=3) as client:
        with pytest.raises(OutboundError, match="more than 3 redirects"):
            client.get(f"http://127.0.0.1:{server.port}/loop")
        assert len(server.requests) == 4
        assert client.get(f"http://127.0.0.1:{server.port}/loop", follow_redirects=False).status_code == 302
        with pytest.raises(OutboundError, match="unsupported scheme 'file'"):
            client.get(f"http://127.0.0.1:{server.port}/evil")
    for url in ["ftp://example.invalid/", "file:///etc/passwd", "/relative"]:
        with pytest.raises(OutboundError, match="unsupported scheme"):
            HttpClient().get(url)


# -- timeouts, size cap -------------------------------------------------------------------

def test_read_timeout_raises_outbound_error():
    def slow(h, i):
        time.sleep(1.0)
        return 200, {}, b"late"
    with serve(slow) as server, fast_client(allowed_networks=LOOPBACK, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(OutboundError, match="timeout"):
            client.post(f"http://127.0.0.1:{server.port}/")  # POST: a read timeout is not replayed
        assert time.monotonic() - started < 0.9
        assert len(server.requests) == 1


def test_read_timeout_retried_for_idempotent_request():
    def slow_once(h, i):
        if i == 0:
            time.sleep(1.0)
        return 200, {}, b"ok"
    with serve(slow_once) as server, fast_client(allowed_networks=LOOPBACK, timeout=0.3) as client:
        assert client.get(f"http://127.0.0.1:{server.port}/").status_code == 200
    assert len(server.requests) == 2


def test_response_size_cap_with_content_length():
    with serve(lambda h, i: (200, {}, b"x" * 5000)) as server:
        with fast_client(allowed_networks=LOOPBACK, max_response_bytes=1000) as client:
            with pytest.raises(ResponseTooLargeError):
                client.get(f"http://127.0.0.1:{server.port}/")
            head = client.request("HEAD", f"http://127.0.0.1:{server.port}/")
    assert head.status_code == 200 and head.content == b""


def test_response_size_cap_streams_chunked_body():
    sent = []

    def chunked(h, i):
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        try:
            for _ in range(200):
                h.wfile.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
                h.wfile.flush()
                sent.append(1)
                time.sleep(0.002)
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # client hung up once over the cap: that is the point
        return None
    with serve(chunked) as server, fast_client(allowed_networks=LOOPBACK, max_response_bytes=10_000) as client:
        with pytest.raises(ResponseTooLargeError, match="exceeds 10000 bytes"):
            client.get(f"http://127.0.0.1:{server.port}/")
    assert len(sent) < 200


def test_response_size_cap_applies_after_decompression():
    bomb = gzip.compress(b"\0" * 2_000_000)
    assert len(bomb) < 10_000
    with serve(lambda h, i: (200, {"Content-Encoding": "gzip"}, bomb)) as server:
        with fast_client(allowed_networks=LOOPBACK, max_response_bytes=100_000) as client:
            with pytest.raises(ResponseTooLargeError):
                client.get(f"http://127.0.0.1:{server.port}/")


def test_small_body_is_read_and_usable():
    with serve(lambda h, i: (200, {}, b"z" * 1000)) as server:
        with fast_client(allowed_networks=LOOPBACK, max_response_bytes=1000) as client:
            response = client.get(f"http://127.0.0.1:{server.port}/")
    assert response.content == b"z" * 1000 and response.is_closed


# -- retries ------------------------------------------------------------------------------

def statuses(*codes, headers=None):
    def routine(h, i):
        return codes[min(i, len(codes) - 1)], dict(headers or {}), b"body"
    return routine


def test_retries_5xx_then_success():
    with serve(statuses(503, 503, 200)) as server, fast_client(allowed_networks=LOOPBACK) as client:
        response = client.get(f"http://127.0.0.1:{server.port}/")
    assert response.status_code == 200 and len(server.requests) == 3


def test_final_5xx_is_returned_not_raised():
    with serve(statuses(502)) as server, fast_client(allowed_networks=LOOPBACK, attempts=3) as client:
        response = client.get(f"http://127.0.0.1:{server.port}/")
    assert response.status_code == 502 and response.text == "body" and len(server.requests) == 3


def test_4xx_is_not_retried():
    with serve(statuses(400)) as server, fast_client(allowed_networks=LOOPBACK) as client:
        assert client.get(f"http://127.0.0.1:{server.port}/").status_code == 400
    assert len(server.requests) == 1


def test_connection_refused_retried_then_raises():
    client = fast_client(allowed_networks=LOOPBACK, attempts=3)
    attempts = []
    real_connect = client._backend._inner.connect_tcp
    client._backend._inner.connect_tcp = lambda *a, **k: attempts.append(a) or real_connect(*a, **k)
    with client, pytest.raises(OutboundError, match="connection refused") as info:
        client.post(f"http://127.0.0.1:{closed_port()}/")  # nothing was sent, so even POST retries
    assert len(attempts) == 3 and not isinstance(info.value, BlockedAddressError)


# -- secrets, concurrency -----------------------------------------------------------------

def test_error_messages_carry_no_secrets():
    headers = {"Authorization": "Bearer TOPSECRET", "X-Api-Key": "KEYSECRET"}
    with fast_client(allowed_networks=LOOPBACK, attempts=1) as client:
        errors = []
        for url in [f"http://user:PASSWORD@127.0.0.1:{closed_port()}/hook?token=SECRET",
                    "http://user:PASSWORD@10.0.0.1/hook?token=SECRET"]:
            with pytest.raises(OutboundError) as info:
                client.post(url, headers=headers, json={"body": "BODYSECRET"})
            errors.append(info.value)
    for err in errors:
        text = str(err) + repr(err)
        assert "/hook" in text
        for secret in ("TOPSECRET", "KEYSECRET", "SECRET", "PASSWORD", "BODYSECRET", "token"):
            assert secret not in text
        assert err.__cause__ is None and err.__suppress_context__


def test_shared_client_is_thread_safe_and_reuses_connections():
    with serve() as server, fast_client(allowed_networks=LOOPBACK) as client:
        url = f"http://127.0.0.1:{server.port}/"
        for _ in range(5):
            assert client.get(url).status_code == 200
        assert server.connections == 1
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: client.get(url).text, range(80)))
    assert results == ["ok"] * 80 and len(server.requests) == 85
    assert server.connections <= 1 + 8
