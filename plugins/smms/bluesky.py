"""The `bluesky` connection type: an account on Bluesky or any AT Protocol PDS, signed in with an app password.

Posting is `com.atproto.repo.createRecord` of an `app.bsky.feed.post` whose links and hashtags carry
facets at UTF-8 byte offsets; an image goes through `com.atproto.repo.uploadBlob` into an
`app.bsky.embed.images` embed with its alt text. The session comes from `bluesky_session`: one
`createSession` per connection, renewed with `refreshSession` when the PDS answers `ExpiredToken`.

XRPC has no idempotency header, so a retried step must not post twice by other means: the step's delivery
journal first, and a record key (`rkey`) computed from the step, so that the same post always gets the same
key. Creating it again fails instead of making a second post, and `getRecord` tells whether an attempt whose
answer was lost did post.
"""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from beffroi import ActionContext, ActionError, Image, Limit, Post

from .bluesky_session import SESSIONS, Session, fingerprint
from .channel import failure, json_of, send, server_message
from .limits import BLUESKY, BLUESKY_MEDIA
from .richtext import facets

NETWORK = "Bluesky"
POST = "app.bsky.feed.post"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_REFUSED = {"AuthenticationRequired", "AuthFactorTokenRequired", "AccountTakedown", "InvalidToken"}
_EXPIRED = "ExpiredToken"
IMAGE_MAX_BYTES = BLUESKY_MEDIA.max_bytes  # app.bsky.embed.images accepts blobs up to this size


class BlueskyConfig(BaseModel):
    """A Bluesky account: its handle and an app password (Settings → Privacy and security → App passwords)."""

    model_config = ConfigDict(extra="forbid")
    service: str = Field("https://bsky.social", pattern=r"^https?://[^/\s]+",
                         description="address of the account's server (PDS); https://bsky.social for most accounts")
    handle: str = Field(min_length=3, description="the account's handle, e.g. city.bsky.social")
    app_password: SecretStr = Field(description="an app password (never the account's main password)")

    @field_validator("service")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("handle")
    @classmethod
    def _bare_handle(cls, value: str) -> str:
        return value.strip().removeprefix("@")

    def channel(self, account: str) -> BlueskyChannel:
        """This account as a Channel for smms.publish."""
        return BlueskyChannel(account, self)

    def fingerprint(self) -> str:
        """What a kept session depends on, hashed: a changed handle or app password starts a new session."""
        return fingerprint(self.service, self.handle, self.app_password.get_secret_value())


class _Expired(Exception):
    """The PDS answered ExpiredToken: the access token must be renewed (not an ActionError: handled here)."""


def record_key(ctx: ActionContext, account: str) -> str:
    """A TID record key that is the same for every attempt of one step on one account.

    Its time part is when the step first started (plus up to a second drawn from the idempotency key,
    so the posts of a loop differ), its clock id comes from the same hash.
    """
    started = ctx.started_at or datetime.now(UTC)
    if started.tzinfo is None:  # journal times are UTC
        started = started.replace(tzinfo=UTC)
    digest = int.from_bytes(hashlib.sha256(f"{ctx.idempotency_key}:{account}".encode()).digest()[:8], "big")
    micros = int(started.timestamp()) * 1_000_000 + started.microsecond + (digest & 0xFFFFF)
    number = (micros << 10) | ((digest >> 20) & 0x3FF)
    return "".join(_TID_ALPHABET[(number >> shift) & 31] for shift in range(60, -1, -5))


class BlueskyChannel:
    """Posts on one Bluesky account."""

    network = "bluesky"
    needs_image_bytes = True
    limit: Limit = BLUESKY
    media = BLUESKY_MEDIA

    def __init__(self, account: str, config: BlueskyConfig):
        self.account, self.config = account, config

    def _xrpc(self, method: str) -> str:
        return f"{self.config.service}/xrpc/{method}"

    def details(self, text: str) -> dict[str, Any]:
        """The facets that make the links and hashtags of this text clickable."""
        return {"facets": facets(text)}

    def sign_in(self, ctx: ActionContext) -> Session:
        """A new session (`createSession`). Refused credentials are not retried."""
        response = send(ctx, self.account, NETWORK, "POST", self._xrpc("com.atproto.server.createSession"),
                        json={"identifier": self.config.handle,
                              "password": self.config.app_password.get_secret_value()})
        if response.status_code == 200:
            session = self._session_of(response)
            if session is not None:
                return session
        error = _error_name(response)
        if response.status_code == 401 or error in _REFUSED:
            raise ActionError(f"{self.account}: {NETWORK} refused the credentials for @{self.config.handle} "
                              f"({server_message(response)}); check the handle and the app password",
                              retryable=False)
        raise failure(self.account, NETWORK, response, "sign in")

    def _refresh(self, ctx: ActionContext, stale: Session) -> Session | None:
        """The session renewed with its refresh token (`refreshSession`); None when the PDS refuses that token."""
        response = send(ctx, self.account, NETWORK, "POST", self._xrpc("com.atproto.server.refreshSession"),
                        headers={"Authorization": f"Bearer {stale.refresh}"})
        if response.status_code == 200:
            return self._session_of(response)
        if response.status_code in (400, 401):  # expired or revoked refresh token: sign in again
            return None
        raise failure(self.account, NETWORK, response, "renew the session")

    def _session_of(self, response) -> Session | None:
        body = json_of(response, self.account, NETWORK)
        if not (body.get("accessJwt") and body.get("refreshJwt") and body.get("did")):
            return None
        return Session(access=str(body["accessJwt"]), refresh=str(body["refreshJwt"]), did=str(body["did"]),
                       handle=str(body.get("handle") or self.config.handle))

    def publish(self, post: Post, ctx: ActionContext) -> dict[str, Any]:
        """Upload the image if any, create the post record; returns its at:// uri and bsky.app address.

        Uses the connection's kept session; an expired one is renewed once and the post tried again
        (the PDS refuses an expired token before acting, so nothing was created).
        """
        key = self.config.fingerprint()
        session = SESSIONS.get(self.account, key, lambda: self.sign_in(ctx))
        try:
            return self._post(post, ctx, session)
        except _Expired:
            session = SESSIONS.renew(self.account, key, session, lambda stale: self._refresh(ctx, stale),
                                     lambda: self.sign_in(ctx))
        try:
            return self._post(post, ctx, session)
        except _Expired:
            raise ActionError(f"{self.account}: the {NETWORK} session expired again as soon as it was renewed; "
                              "is the server's clock right?") from None

    def _post(self, post: Post, ctx: ActionContext, session: Session) -> dict[str, Any]:
        """Create the post with this session; raises _Expired when its access token is no longer valid."""
        did, handle = session.did, session.handle
        auth = {"Authorization": f"Bearer {session.access}"}
        record: dict[str, Any] = {"$type": POST, "text": post.text,
                                  "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds")
                                  .replace("+00:00", "Z")}
        found = facets(post.text)
        if found:
            record["facets"] = found
        if post.language:
            record["langs"] = [post.language]
        if post.images:
            record["embed"] = {"$type": "app.bsky.embed.images",
                               "images": [{"alt": image.alt, "image": self._upload(image, ctx, auth)}
                                          for image in post.images]}
        rkey = record_key(ctx, self.account)
        if ctx.attempt > 1:  # a replay: an earlier attempt may have posted (the real PDS answers a taken key 500)
            existing = self._existing(did, rkey, post.text, ctx, auth)
            if existing is not None:
                return self._result(existing, handle)
        # XRPC ignores Idempotency-Key, so the create is not replayed after a 5xx (the step's retry looks
        # for the record first); the PDS rate limiter answers 429 before the create runs, so that is resent.
        response = _checked(send(ctx, self.account, NETWORK, "POST", self._xrpc("com.atproto.repo.createRecord"),
                                 json={"repo": did, "collection": POST, "rkey": rkey, "record": record},
                                 headers=auth, resend_on_429=True))
        if response.status_code == 200:
            created = json_of(response, self.account, NETWORK)
            return self._result(str(created.get("uri") or f"at://{did}/{POST}/{rkey}"), handle)
        if response.status_code == 401 or _error_name(response) in _REFUSED:
            raise failure(self.account, NETWORK, response, "publish the post")
        # An earlier attempt may have created it (its answer lost): then this one failed on the taken key.
        existing = self._existing(did, rkey, post.text, ctx, auth)
        if existing is not None:
            return self._result(existing, handle)
        raise failure(self.account, NETWORK, response, "publish the post")

    def _result(self, uri: str, handle: str) -> dict[str, Any]:
        return {"id": uri, "url": f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}"}

    def _existing(self, did: str, rkey: str, text: str, ctx: ActionContext, auth: dict) -> str | None:
        """The uri of our post under this key when it exists already (same text), else None."""
        try:
            response = send(ctx, self.account, NETWORK, "GET", self._xrpc("com.atproto.repo.getRecord"),
                            params={"repo": did, "collection": POST, "rkey": rkey}, headers=auth)
        except ActionError:
            return None
        if response.status_code != 200:
            return None
        body = json_of(response, self.account, NETWORK)
        value = found if isinstance(found := body.get("value"), dict) else {}
        return str(body.get("uri") or f"at://{did}/{POST}/{rkey}") if value.get("text") == text else None

    def _upload(self, image: Image, ctx: ActionContext, auth: dict) -> dict[str, Any]:
        """Upload the image bytes (`uploadBlob`); returns the blob reference for the embed."""
        if len(image.data) > IMAGE_MAX_BYTES:
            raise ActionError(f"{self.account}: the image is {len(image.data) / 1e6:.1f} MB, over {NETWORK}'s "
                              f"limit of {IMAGE_MAX_BYTES / 1e6:g} MB per image", retryable=False)
        response = _checked(send(ctx, self.account, NETWORK, "POST", self._xrpc("com.atproto.repo.uploadBlob"),
                                 content=image.data, headers={**auth, "Content-Type": image.mime_type}))
        if response.status_code != 200:
            raise failure(self.account, NETWORK, response, "upload the image")
        blob = json_of(response, self.account, NETWORK).get("blob")
        if not isinstance(blob, dict):
            raise ActionError(f"{self.account}: {NETWORK} sent an unexpected answer to the image upload",
                              retryable=False)
        return blob


def _error_name(response) -> str:
    """The XRPC error name (`AuthenticationRequired`, `ExpiredToken`, …) of an answer, or ''."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error") or "") if isinstance(body, dict) else ""


def _checked(response):
    """The answer, unless the PDS refused the access token as expired (then _Expired)."""
    if response.status_code in (400, 401) and _error_name(response) == _EXPIRED:
        raise _Expired()
    return response


def test(config: BlueskyConfig, ctx: ActionContext) -> str:
    """Check the handle and app password by signing in (`createSession`, always afresh: that is the check)."""
    account = ctx.connection.name if ctx.connection is not None else "bluesky"
    session = BlueskyChannel(account, config).sign_in(ctx)
    return f"signed in on {config.service} as @{session.handle}"
