"""The social-media tool type's contract: the `Channel` every smms connection gives `smms.publish`, the `Post` it
publishes, a network's length `Limit` and the images it accepts (`MediaRule`).

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
    """An image to attach, already fetched: its bytes, media type and alt text (and, from a document, its hash)."""

    data: bytes
    mime_type: str
    alt: str
    filename: str = "image"
    sha256: str = ""  # the SHA-256 of the bytes, when they came from a document
    document: dict[str, Any] | None = None  # the document's handle, when it came from one (never the bytes)

    def facts(self) -> dict[str, Any]:
        """What the outbox and the journal keep of the image: name, type, size, alt text, hash, handle."""
        return {"name": self.filename, "content_type": self.mime_type, "size": len(self.data), "alt": self.alt,
                "sha256": self.sha256, "document": self.document}


@dataclass(frozen=True)
class Post:
    """What to publish on one account: the text fitted to its limit, the language, the images if any."""

    text: str
    language: str | None = None
    images: tuple[Image, ...] = ()  # in order, at most the network's number (MediaRule.max_images)
    image_url: str | None = None  # where an image comes from (the outbox records this, not the bytes)
    image_alt: str = ""

    @property
    def image(self) -> Image | None:
        """The first image, if any (a network that takes one image)."""
        return self.images[0] if self.images else None


@dataclass(frozen=True)
class MediaRule:
    """What a network accepts as images on one post: how many, how large each, which media types."""

    network: str  # as the comms officer knows it: "Bluesky"
    max_images: int
    max_bytes: int
    types: frozenset[str]

    def problem(self, account: str, field: str, name: str, content_type: str, size: int | None) -> str | None:
        """Why an image cannot go on this account (too large, a type the network refuses), or None."""
        if content_type not in self.types:
            return (f"{field}: {name} is {content_type}; {self.network} ({account}) takes "
                    f"{', '.join(sorted(t.removeprefix('image/') for t in self.types))} images")
        if size is not None and size > self.max_bytes:
            return (f"{field}: {name} is {size / 1e6:.1f} MB, over {self.network}'s limit of "
                    f"{self.max_bytes / 1e6:g} MB per image ({account})")
        return None


class Channel(Protocol):
    """One account on one network, as `smms.publish` sees it."""

    account: str  # the connection's name, e.g. "city-bluesky"
    network: str  # "mastodon", "bluesky", "outbox"
    limit: Limit | None  # None: no limit (the outbox)
    needs_image_bytes: bool  # False when the image address is enough (the outbox)
    media: MediaRule | None  # the images it accepts (None: any, as the outbox)

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
