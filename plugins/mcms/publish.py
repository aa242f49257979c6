"""`mcms.publish_item`: a news item in the built-in app feed, stored once per step even when retried."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from beffroi import ActionError, ActionSpec

from . import items
from .render import feed_urls, json_item

FEED_NAME = r"^[a-z0-9][a-z0-9-]{0,99}$"
WEB_URL = r"^https?://[^/\s]+\S*$"


class NewItem(BaseModel):
    """A news item for the city app's feed."""

    model_config = ConfigDict(extra="forbid")
    feed: str = Field("news", pattern=FEED_NAME, description="The feed (topic) it appears in, e.g. news or works: "
                                                             "lowercase letters, digits and dashes")
    title: str = Field(min_length=1, max_length=300, description="Title of the item")
    text: str = Field(min_length=1, max_length=20000, description="Text of the item (plain text)")
    url: str | None = Field(None, max_length=2000, pattern=WEB_URL, description="Link to read more (https://…)")
    image_url: str | None = Field(None, max_length=2000, pattern=WEB_URL, description="Address of an image (https://…)")
    image_alt: str | None = Field(None, max_length=1000, description="What the image shows, for people who cannot "
                                                                     "see it (required with an image)")
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
                                 description="Language of the item, e.g. fr or nl-BE")
    publish_at: datetime | None = Field(None, description="When it appears in the feed (ISO 8601; now when empty)")
    expire_at: datetime | None = Field(None, description="When it leaves the feed (ISO 8601; never when empty)")

    @model_validator(mode="after")
    def _consistent(self) -> NewItem:
        if self.image_url and not (self.image_alt or "").strip():
            raise ValueError("image_alt: describe the image for people who cannot see it")
        if self.image_alt and not self.image_url:
            raise ValueError("image_alt: there is no image_url to describe")
        if self.expire_at and self.publish_at and items.as_utc(self.expire_at) <= items.as_utc(self.publish_at):
            raise ValueError("expire_at: must be later than publish_at")
        return self


class PublishedItem(BaseModel):
    """The stored item and where the app reads it."""

    id: str = Field(description="The item's id in the feed")
    feed: str = Field(description="The feed it appears in")
    json_url: str = Field(description="Public address of the feed as JSON Feed")
    rss_url: str = Field(description="Public address of the feed as RSS")
    published_at: str = Field(description="When it appears (ISO 8601, UTC)")
    expires_at: str | None = Field(description="When it leaves the feed (ISO 8601, UTC), if ever")
    visible: bool = Field(description="True when the feed shows it now")
    item: dict[str, Any] = Field(description="The item exactly as the JSON Feed shows it")


def _values(payload: NewItem, now: datetime) -> dict[str, Any]:
    published = items.as_utc(payload.publish_at) if payload.publish_at else now
    expires = items.as_utc(payload.expire_at) if payload.expire_at else None
    if expires is not None and expires <= published:
        raise ActionError("expire_at is not later than the publish time (now): the item would never be shown",
                          retryable=False)
    return {"feed": payload.feed, "title": payload.title, "text": payload.text, "url": payload.url,
            "image_url": payload.image_url, "image_alt": payload.image_alt, "language": payload.language,
            "published_at": published, "expires_at": expires}


def _output(item: items.Item, ctx: Any, now: datetime) -> dict[str, Any]:
    urls = feed_urls(ctx.public_url, item.feed)
    return {"id": item.id, "feed": item.feed, "json_url": urls["json"], "rss_url": urls["rss"],
            "published_at": item.published_at.isoformat(),
            "expires_at": item.expires_at.isoformat() if item.expires_at else None,
            "visible": item.visible(now), "item": json_item(item)}


def run(payload: NewItem, ctx: Any) -> dict[str, Any]:
    """Store the item (once per step: a retried step finds the one it stored)."""
    now = ctx.clock()  # the engine's (a simulated clock in rehearsals)
    item, _created = items.store(ctx.db, ctx.idempotency_key, _values(payload, now))
    return _output(item, ctx, now)


def preview(payload: NewItem, ctx: Any) -> dict[str, Any]:
    """The item as the feed would show it; nothing is stored (its id is a placeholder)."""
    now = ctx.clock()
    item = items.Item(id="preview", **_values(payload, now))
    return {**_output(item, ctx, now), "would_publish": {"feed": item.feed, "item": json_item(item)}}


SPEC = ActionSpec(
    key="mcms.publish_item", title="Publish a news item in the app feed", input_model=NewItem,
    output_model=PublishedItem, run=run, preview=preview,
    description="Adds a news item (title, text, image with its description, link) to the city app's built-in "
                "feed, read by the app or a website widget as JSON Feed or RSS, between its publish and expire "
                "times.")
