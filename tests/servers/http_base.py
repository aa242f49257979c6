"""What the local HTTP servers of the tests are built on, and the small generic servers tests use directly.

- `LocalServer`: a ThreadingHTTPServer on 127.0.0.1 (an ephemeral port), served from a daemon thread; use it as
  `with Server() as server:` or `server = Server().start()` … `server.stop()`. Stopping sets `release` (which
  lets go any request the server holds open), stops serving and frees the port.
- `QuietHandler`: a request handler that logs nothing and answers JSON with `reply(status, body, headers)`.
- `StaticServer`: answers GET with fixed bodies (`PNG` is a 1×1 image to serve).
- `CountingServer`: answers `{"ok": true}`, counts requests per (method, path), and can hold paths open.
- `ScriptedServer`: records requests and answers scripted failures before its own API (`route`).
"""
from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f0"
                    "1f0005000201a0d2e1b80000000049454e44ae426082")


def sniff(data: bytes) -> str | None:
    """The image type its first bytes say (what a real server checks instead of trusting the declared one)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing; `reply` sends a JSON document."""

    json_type = "application/json; charset=utf-8"

    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, body: object, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", self.json_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    """A client that hangs up mid-answer (a size cap reached, a timeout) is normal here: not printed as an error."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalServer:
    """An HTTP server on 127.0.0.1 (ephemeral port) in a daemon thread, answering with `handler`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.release = threading.Event()  # set when stopping: lets held requests go
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        """The server's base address."""
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        """Serve in a background thread."""
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Let held requests go, stop serving and free the port."""
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class StaticServer(LocalServer):
    """Answers every GET 200 with `routes[path]`, a (body, content type) pair, or else with `fallback`."""

    def __init__(self, fallback: tuple[bytes, str], routes: dict[str, tuple[bytes, str]] | None = None) -> None:
        routes = routes or {}

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                body, kind = routes.get(self.path, fallback)
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


class CountingServer(LocalServer):
    """Answers every request 200 `{"ok": true}`, counting requests per (method, path) and keeping the
    Idempotency-Key of each request per path. A request to a path in `blocking` sets `entered[path]` and is held
    open until `release` is set (`hold` seconds at the most); any other request first waits `delay` seconds."""

    def __init__(self, blocking=(), *, delay: float = 0.0, hold: float = 20.0) -> None:
        self.blocking = set(blocking)
        self.entered = {path: threading.Event() for path in self.blocking}
        self.counts: Counter = Counter()
        self.keys: dict[str, list[str | None]] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with outer.lock:
                    outer.counts[(self.command, self.path)] += 1
                    outer.keys.setdefault(self.path, []).append(self.headers.get("Idempotency-Key"))
                if self.path in outer.blocking:
                    outer.entered[self.path].set()
                    outer.release.wait(hold)
                elif delay:
                    time.sleep(delay)
                body = b'{"ok": true}'
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client was killed while we held its request

            do_GET = do_POST = _answer

        super().__init__(Handler)

    def count(self, method: str, path: str) -> int:
        with self.lock:
            return self.counts[(method, path)]


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    at: float = field(default_factory=time.monotonic)


@dataclass
class Scripted:
    """A reply given instead of the normal one (after an optional delay)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    block: float = 0.0  # refuse every request for this long after this one (a rate limit)


class ScriptedServer(LocalServer):
    """A server that records requests (`Seen`, query and form parameters merged) and can be told to fail.

    Subclasses answer in `route(seen)`.
    """

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.early: list[Seen] = []  # requests that came back before the Retry-After they were given
        self._script: deque[Scripted] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        super().__init__(_scripted_handler(self))

    def reply_next(self, status: int, *, times: int = 1, headers: dict[str, str] | None = None, body: bytes = b"",
                   delay: float = 0.0) -> None:
        """Answer the next `times` requests with this status (after `delay` seconds) instead of serving them."""
        for _ in range(times):
            self._script.append(Scripted(status, dict(headers or {}), body, delay))

    def rate_limit(self, seconds: int) -> None:
        """Answer the next request 429 with Retry-After; refuse (and note in `early`) any request before then."""
        self._script.append(Scripted(429, {"Retry-After": str(seconds)}, block=seconds))

    def answer(self, seen: Seen) -> Scripted:
        """The reply to one request: a scripted one, else the server's own."""
        with self._lock:
            self.requests.append(seen)
            now = time.monotonic()
            if now < self._blocked_until:
                self.early.append(seen)
                return Scripted(429, {"Retry-After": str(max(1, round(self._blocked_until - now)))})
            if self._script:
                scripted = self._script.popleft()
                self._blocked_until = now + scripted.block
                return scripted
        return self.route(seen)

    def route(self, seen: Seen) -> Scripted:
        """The normal reply; subclasses implement their API here."""
        return Scripted(404, body=b"Not Found")


def _scripted_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if body and "application/x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
                params.update(parse_qsl(body.decode(), keep_blank_values=True))
            seen = Seen(self.command, parts.path, params, {k.lower(): v for k, v in self.headers.items()}, body)
            reply = server.answer(seen)
            if reply.delay > 0:
                time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:
                pass  # the client gave up waiting (a timeout test)

        do_GET = do_POST = _serve

    return Handler
