"""A local Mastodon server for tests: the REST endpoints a publisher uses, as the Mastodon API documents them.

- `Authorization: Bearer <token>`; an unknown token gets 401 `{"error": "The access token is invalid"}`.
- `POST /api/v1/statuses` with a form (`status`, `media_ids[]`, `visibility`, `language`) or a JSON body;
  the `Idempotency-Key` header is honoured per account (same key → the same status, not a second one);
  422 `{"error": "Validation failed: …"}` for an empty or over-long text (500 characters, links as 23).
- `POST /api/v2/media` (multipart `file` + `description`; bytes that are not the image type they claim, over
  16 MB, or more than 4 per status are refused, as Mastodon does) → 200, or 202 then `GET /api/v1/media/:id`
  206 while "processing" and 200 when done (`processing_rounds`).
- `GET /api/v1/accounts/verify_credentials` → the account.
- `fail(path, status, ...)` queues failures (e.g. 429 with Retry-After, 503, or a 500 sent after the
  status was created, as when an answer is lost); `hang` makes the next status request wait (a timeout).
"""
from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import regex

from .http_base import LocalServer, QuietHandler, sniff

_URL = regex.compile(r"https?://[^\s<>\"']+")
_VISIBILITIES = {"public", "unlisted", "private", "direct"}


class MastodonServer(LocalServer):
    """Start with `with MastodonServer() as server:`; `server.url` is its base address."""

    def __init__(self, accounts: dict[str, str] | None = None, processing_rounds: int = 0):
        self.accounts = accounts or {"tok-city": "city"}  # token → username
        self.processing_rounds = processing_rounds
        self.statuses: list[dict] = []
        self.media: dict[str, dict] = {}
        self.requests: list[dict] = []  # method, path, time (monotonic), idempotency key
        self.failures: list[dict] = []
        self.hang = threading.Event()  # set: the next POST /api/v1/statuses waits for `release`
        self._keys: dict[tuple[str, str], dict] = {}
        self._ids = itertools.count(109_000_000_000_000_001)
        self._lock = threading.Lock()
        super().__init__(_handler(self))

    def fail(self, path: str, status: int, *, times: int = 1, retry_after: str | None = None,
             after_create: bool = False) -> None:
        """Answer the next `times` requests to `path` with `status` (after creating the status if asked)."""
        self.failures.append({"path": path, "status": status, "times": times, "retry_after": retry_after,
                              "after_create": after_create})

    def posts_to(self, path: str) -> list[dict]:
        """The requests received on a path (POST only)."""
        return [r for r in self.requests if r["method"] == "POST" and r["path"] == path]

    # -- behaviour -----------------------------------------------------------------------------
    def _failure(self, path: str) -> dict | None:
        with self._lock:
            for failure in self.failures:
                if failure["path"] == path and failure["times"] > 0:
                    failure["times"] -= 1
                    return failure
        return None

    def account(self, username: str) -> dict:
        return {"id": str(abs(hash(username)) % 10**9), "username": username, "acct": username,
                "display_name": username.title(), "url": f"{self.url}/@{username}"}

    def create_status(self, username: str, fields: dict, key: str | None) -> tuple[int, dict]:
        """Validate and store a status, or return the one already made with this Idempotency-Key."""
        with self._lock:
            if key and (username, key) in self._keys:
                return 200, self._keys[(username, key)]
            text = str(fields.get("status") or "")
            media_ids = [str(m) for m in fields.get("media_ids") or []]
            if not text.strip() and not media_ids:
                return 422, {"error": "Validation failed: Text can't be blank"}
            if len(media_ids) > 4:
                return 422, {"error": "Validation failed: Media attachments: you can attach at most 4 images"}
            counted = _URL.sub("x" * 23, text)
            if len(regex.findall(r"\X", counted)) > 500:
                return 422, {"error": "Validation failed: Text character limit of 500 exceeded"}
            visibility = fields.get("visibility") or "public"
            if visibility not in _VISIBILITIES:
                return 422, {"error": "Validation failed: Visibility is not included in the list"}
            language = fields.get("language")
            if language is not None and not regex.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2,4})?", str(language)):
                language = None  # Mastodon ignores a language it does not know
            attachments = []
            for media_id in media_ids:
                media = self.media.get(media_id)
                if media is None or media["owner"] != username:
                    return 422, {"error": "Validation failed: Media attachments are invalid"}
                if media["url"] is None:
                    return 422, {"error": "Cannot attach files that have not finished processing. "
                                          "Try again in a moment!"}
                attachments.append({k: v for k, v in media.items() if k not in ("owner", "rounds", "data")})
            status_id = str(next(self._ids))
            status = {"id": status_id, "uri": f"{self.url}/users/{username}/statuses/{status_id}",
                      "url": f"{self.url}/@{username}/{status_id}", "content": f"<p>{text}</p>", "text": text,
                      "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                      "visibility": visibility, "language": language, "media_attachments": attachments,
                      "account": self.account(username)}
            self.statuses.append(status)
            if key:
                self._keys[(username, key)] = status
            return 200, status

    def create_media(self, username: str, data: bytes, mime_type: str, description: str) -> tuple[int, dict]:
        if len(data) > 16 * 2**20:
            return 422, {"error": "Validation failed: File file size must be less than 16 MB"}
        if sniff(data) != mime_type:  # Mastodon reads the image itself: bytes that are not one are refused
            return 422, {"error": "Validation failed: File content type is invalid"}
        if len(description) > 1500:
            return 422, {"error": "Validation failed: Description is too long (maximum is 1500 characters)"}
        with self._lock:
            media_id = str(next(self._ids))
            ready = self.processing_rounds == 0
            media = {"id": media_id, "type": "image", "description": description, "mime_type": mime_type,
                     "url": f"{self.url}/media/{media_id}" if ready else None, "preview_url": None,
                     "owner": username, "rounds": self.processing_rounds, "data": data}
            self.media[media_id] = media
            public = {k: v for k, v in media.items() if k not in ("owner", "rounds", "data", "mime_type")}
            return (200 if ready else 202), public

    def poll_media(self, username: str, media_id: str) -> tuple[int, dict]:
        with self._lock:
            media = self.media.get(media_id)
            if media is None or media["owner"] != username:
                return 404, {"error": "Record not found"}
            if media["rounds"] > 0:
                media["rounds"] -= 1
            if media["rounds"] == 0 and media["url"] is None:
                media["url"] = f"{self.url}/media/{media_id}"
            public = {k: v for k, v in media.items() if k not in ("owner", "rounds", "data", "mime_type")}
            return (200 if media["url"] else 206), public


def _parse_body(handler: BaseHTTPRequestHandler) -> dict:
    """Form, JSON or multipart body as a dict; repeated `name[]` fields become lists under `name`."""
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length)
    kind = handler.headers.get("Content-Type", "")
    if kind.startswith("application/json"):
        return json.loads(raw or b"{}")
    if kind.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {kind}\r\n\r\n".encode() + raw)
        fields: dict = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is not None:
                fields[name] = {"data": part.get_payload(decode=True), "type": part.get_content_type(),
                                "filename": part.get_filename()}
            else:
                fields[name] = part.get_payload(decode=True).decode()
        return fields
    fields = {}
    for name, values in parse_qs(raw.decode(), keep_blank_values=True).items():
        if name.endswith("[]"):
            fields[name[:-2]] = values
        else:
            fields[name] = values[-1]
    return fields


def _handler(server: MastodonServer):
    class Handler(QuietHandler):
        def user(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            return server.accounts.get(auth[7:]) if auth.startswith("Bearer ") else None

        def handle_one(self, method: str) -> None:
            path = urlsplit(self.path).path
            server.requests.append({"method": method, "path": path, "time": time.monotonic(),
                                    "key": self.headers.get("Idempotency-Key")})
            body = _parse_body(self) if method == "POST" else {}
            username = self.user()
            if username is None:
                return self.reply(401, {"error": "The access token is invalid"})
            failure = server._failure(path)
            if failure and not failure["after_create"]:
                headers = {"Retry-After": failure["retry_after"]} if failure["retry_after"] else {}
                return self.reply(failure["status"], {"error": "Too many requests" if failure["status"] == 429
                                                      else "Something went wrong"}, headers)
            if method == "GET" and path == "/api/v1/accounts/verify_credentials":
                return self.reply(200, server.account(username))
            if method == "POST" and path == "/api/v1/statuses":
                if server.hang.is_set():
                    server.release.wait(10)
                status, reply = server.create_status(username, body, self.headers.get("Idempotency-Key"))
                if failure:  # created, but the answer is "lost"
                    return self.reply(failure["status"], {"error": "Something went wrong"})
                return self.reply(status, reply)
            if method == "POST" and path == "/api/v2/media":
                file = body.get("file")
                if not isinstance(file, dict):
                    return self.reply(422, {"error": "Validation failed: File can't be blank"})
                return self.reply(*server.create_media(username, file["data"], file["type"],
                                                       body.get("description", "")))
            if method == "GET" and path.startswith("/api/v1/media/"):
                return self.reply(*server.poll_media(username, path.rsplit("/", 1)[-1]))
            return self.reply(404, {"error": "Record not found"})

        def do_GET(self) -> None:
            self.handle_one("GET")

        def do_POST(self) -> None:
            self.handle_one("POST")

    return Handler
