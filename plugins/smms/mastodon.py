"""The `mastodon` connection type: a Mastodon account reached with an access token (REST API v1/v2).

Posting uses `POST /api/v1/statuses` with an `Idempotency-Key` header, which Mastodon honours (it keeps
the key an hour per account), so a request the server already acted on (its answer lost, or replayed by
the outbound client after a 5xx/429) returns the same status instead of a second one: the create is
declared idempotent to the outbound client. The media upload has no such key and is not replayed. An image
goes first through `POST /api/v2/media` with its description (alt text).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from beffroi import ActionContext, ActionError, Image, Limit, Post

from .channel import failure, json_of, pause, send
from .limits import MASTODON_MEDIA, mastodon_limit

NETWORK = "Mastodon"


class MastodonConfig(BaseModel):
    """A Mastodon account: its server's address and an access token (scopes `write:statuses`, `write:media`)."""

    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(pattern=r"^https?://[^/\s]+",
                          description="address of the Mastodon server, e.g. https://mastodon.social")
    access_token: SecretStr = Field(description="access token of an application (Preferences → Development) "
                                                "with write:statuses and write:media")
    max_characters: int = Field(500, ge=1, le=100_000, description="the server's post length limit (500 unless "
                                                                   "the server was configured otherwise)")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def channel(self, account: str) -> MastodonChannel:
        """This account as a Channel for smms.publish."""
        return MastodonChannel(account, self)


class MastodonChannel:
    """Posts statuses on one Mastodon account."""

    network = "mastodon"
    needs_image_bytes = True
    media = MASTODON_MEDIA

    def __init__(self, account: str, config: MastodonConfig):
        self.account, self.config = account, config
        self.limit: Limit = mastodon_limit(config.max_characters)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.access_token.get_secret_value()}", "Accept": "application/json"}

    def details(self, text: str) -> dict[str, Any]:
        """Nothing more to show: Mastodon finds links and hashtags itself."""
        return {}

    def publish(self, post: Post, ctx: ActionContext) -> dict[str, Any]:
        """Upload the image if any, then create the status; returns its id and public address."""
        body: dict[str, Any] = {"status": post.text, "visibility": "public"}
        if post.language:
            body["language"] = post.language
        if post.images:
            body["media_ids"] = [self._upload(image, ctx) for image in post.images]
        headers = {**self._headers(), "Idempotency-Key": f"{ctx.idempotency_key}:{self.account}"}
        response = send(ctx, self.account, NETWORK, "POST", f"{self.config.base_url}/api/v1/statuses",
                        json=body, headers=headers, idempotent=True)
        if response.status_code != 200:
            raise failure(self.account, NETWORK, response, "publish the post")
        status = json_of(response, self.account, NETWORK)
        return {"id": str(status.get("id")), "url": status.get("url") or status.get("uri")}

    def _upload(self, image: Image, ctx: ActionContext) -> str:
        """Upload the image with its description; waits (within the step's time) until the server processed it."""
        response = send(ctx, self.account, NETWORK, "POST", f"{self.config.base_url}/api/v2/media",
                        headers=self._headers(), data={"description": image.alt},
                        files={"file": (image.filename, image.data, image.mime_type)})
        if response.status_code not in (200, 202):
            raise failure(self.account, NETWORK, response, "upload the image")
        media = json_of(response, self.account, NETWORK)
        media_id = str(media.get("id"))
        # 202: processed in the background; the media answers 206 until it is ready, then 200 with its url.
        delay = 0.2
        while response.status_code != 200 or media.get("url") is None:
            if not pause(ctx, delay):
                raise ActionError(f"{self.account}: {NETWORK} is still processing the image; try again later")
            delay = min(delay * 2, 3.0)
            response = send(ctx, self.account, NETWORK, "GET", f"{self.config.base_url}/api/v1/media/{media_id}",
                            headers=self._headers())
            if response.status_code not in (200, 206):
                raise failure(self.account, NETWORK, response, "upload the image")
            media = json_of(response, self.account, NETWORK) if response.status_code == 200 else {}
        return media_id


def test(config: MastodonConfig, ctx: ActionContext) -> str:
    """Check the token by asking the server whose it is (`GET /api/v1/accounts/verify_credentials`)."""
    account = ctx.connection.name if ctx.connection is not None else "mastodon"
    channel = MastodonChannel(account, config)
    response = send(ctx, account, NETWORK, "GET", f"{config.base_url}/api/v1/accounts/verify_credentials",
                    headers=channel._headers())
    if response.status_code != 200:
        raise failure(account, NETWORK, response, "sign in")
    who = json_of(response, account, NETWORK)
    return f"signed in on {config.base_url} as @{who.get('acct') or who.get('username')}"
