"""A local Plausible, written from Plausible's Events API reference (plausible.io/docs/events-api).

* `POST /api/event`, body JSON (Content-Type `application/json` or `text/plain`): `name`, `url` and `domain`
  required, `referrer`, `screen_width` and `props` (an object of scalar values) optional. No authentication;
  `User-Agent` and `X-Forwarded-For` identify the (anonymous) visitor.
* 202 with `ok` when accepted; 400 with `{"errors": {field: [message]}}` on a bad body. An event for a domain
  Plausible does not know is accepted and dropped (in `dropped` here), as Plausible does.
* `GET /js/script.js`: the tracker script every Plausible serves (what Beffroi's connection test fetches).

Failures are scripted as for the Matomo server (`reply_next()`, `rate_limit()`); `events` holds what was recorded.
"""
from __future__ import annotations

import json

from .http_base import Scripted, ScriptedServer, Seen


class PlausibleServer(ScriptedServer):
    """Plausible's Events API for the `domains` it knows."""

    def __init__(self, *, domains: tuple[str, ...] = ("www.example.org",)):
        super().__init__()
        self.domains = set(domains)
        self.events: list[dict] = []
        self.dropped: list[dict] = []

    def route(self, seen: Seen) -> Scripted:
        """The Events API and the tracker script."""
        if seen.method == "GET" and seen.path == "/js/script.js":
            return Scripted(200, {"Content-Type": "application/javascript"}, b"!function(){/* plausible */}();")
        if seen.method == "POST" and seen.path == "/api/event":
            return self._event(seen)
        return super().route(seen)

    def _event(self, seen: Seen) -> Scripted:
        def invalid(field: str, message: str) -> Scripted:
            return Scripted(400, {"Content-Type": "application/json"},
                            json.dumps({"errors": {field: [message]}}).encode())

        kind = seen.headers.get("content-type", "").split(";")[0].strip()
        if kind not in ("application/json", "text/plain"):
            return invalid("request", "Content-Type must be application/json or text/plain")
        try:
            body = json.loads(seen.body or b"null")
        except ValueError:
            return invalid("request", "Unable to parse request body as json")
        if not isinstance(body, dict):
            return invalid("request", "the body must be a JSON object")
        for required in ("name", "url", "domain"):
            if not isinstance(body.get(required), str) or not body[required].strip():
                return invalid(required, "can't be blank")
        props = body.get("props", {})
        if not isinstance(props, dict) or any(isinstance(v, (dict, list)) for v in props.values()):
            return invalid("props", "must be an object of strings, numbers and booleans")
        event = {**body, "user_agent": seen.headers.get("user-agent"), "ip": seen.headers.get("x-forwarded-for")}
        with self._lock:
            (self.events if body["domain"] in self.domains else self.dropped).append(event)
        return Scripted(202, {"Content-Type": "text/plain"}, b"ok")
