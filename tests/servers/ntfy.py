"""A local ntfy server: `POST /` JSON publishes (as ntfy's API documents them), `GET /v1/health`, and an access
token it requires when given one."""
from __future__ import annotations

import json
import threading

from .http_base import LocalServer, QuietHandler


class NtfyServer(LocalServer):
    """Records each published message (`published`) with its Authorization header."""

    def __init__(self, token: str | None = None) -> None:
        self.published: list[dict] = []
        self.authorizations: list[str | None] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(QuietHandler):
            def _allowed(self) -> bool:
                if token is not None and self.headers.get("Authorization") != f"Bearer {token}":
                    self.reply(401, {"code": 40101, "http": 401, "error": "unauthorized"})
                    return False
                return True

            def do_GET(self) -> None:
                if self.path == "/v1/health":
                    self.reply(200, {"healthy": True})
                else:
                    self.reply(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self._allowed():
                    return
                try:
                    message = json.loads(body)
                except ValueError:
                    self.reply(400, {"code": 40001, "error": "invalid request: body must be JSON"})
                    return
                if self.path != "/" or not isinstance(message, dict) or "topic" not in message:
                    self.reply(400, {"code": 40009, "error": "invalid request: topic missing"})
                    return
                with outer.lock:
                    outer.published.append(message)
                    outer.authorizations.append(self.headers.get("Authorization"))
                    number = len(outer.published)
                self.reply(200, {"id": f"msg{number}", "time": 1765140000, "event": "message",
                                 "topic": message["topic"], "title": message.get("title"),
                                 "message": message.get("message")})

        super().__init__(Handler)
