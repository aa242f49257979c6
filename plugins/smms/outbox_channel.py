"""The `smms_outbox` connection type: records what would have been published, publishes nothing.

It is the zero-setup default (a `smms.publish` step without a connection uses it), so a new user sees the
exact per-account text a recipe produces before any account is connected. Everything it returns is
labelled `"outbox": true`; it has no public address.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from beffroi import ActionContext, Limit, MediaRule, Post, record_outbox

from .limits import BLUESKY, mastodon_limit

DEFAULT_ACCOUNT = "outbox"
_REFERENCE_LIMITS = {"mastodon": mastodon_limit(), "bluesky": BLUESKY}


class OutboxConfig(BaseModel):
    """No settings: posts are kept in Beffroi's outbox for review (see the outbox in the API)."""

    model_config = ConfigDict(extra="forbid")

    def channel(self, account: str) -> OutboxChannel:
        """This outbox as a Channel for smms.publish."""
        return OutboxChannel(account)


class OutboxChannel:
    """Keeps each post in the outbox (channel `smms`) instead of publishing it."""

    network = "outbox"
    needs_image_bytes = False
    limit: Limit | None = None
    media: MediaRule | None = None

    def __init__(self, account: str = DEFAULT_ACCOUNT):
        self.account = account

    def details(self, text: str) -> dict[str, Any]:
        """How the text would measure on each network, so the outbox also says what would not fit."""
        return {"outbox": True, "networks": {
            name: {"count": limit.count(text), "limit": limit.maximum, "unit": limit.unit,
                   "within_limit": limit.count(text) <= limit.maximum}
            for name, limit in _REFERENCE_LIMITS.items()}}

    def publish(self, post: Post, ctx: ActionContext) -> dict[str, Any]:
        """Record the post in the outbox (once per step and account, even when retried)."""
        payload = {"account": self.account, "text": post.text, "language": post.language,
                   "image_url": post.image_url, "image_alt": post.image_alt if post.image_url else None,
                   "images": [image.facts() for image in post.images],  # what they are, never their bytes
                   **self.details(post.text)}
        item = record_outbox(ctx.db, channel="smms", connection=self.account, run_id=ctx.run_id or None,
                             key=f"{ctx.idempotency_key}:{self.account}", payload=payload)
        return {"id": str(item), "url": None, "outbox": True}
