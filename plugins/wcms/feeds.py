"""RSS 2.0 and Atom 1.0 feeds: a conditional GET through ctx.http, feedparser on the bytes, one PostEvent per entry."""
from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime
from typing import Any

import feedparser

from beffroi import ActionError, PollResult

from .event import PostEvent, html_to_text, oldest_first, polled, squash, utc_iso
from .fetch import conditional_headers, send, validators

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
HTML_TYPES = ("text/html", "application/xhtml+xml")
RSS_AUTHOR = re.compile(r"^\s*[^\s@()]+@[^\s()]+\s*\((.+)\)\s*$")
IMAGE_FILE = re.compile(r"\.(avif|gif|jpe?g|png|webp)(\?|$)", re.IGNORECASE)


def poll(url: str, cursor: Any, ctx) -> PollResult:
    """Read the feed (unless unchanged since the last poll) and return its entries, oldest first."""
    response = send(ctx, "GET", url, what="the feed", headers={"Accept": ACCEPT, **conditional_headers(cursor)})
    if response.status_code == 304:  # not modified: nothing new, keep the validators we had
        return PollResult(items=[], cursor=cursor)
    if response.status_code >= 400:
        raise ActionError(f"the feed answered {response.status_code} {response.reason_phrase}",
                          retryable=response.status_code >= 500 or response.status_code == 429)
    events = parse(response.content, str(response.url), response.headers.get("Content-Type", ""))
    return PollResult(items=[polled(e) for e in oldest_first(events)], cursor=validators(response))


def parse(body: bytes, url: str, content_type: str = "") -> list[PostEvent]:
    """The entries of an RSS or Atom document as events; relative links are resolved against `url`."""
    # A stream, never bytes or text: feedparser would try to open those as a file name or fetch them as a URL.
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-location": url,
                                                                    "content-type": content_type or "application/xml"})
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        detail = f" ({squash(str(problem))[:160]})" if problem else ""
        raise ActionError(f"the address does not give an RSS or Atom feed{detail}")
    return [entry_event(entry) for entry in parsed.entries]


def entry_event(entry: Any) -> PostEvent:
    """One feedparser entry as the normalised event."""
    link = entry.get("link") or None
    title = _text(entry.get("title_detail"), entry.get("title"))
    summary_html = _as_html(entry.get("summary_detail"), entry.get("summary"))
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    published = datetime(*moment[:6]).replace(tzinfo=UTC) if moment else None
    return PostEvent(
        id=entry.get("id") or link or f"{title}|{utc_iso(published)}",
        title=title,
        url=link,
        summary=html_to_text(summary_html),
        content_html=_content(entry) or summary_html,
        published_at=utc_iso(published),
        author=_author(entry),
        categories=list(dict.fromkeys(name for name in (squash(t.get("label") or t.get("term"))
                                                         for t in entry.get("tags") or []) if name)),
        image_url=_image(entry),
    )


def _text(detail: Any, value: str | None) -> str:
    """A title as plain text, whether the feed marked it as text or as HTML."""
    if detail and detail.get("type") in HTML_TYPES:
        return html_to_text(value)
    return squash(value)


def _as_html(detail: Any, value: str | None) -> str:
    """A text construct as HTML (plain text escaped)."""
    if not value:
        return ""
    if detail and detail.get("type") not in HTML_TYPES:
        return f"<p>{html.escape(value)}</p>"
    return value


def _content(entry: Any) -> str:
    """The full content (RSS content:encoded, Atom content), preferring an HTML version."""
    contents = entry.get("content") or []
    for content in contents:
        if content.get("type") in HTML_TYPES and content.get("value"):
            return content["value"]
    for content in contents:
        if content.get("value"):
            return _as_html(content, content["value"])
    return ""


def _author(entry: Any) -> str | None:
    """The author's name (RSS `email (Name)` and dc:creator included)."""
    # feedparser's e-mail pattern stops at four-letter top-level domains (.brussels, .gent), so RSS's
    # "email (Name)" form is read here first.
    rss_form = RSS_AUTHOR.match(entry.get("author") or "")
    if rss_form:
        return squash(rss_form.group(1)) or None
    detail = entry.get("author_detail") or {}
    return squash(detail.get("name") or entry.get("author")) or None


def _image(entry: Any) -> str | None:
    """An image enclosure, else a media:content image, else a media:thumbnail."""
    for enclosure in entry.get("enclosures") or []:
        if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
            return enclosure["href"]
    for media in entry.get("media_content") or []:
        url = media.get("url")
        kind = media.get("medium") or str(media.get("type", "")).split("/")[0]
        if url and (kind == "image" or (not kind and IMAGE_FILE.search(url))):
            return url
    for thumbnail in entry.get("media_thumbnail") or []:
        if thumbnail.get("url"):
            return thumbnail["url"]
    return None
