"""A local Matomo, written from Matomo's documentation: the HTTP Tracking API (`/matomo.php`) and the one
Reporting API method Beffroi's connection test calls (`SitesManager.getSiteFromId` on `/index.php`).

Tracking (developer.matomo.org/api-reference/tracking-api, and Matomo's tracker as it answers):
* GET or POST (form fields; query-string parameters too); `idsite` and `rec=1` required.
* A GET without any parameter answers 200 with "This resource is part of Matomo…" (monitoring relies on it);
  a request that tracks nothing (no `rec=1`) answers 400 with the same text.
* Unknown `idsite`, an `_id` that is not 16 hex digits, an event without category or action, a non-numeric
  `e_v` → 400. `cdt` (UNIX time or `YYYY-MM-DD HH:MM:SS` UTC) older than 24 hours needs a valid token_auth,
  else 400. A wrong token_auth is otherwise ignored: Matomo tracks the request anyway (matomo#13471).
* Success: 204 with `send_image=0`, otherwise 200 with a 1×1 GIF.
* `reject_bad_tokens=True` answers 401 to any tracking request whose token_auth is wrong, as a Matomo behind
  an authenticating proxy does (Matomo itself tracks such requests without the token's privileges).

Reporting API: POST `/index.php` with `module=API`, `method`, `format=json`, `token_auth` as a POST field.
A wrong token answers 401 with Matomo 5's JSON error; a site the token cannot see answers Matomo's
`{"result": "error"}` with 200.

Tests script failures with `reply_next()` and `rate_limit()`, and read `requests` (all) and `tracked` (events
Matomo would have recorded).
"""
from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

from .http_base import Scripted, ScriptedServer, Seen

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAAAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
EMPTY_MESSAGE = ("This resource is part of Matomo. Keep full control of your data with the leading free and open "
                 "source web analytics & conversion optimisation platform.<br>\nThis file is the endpoint for the "
                 "Matomo tracking API. If you want to access the Matomo UI or use the Reporting API, please use "
                 "index.php instead.\n")
BAD_TOKEN = ("Unable to authenticate with the provided token. It is either invalid, expired or is required to be "
             "sent as a POST parameter.")


class MatomoServer(ScriptedServer):
    """Matomo's tracker and a sliver of its Reporting API."""

    def __init__(self, *, sites: dict[int, str] | None = None, tokens: tuple[str, ...] = (),
                 reject_bad_tokens: bool = False):
        super().__init__()
        self.sites = sites if sites is not None else {1: "City of Example"}
        self.tokens = set(tokens)
        self.reject_bad_tokens = reject_bad_tokens
        self.tracked: list[dict] = []

    def route(self, seen: Seen) -> Scripted:
        """Tracking on /matomo.php, the Reporting API on /index.php."""
        if seen.path.endswith("/index.php"):
            return self._reporting(seen.params)
        if seen.path.endswith("/matomo.php"):
            return self._track(seen)
        return super().route(seen)

    def _track(self, seen: Seen) -> Scripted:
        params = seen.params
        image = params.get("send_image") != "0"
        ok = Scripted(200, {"Content-Type": "image/gif"}, GIF) if image else Scripted(204)
        bad = Scripted(400, {"Content-Type": "image/gif"}, GIF) if image else Scripted(400)
        if not params:
            return Scripted(200 if seen.method == "GET" else 400, {"Content-Type": "text/html"}, EMPTY_MESSAGE.encode())
        if params.get("rec") != "1":
            return Scripted(400, {"Content-Type": "text/html"}, EMPTY_MESSAGE.encode())
        token = params.get("token_auth")
        authenticated = bool(token) and token in self.tokens
        if token and not authenticated and self.reject_bad_tokens:
            return Scripted(401, {"Content-Type": "text/plain"}, BAD_TOKEN.encode())
        if not params.get("idsite", "").isdigit() or int(params["idsite"]) not in self.sites:
            return bad
        if "_id" in params and not re.fullmatch(r"[0-9a-fA-F]{16}", params["_id"]):
            return bad
        if (("e_c" in params or "e_a" in params)
                and not (params.get("e_c", "").strip() and params.get("e_a", "").strip())):
            return bad
        if "e_v" in params:
            try:
                float(params["e_v"])
            except ValueError:
                return bad
        when = datetime.now(UTC)
        if params.get("cdt"):
            cdt = _parse_cdt(params["cdt"])
            if cdt is not None and cdt <= when:
                if (when - cdt).total_seconds() > 24 * 3600 and not authenticated:
                    return bad  # "Custom timestamp is … seconds old, requires &token_auth…"
                when = cdt
        event = {k: v for k, v in params.items() if k != "token_auth"}
        event.update(authenticated=authenticated, tracked_at=when, user_agent=seen.headers.get("user-agent"))
        with self._lock:
            self.tracked.append(event)
        return ok

    def _reporting(self, params: dict[str, str]) -> Scripted:
        def answer(status: int, data: object) -> Scripted:
            return Scripted(status, {"Content-Type": "application/json"}, json.dumps(data).encode())

        if params.get("module") != "API":
            return Scripted(200, {"Content-Type": "text/html"}, b"<html>Matomo</html>")
        if params.get("token_auth") not in self.tokens:
            return answer(401, {"result": "error", "message": BAD_TOKEN})
        if params.get("method") != "SitesManager.getSiteFromId":
            return answer(200, {"result": "error", "message": f"The method '{params.get('method')}' does not exist"})
        site = params.get("idSite", "")
        if not site.isdigit() or int(site) not in self.sites:
            return answer(200, {"result": "error", "message": f"An unexpected website was found in the request: "
                                                              f"website id was set to '{site}' ."})
        return answer(200, {"idsite": site, "name": self.sites[int(site)], "main_url": "https://www.example.org"})


def _parse_cdt(value: str) -> datetime | None:
    """`cdt` as Matomo reads it: a UNIX timestamp or a UTC datetime."""
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None

