"""The social-media tool type's contract: the `Channel` every smms connection gives `smms.publish`, the `Post` it
publishes, and a network's length `Limit`.

A connection type of the smms tool type gives, through its config model's `channel(account)` method, an
object following the `Channel` protocol; `smms.publish` only speaks to that protocol, so a new network is
a new connection type of a plugin, nothing else (docs/plugins.md shows one).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .specs import ActionContext


@dataclass(frozen=True)
class Image:
    """An image to attach, already fetched: its bytes, media type and alt text."""

    data: bytes
    mime_type: str
    alt: str
    filename: str = "image"


@dataclass(frozen=True)
class Post:
    """What to publish on one account: the text fitted to its limit, the language, the image if any."""

    text: str
    language: str | None = None
    image: Image | None = None
    image_url: str | None = None  # where the image comes from (the outbox records this, not the bytes)
    image_alt: str = ""


class Channel(Protocol):
    """One account on one network, as `smms.publish` sees it."""

    account: str  # the connection's name, e.g. "city-bluesky"
    network: str  # "mastodon", "bluesky", "outbox"
    limit: Limit | None  # None: no limit (the outbox)
    needs_image_bytes: bool  # False when the image address is enough (the outbox)

    def details(self, text: str) -> dict[str, Any]:
        """Extra facts a preview shows for this text (Bluesky's facets); no network access."""

    def publish(self, post: Post, ctx: ActionContext) -> dict[str, Any]:
        """Publish the post; returns `id` and `url` (None when there is none); raises ActionError on failure."""


@dataclass(frozen=True)
class Limit:
    """A network's limit on the text of one post, e.g. Bluesky's 300 graphemes."""

    network: str  # as the comms officer knows it: "Bluesky"
    maximum: int
    unit: str  # "characters" | "graphemes"
    counter: Callable[[str], int]
    note: str = ""  # how the count differs from a plain count, shown with an over-limit message

    def count(self, text: str) -> int:
        """The text's length as this network counts it."""
        return self.counter(text)

    def problem(self, account: str, text: str) -> str | None:
        """The message for a text over the limit, naming the account and the count; None when it fits."""
        count = self.count(text)
        if count <= self.maximum:
            return None
        note = f"; {self.note}" if self.note else ""
        return f"{account}: {count} {self.unit}, over {self.network}'s limit of {self.maximum}{note}"
