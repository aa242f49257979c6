"""A local AT Protocol PDS for tests: the XRPC endpoints a Bluesky publisher uses, as the lexicons define them.

- `com.atproto.server.createSession {identifier, password}` → `{accessJwt, refreshJwt, did, handle}`;
  wrong credentials: 401 `{"error": "AuthenticationRequired", "message": "Invalid identifier or password"}`.
  The tokens are JWTs (`sub` the did, `scope`, `exp`) like the PDS's; an expired access token is refused with
  400 `ExpiredToken`. `expire_access_tokens()` makes every token issued so far expire (time passing, without
  waiting), `revoke_refresh_tokens()` makes their refresh tokens unusable (a revoked app password session).
- `com.atproto.server.refreshSession` with `Bearer refreshJwt` → a new `{accessJwt, refreshJwt, did, handle}`;
  the refresh token is used up (rotated); an unknown, used or revoked one: 400 `ExpiredToken`/`InvalidToken`.
- `com.atproto.repo.createRecord {repo, collection, rkey?, record}` with `Bearer accessJwt` →
  `{uri, cid}`. The post is validated like the PDS and the AppView do: `$type`, `createdAt`, text at most
  300 graphemes and 3000 bytes, `langs`, image embeds referencing uploaded blobs, and every facet: its
  `byteStart`/`byteEnd` are UTF-8 byte offsets that must cut the text on character boundaries, and the
  bytes they cover must be the link's `uri` (`#link`) or `#` + the tag (`#tag`). A taken `rkey` fails as in
  the reference PDS (500, the repository refuses a second value at the same key).
- `com.atproto.repo.uploadBlob` (raw bytes) → `{blob}`; at most 1,000,000 bytes.
- `com.atproto.repo.getRecord?repo&collection&rkey` → `{uri, cid, value}` or 400 `RecordNotFound`.
- `fail(method, status, ...)` queues failures; `after_create` stores the record and then fails (a lost answer);
  `hang` makes createSession wait (a server that does not answer in time); while `sessions_open` is clear,
  createSession waits for it (after setting `session_asked`), so a test can hold the first sign-in open.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import regex

from .http_base import LocalServer, QuietHandler, sniff

_TID = regex.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_LINK, _TAG = "app.bsky.richtext.facet#link", "app.bsky.richtext.facet#tag"


class XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


class BlueskyServer(LocalServer):
    """Start with `with BlueskyServer() as server:`; `server.url` is the PDS address (the connection's `service`)."""

    def __init__(self, accounts: dict[str, str] | None = None):
        self.accounts = accounts or {"city.bsky.social": "app-pass-1234"}  # handle → app password
        self.dids = {handle: f"did:plc:{hashlib.sha256(handle.encode()).hexdigest()[:24]}" for handle in self.accounts}
        self.sessions: dict[str, str] = {}  # accessJwt → did (valid ones)
        self.refresh_tokens: dict[str, str] = {}  # refreshJwt → did (unused, unrevoked ones)
        self.expired: set[str] = set()  # access tokens past their exp
        self.sessions_open = threading.Event()
        self.sessions_open.set()
        self.session_asked = threading.Event()
        self.records: dict[str, dict] = {}  # at:// uri → record
        self.blobs: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.failures: list[dict] = []
        self.hang = threading.Event()  # set: createSession waits for `release` (a server that does not answer)
        self._lock = threading.Lock()
        super().__init__(_handler(self))

    def fail(self, method: str, status: int, *, times: int = 1, error: str = "InternalServerError",
             retry_after: str | None = None, after_create: bool = False) -> None:
        """Answer the next `times` calls of an XRPC method with this status and error name."""
        self.failures.append({"method": method, "status": status, "times": times, "error": error,
                              "retry_after": retry_after, "after_create": after_create})

    def posts(self) -> list[dict]:
        """The post records stored, in creation order."""
        return [r for uri, r in self.records.items() if "/app.bsky.feed.post/" in uri]

    def calls(self, method: str) -> list[dict]:
        """The requests received for an XRPC method, in order (with their monotonic time)."""
        return [r for r in self.requests if r["method"] == method]

    def _failure(self, method: str) -> dict | None:
        with self._lock:
            for failure in self.failures:
                if failure["method"] == method and failure["times"] > 0:
                    failure["times"] -= 1
                    return failure
        return None

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is now past its `exp` (as if its 2 hours had gone by)."""
        with self._lock:
            self.expired.update(self.sessions)
            self.sessions.clear()

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far is refused from now on."""
        with self._lock:
            self.refresh_tokens.clear()

    def _issue(self, did: str, handle: str) -> dict:
        now = int(time.time())
        access = _jwt({"scope": "com.atproto.appPass", "sub": did, "iat": now, "exp": now + 7200})
        refresh = _jwt({"scope": "com.atproto.refresh", "sub": did, "iat": now, "exp": now + 90 * 86400,
                        "jti": secrets.token_urlsafe(16)})
        with self._lock:
            self.sessions[access] = did
            self.refresh_tokens[refresh] = did
        return {"accessJwt": access, "refreshJwt": refresh, "did": did, "handle": handle, "active": True}

    # -- XRPC methods ------------------------------------------------------------------------
    def create_session(self, body: dict, auth: str | None) -> dict:
        handle = str(body.get("identifier") or "").removeprefix("@")
        if not handle or "password" not in body:
            raise XrpcError(400, "InvalidRequest", "Input must have the property \"identifier\" and \"password\"")
        if self.accounts.get(handle) != body["password"]:
            raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
        return self._issue(self.dids[handle], handle)

    def refresh_session(self, auth: str | None) -> dict:
        if not auth or not auth.startswith("Bearer "):
            raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
        token = auth[7:]
        if token in self.sessions or token in self.expired:
            raise XrpcError(400, "InvalidToken", "Invalid token type")
        with self._lock:
            did = self.refresh_tokens.pop(token, None)  # rotated: each refresh token works once
        if did is None:
            raise XrpcError(400, "ExpiredToken", "Token has been revoked")
        return self._issue(did, next(h for h, d in self.dids.items() if d == did))

    def _did(self, auth: str | None) -> str:
        if not auth or not auth.startswith("Bearer "):
            raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
        did = self.sessions.get(auth[7:])
        if did is None and auth[7:] in self.expired:
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        if did is None:
            raise XrpcError(400, "InvalidToken", "Token could not be verified")
        return did

    def upload_blob(self, data: bytes, mime_type: str, auth: str | None) -> dict:
        self._did(auth)
        if len(data) > 1_000_000:
            raise XrpcError(400, "BlobTooLarge", "This file is too large. The maximum size is 976.56 KB.")
        cid = "bafkrei" + base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime_type, "size": len(data)}
        self.blobs[cid] = {"blob": blob, "data": data}
        return {"blob": blob}

    def create_record(self, body: dict, auth: str | None) -> dict:
        did = self._did(auth)
        if body.get("repo") not in (did, *[h for h, d in self.dids.items() if d == did]):
            raise XrpcError(400, "InvalidRequest", "Can not create a record in another account's repository")
        collection, record = body.get("collection"), body.get("record")
        if collection != "app.bsky.feed.post" or not isinstance(record, dict):
            raise XrpcError(400, "InvalidRequest", "Input must have the properties \"collection\" and \"record\"")
        validate_post(record, self.blobs)
        rkey = body.get("rkey")
        if rkey is None:
            rkey = _tid_now()
        elif not _TID.match(rkey):
            raise XrpcError(400, "InvalidRequest", f"Invalid record key: {rkey}")
        uri = f"at://{did}/{collection}/{rkey}"
        with self._lock:
            if uri in self.records:
                raise XrpcError(500, "InternalServerError", "Internal Server Error")
            self.records[uri] = record
        return {"uri": uri, "cid": "bafyrei" + hashlib.sha256(json.dumps(record).encode()).hexdigest()[:40]}

    def get_record(self, query: dict) -> dict:
        uri = f"at://{query.get('repo')}/{query.get('collection')}/{query.get('rkey')}"
        if uri not in self.records:
            raise XrpcError(400, "RecordNotFound", f"Could not locate record: {uri}")
        return {"uri": uri, "cid": "bafyrei", "value": self.records[uri]}


def validate_post(record: dict, blobs: dict) -> None:
    """app.bsky.feed.post rules, facets checked byte by byte."""
    if record.get("$type") != "app.bsky.feed.post":
        raise XrpcError(400, "InvalidRequest", "Invalid app.bsky.feed.post record: $type")
    text = record.get("text")
    if not isinstance(text, str):
        raise XrpcError(400, "InvalidRequest", "Record/text must be a string")
    data = text.encode("utf-8")
    if len(regex.findall(r"\X", text)) > 300 or len(data) > 3000:
        raise XrpcError(400, "InvalidRequest", "Record/text must not be longer than 300 graphemes")
    try:
        datetime.fromisoformat(str(record.get("createdAt")).replace("Z", "+00:00"))
    except ValueError:
        raise XrpcError(400, "InvalidRequest", "Record/createdAt must be an valid atproto datetime") from None
    langs = record.get("langs", [])
    if (not isinstance(langs, list) or len(langs) > 3
            or not all(regex.fullmatch(r"[a-z]{2,3}(-\w+)*", x) for x in langs)):
        raise XrpcError(400, "InvalidRequest", "Record/langs must be a list of language codes")
    for position, facet in enumerate(record.get("facets", [])):
        where = f"Record/facets/{position}"
        index, features = facet.get("index") or {}, facet.get("features") or []
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data)) or not features:
            raise XrpcError(400, "InvalidRequest", f"{where}/index is out of the text")
        try:
            covered = data[start:end].decode("utf-8")
        except UnicodeDecodeError:
            raise XrpcError(400, "InvalidRequest", f"{where}/index cuts a character in two") from None
        for feature in features:
            kind = feature.get("$type")
            if kind == _LINK and covered != feature.get("uri"):
                raise XrpcError(400, "InvalidRequest", f"{where} covers {covered!r}, not {feature.get('uri')!r}")
            if kind == _TAG and (covered != "#" + str(feature.get("tag")) or str(feature.get("tag")).startswith("#")):
                raise XrpcError(400, "InvalidRequest", f"{where} covers {covered!r}, not #{feature.get('tag')}")
            if kind not in (_LINK, _TAG, "app.bsky.richtext.facet#mention"):
                raise XrpcError(400, "InvalidRequest", f"{where}/features has an unknown $type {kind!r}")
    embed = record.get("embed")
    if embed is not None:
        images = embed.get("images") if embed.get("$type") == "app.bsky.embed.images" else None
        if not images or len(images) > 4:
            raise XrpcError(400, "InvalidRequest", "Record/embed must be app.bsky.embed.images with 1 to 4 images")
        for image in images:
            ref = ((image.get("image") or {}).get("ref") or {}).get("$link")
            if ref not in blobs or not isinstance(image.get("alt"), str):
                raise XrpcError(400, "InvalidRequest", "Record/embed/images needs an uploaded blob and an alt text")
            if sniff(blobs[ref]["data"]) is None:  # the PDS reads the blob: an image embed must hold an image
                raise XrpcError(400, "InvalidRequest", "Record/embed/images/image must be an image")


def _jwt(claims: dict) -> str:
    """A JWT-shaped token (the signature is random: only this server checks it, by lookup)."""
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'typ': 'at+jwt', 'alg': 'HS256'})}.{part(claims)}.{secrets.token_urlsafe(32)}"


def _tid_now() -> str:
    number = (time.time_ns() // 1000) << 10
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    return "".join(alphabet[(number >> shift) & 31] for shift in range(60, -1, -5))


def _handler(server: BlueskyServer):
    class Handler(QuietHandler):
        def handle_one(self, verb: str) -> None:
            parts = urlsplit(self.path)
            method = parts.path.removeprefix("/xrpc/")
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if verb == "POST" else b""
            server.requests.append({"method": method, "time": time.monotonic()})
            auth = self.headers.get("Authorization")
            failure = server._failure(method)
            try:
                if failure and not failure["after_create"]:
                    headers = {"Retry-After": failure["retry_after"]} if failure["retry_after"] else {}
                    return self.reply(failure["status"], {"error": failure["error"], "message": "Injected failure"},
                                      headers)
                if verb == "GET" and method == "com.atproto.repo.getRecord":
                    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                    return self.reply(200, server.get_record(query))
                if verb == "POST" and method == "com.atproto.repo.uploadBlob":
                    return self.reply(200, server.upload_blob(raw, self.headers.get("Content-Type", ""), auth))
                if verb == "POST" and method == "com.atproto.server.refreshSession":
                    return self.reply(200, server.refresh_session(auth))
                if verb != "POST" or method not in ("com.atproto.server.createSession",
                                                    "com.atproto.repo.createRecord"):
                    return self.reply(501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    raise XrpcError(400, "InvalidRequest", "Request body is not JSON") from None
                if method == "com.atproto.server.createSession":
                    if server.hang.is_set():
                        server.release.wait(10)
                    server.session_asked.set()
                    server.sessions_open.wait(10)
                    return self.reply(200, server.create_session(body, auth))
                created = server.create_record(body, auth)
                if failure:  # stored, then the answer is lost
                    return self.reply(failure["status"], {"error": failure["error"], "message": "Injected failure"})
                return self.reply(200, created)
            except XrpcError as exc:
                return self.reply(exc.status, {"error": exc.error, "message": exc.message})

        def do_GET(self) -> None:
            self.handle_one("GET")

        def do_POST(self) -> None:
            self.handle_one("POST")

    return Handler
