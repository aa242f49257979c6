"""A local HTTP server serving RSS 2.0 and Atom 1.0 feeds, as real sites do: ETag / Last-Modified, 304, errors.

Feeds are built from `Entry` records with `rss()` and `atom()`, following the RSS 2.0 specification (with the
content, dc and media namespaces blogs use) and RFC 4287. Conditional requests follow RFC 9110: a matching
If-None-Match gives 304; If-Modified-Since is only looked at when there is no If-None-Match.
Scripted faults answer a status (with headers, e.g. Retry-After), or hold the request without answering.
"""
from __future__ import annotations

import email.utils
import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler

from .http_base import LocalServer, QuietHandler

RSS_NAMESPACES = ('xmlns:content="http://purl.org/rss/1.0/modules/content/" '
                  'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/"')


@dataclass
class Entry:
    """One post of a feed."""

    id: str
    title: str
    link: str
    published: datetime | None = None
    summary: str = ""  # HTML
    content: str = ""  # HTML
    author: str | None = None
    categories: list[str] = field(default_factory=list)
    image: str | None = None  # an image enclosure
    guid_is_link: bool = False  # RSS: no separate guid, the link is the id


def _cdata(html: str) -> str:
    return "<![CDATA[" + html.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def rss(entries: list[Entry], *, title: str = "Ville de Namur — actualités", link: str = "https://www.namur.example/",
        author_style: str = "dc") -> bytes:
    """An RSS 2.0 document (newest entry first, as sites publish them)."""
    items = []
    for e in entries:
        parts = [f"<title>{escape(e.title)}</title>", f"<link>{escape(e.link)}</link>"]
        if not e.guid_is_link:
            parts.append(f'<guid isPermaLink="false">{escape(e.id)}</guid>')
        if e.published:
            parts.append(f"<pubDate>{email.utils.format_datetime(e.published)}</pubDate>")
        if e.author and author_style == "dc":
            parts.append(f"<dc:creator>{escape(e.author)}</dc:creator>")
        elif e.author:
            parts.append(f"<author>presse@ville.brussels ({escape(e.author)})</author>")
        parts += [f"<category>{escape(c)}</category>" for c in e.categories]
        if e.summary:
            parts.append(f"<description>{_cdata(e.summary)}</description>")
        if e.content:
            parts.append(f"<content:encoded>{_cdata(e.content)}</content:encoded>")
        if e.image:
            parts.append(f'<enclosure url="{escape(e.image)}" length="12345" type="image/jpeg"/>')
        items.append("<item>" + "".join(parts) + "</item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" {RSS_NAMESPACES}><channel>'
            f"<title>{escape(title)}</title><link>{escape(link)}</link><description>News</description>"
            f"<language>fr-BE</language>{''.join(items)}</channel></rss>").encode()


def atom(entries: list[Entry], *, title: str = "Stad Gent — nieuws", feed_id: str = "urn:uuid:5a1f-gent") -> bytes:
    """An Atom 1.0 document (RFC 4287), newest entry first."""
    out = []
    for e in entries:
        parts = [f"<id>{escape(e.id)}</id>", f'<title type="html">{escape(e.title)}</title>',
                 f'<link rel="alternate" type="text/html" href="{escape(e.link)}"/>']
        if e.published:
            parts += [f"<published>{e.published.isoformat()}</published>",
                      f"<updated>{e.published.isoformat()}</updated>"]
        if e.author:
            parts.append(f"<author><name>{escape(e.author)}</name></author>")
        parts += [f'<category term="{escape(c.lower())}" label="{escape(c)}"/>' for c in e.categories]
        if e.summary:
            parts.append(f'<summary type="html">{escape(e.summary)}</summary>')
        if e.content:
            parts.append(f'<content type="html">{escape(e.content)}</content>')
        if e.image:
            parts.append(f'<link rel="enclosure" type="image/png" href="{escape(e.image)}"/>')
        out.append("<entry>" + "".join(parts) + "</entry>")
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><id>{escape(feed_id)}</id>"
            f"<updated>2026-01-05T08:00:00Z</updated>{''.join(out)}</feed>").encode()


@dataclass
class Feed:
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None


@dataclass
class Fault:
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # hold the request, answer nothing


class FeedServer(LocalServer):
    """Serves feeds on 127.0.0.1 (ephemeral port) in a thread; records every request it gets."""

    def __init__(self) -> None:
        self.feeds: dict[str, Feed] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self._versions = 0
        super().__init__(_handler(self))

    def url(self, path: str) -> str:
        """The full address of a path on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def publish(self, path: str, body: bytes, *, content_type: str = "application/rss+xml; charset=utf-8",
                etag: bool = True, last_modified: bool = True) -> None:
        """Serve a new version of a feed (with a strong ETag and a Last-Modified, unless told not to)."""
        with self.lock:
            self._versions += 1
            moment = datetime(2026, 1, 5, 8, tzinfo=UTC) + timedelta(minutes=self._versions)
            self.feeds[path] = Feed(body, content_type,
                                    f'"{hashlib.sha1(body).hexdigest()[:16]}"' if etag else None,
                                    email.utils.format_datetime(moment, usegmt=True) if last_modified else None)

    def fail(self, path: str, *faults: Fault) -> None:
        """Answer the next requests of a path with these faults, in order, then normally again."""
        with self.lock:
            self.faults.setdefault(path, []).extend(faults)

    def hits(self, path: str) -> list[dict]:
        """The requests received for a path."""
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes] | None:
        """What to answer (None: hold the request); the request is recorded with the status answered."""
        record = {"path": path, "headers": headers, "at": time.monotonic(), "status": None}
        with self.lock:
            self.requests.append(record)
            answer = self._answer(path, headers)
            record["status"] = answer[0] if answer else None
            return answer

    def _answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes] | None:
        queue = self.faults.get(path)
        if queue:
            fault = queue.pop(0)
            if fault.hang:
                return None
            return fault.status, fault.headers, b"<html><body>temporarily unavailable</body></html>"
        feed = self.feeds.get(path)
        if feed is None:
            return 404, {"Content-Type": "text/html"}, b"<html><body>Not Found</body></html>"
        validators = {k: v for k, v in (("ETag", feed.etag), ("Last-Modified", feed.last_modified)) if v}
        if _not_modified(feed, headers):
            return 304, validators, b""
        return 200, {"Content-Type": feed.content_type, **validators}, feed.body


def _not_modified(feed: Feed, headers: dict[str, str]) -> bool:
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:  # RFC 9110 13.1.2 (weak comparison); If-Modified-Since then ignored
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return feed.etag is not None and ("*" in tags or feed.etag.removeprefix("W/") in tags)
    since = headers.get("if-modified-since")
    if since and feed.last_modified:
        try:
            return email.utils.parsedate_to_datetime(feed.last_modified) <= email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            answer = server.answer(self.path.split("?")[0], {k.lower(): v for k, v in self.headers.items()})
            if answer is None:
                server.release.wait(10)
                self.close_connection = True
                return
            status, headers, body = answer
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    return Handler
