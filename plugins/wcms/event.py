"""The one event every wcms source gives (feed, WordPress, folder), and the text helpers that build it."""
from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from pydantic import BaseModel, Field

from beffroi import PolledItem

MAX_KEY = 300  # the length of trigger_seen.key


class PostEvent(BaseModel):
    """A published post, the same whatever its source: what `trigger.*` holds in a recipe."""

    id: str = Field(description="stable id of the post at its source (feed entry id, WordPress post id, file name)")
    title: str = Field(description="the title, as plain text")
    url: str | None = Field(None, description="the address of the post")
    summary: str = Field("", description="the excerpt, as plain text")
    content_html: str = Field("", description="the whole post, as HTML")
    published_at: str | None = Field(None, description="when it was published, ISO 8601 in UTC")
    author: str | None = Field(None, description="the author's name")
    categories: list[str] = Field(default_factory=list, description="names of its categories")
    image_url: str | None = Field(None, description="its image (enclosure, media or featured image), if any")


def polled(event: PostEvent) -> PolledItem:
    """The item a poll returns for an event; its key is the post id (hashed when too long for the seen table)."""
    key = event.id
    if len(key) > MAX_KEY:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return PolledItem(key=key, event=event.model_dump(mode="json"))


def oldest_first(events: list[PostEvent]) -> list[PostEvent]:
    """Events listed newest first (as feeds and APIs list them) put oldest first, by date where they have one."""
    # C414 is wrong here: sorted() is stable, so reversed() puts events of the same date (or none) oldest first too
    return sorted(reversed(events), key=lambda e: e.published_at or "")  # noqa: C414 - see above


def utc_iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC (a naive datetime is taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


class _Text(HTMLParser):
    """Collects the text of an HTML fragment; blocks become spaces, script and style are dropped."""

    SKIP = {"script", "style", "template"}
    BLOCK = {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure",
             "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
             "section", "table", "td", "th", "tr", "ul"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        if tag in self.BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1
        if tag in self.BLOCK:
            self.parts.append(" ")

    def handle_data(self, data) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(fragment: str | None) -> str:
    """The text of an HTML fragment, entities decoded and whitespace collapsed."""
    if not fragment:
        return ""
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    return squash("".join(parser.parts))


def squash(text: str | None) -> str:
    """Whitespace runs collapsed to one space, ends trimmed."""
    return re.sub(r"\s+", " ", text or "").strip()
