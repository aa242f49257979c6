"""A push notification: what `mcms.push` takes, its link with UTM parameters and click-through, and the lengths
that common platforms show."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

TOPIC = r"^[a-z0-9][a-z0-9-]{0,99}$"
WEB_URL = r"^https?://[^/\s]+\S*$"
# Web Push carries at most 4096 bytes: 86 of header, 16 of tag, 1 of padding delimiter (RFC 8188, RFC 8291)
MAX_PAYLOAD = 4096 - 86 - 16 - 1

# What a notification shows before it is cut (characters), as the platforms' guidelines and tests put it
PLATFORM_LIMITS = {
    "android": {"title": 65, "body": 240},
    "ios": {"title": 50, "body": 178},
    "windows": {"title": 60, "body": 120},
    "macos": {"title": 40, "body": 90},
}


class Notification(BaseModel):
    """A push notification to the subscribers of a topic."""

    model_config = ConfigDict(extra="forbid")
    topic: str = Field("news", pattern=TOPIC, description="Topic the subscribers chose, e.g. news or works")
    title: str = Field(min_length=1, max_length=200, description="Title of the notification (short: most phones "
                                                                  "show about 50 characters)")
    body: str = Field(min_length=1, max_length=1000, description="Text of the notification (most phones show "
                                                                 "about 120 characters)")
    url: str | None = Field(None, max_length=2000, pattern=WEB_URL,
                            description="Page opened when the notification is tapped (https://…)")
    campaign: str | None = Field(None, max_length=200, description="Campaign name for the link's utm_campaign "
                                                                   "(the recipe's name when empty)")
    urgency: Literal["very-low", "low", "normal", "high"] = Field("normal", description="How urgently phones "
                                                                                        "should show it")
    ttl: int = Field(86400, ge=0, le=28 * 86400, description="Seconds the push service keeps it for a phone "
                                                              "that is offline")
    concurrency: int = Field(16, ge=1, le=64, description="Web Push: messages sent at the same time")


def tagged_link(url: str, medium: str, campaign: str) -> str:
    """The link with utm_source=app, utm_medium and utm_campaign added (parameters already there are kept)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name, value in (("utm_source", "app"), ("utm_medium", medium), ("utm_campaign", campaign)):
        query.setdefault(name, value)
    return urlunsplit(parts._replace(query=urlencode(query)))


def click_url(ctx: Any, link: str, topic: str, campaign: str) -> str:
    """The click-through address that counts the tap and sends the reader on to `link`."""
    token = ctx.signer.sign({"u": link, "t": topic, "c": campaign})
    return f"{ctx.public_url.rstrip('/')}/push/c/{token}"


def message(note: Notification, ctx: Any, medium: str) -> dict[str, Any]:
    """What a subscriber receives: title, body, the link (click-through, with UTM), topic and a tag."""
    link = None
    if note.url:
        campaign = note.campaign or ctx.recipe
        link = click_url(ctx, tagged_link(note.url, medium, campaign), note.topic, campaign)
    # the same tag for every attempt of a step: a repeated message replaces the first instead of alerting twice
    tag = hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:16]
    return {"title": note.title, "body": note.body, "url": link, "topic": note.topic, "tag": tag}


def payload_bytes(content: dict[str, Any]) -> bytes:
    """The message as the service worker reads it (JSON, UTF-8)."""
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def lengths(note: Notification) -> list[dict[str, Any]]:
    """The title's and body's length against what each common platform shows."""
    title, body = len(note.title), len(note.body)
    return [{"platform": name, "title_length": title, "title_limit": limit["title"], "body_length": body,
             "body_limit": limit["body"], "fits": title <= limit["title"] and body <= limit["body"]}
            for name, limit in PLATFORM_LIMITS.items()]


def warnings(note: Notification, size: int) -> list[str]:
    """What the officer should shorten, in plain words."""
    found = []
    cut = [row["platform"] for row in lengths(note) if not row["fits"]]
    if cut:
        found.append(f"cut on {', '.join(cut)}: keep the title under {min(PLATFORM_LIMITS[p]['title'] for p in cut)} "
                     f"and the text under {min(PLATFORM_LIMITS[p]['body'] for p in cut)} characters")
    if size > MAX_PAYLOAD:
        found.append(f"the message is {size} bytes; Web Push carries at most {MAX_PAYLOAD}: shorten the text")
    return found
