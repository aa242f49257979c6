"""An app feed as JSON Feed 1.1 and as RSS 2.0, and the feeds' public addresses."""
from __future__ import annotations

import json
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .items import Item

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def feed_urls(public_url: str, feed: str) -> dict[str, str]:
    """The stable public addresses of a feed: `json` (JSON Feed) and `rss`."""
    base = f"{public_url.rstrip('/')}/feeds/app/{feed}"
    return {"json": f"{base}.json", "rss": f"{base}.rss"}


def json_item(item: Item) -> dict[str, Any]:
    """One item as a JSON Feed 1.1 item; the image's alt text and the expiry in the `_beffroi` extension."""
    entry: dict[str, Any] = {"id": item.id, "title": item.title, "content_text": item.text,
                             "date_published": item.published_at.isoformat().replace("+00:00", "Z")}
    if item.url:
        entry["url"] = item.url
    if item.image_url:
        entry["image"] = item.image_url
    if item.language:
        entry["language"] = item.language
    extension = {"image_alt": item.image_alt,
                 "expires_at": item.expires_at.isoformat().replace("+00:00", "Z") if item.expires_at else None}
    entry["_beffroi"] = {key: value for key, value in extension.items() if value is not None}
    if not entry["_beffroi"]:
        del entry["_beffroi"]
    return entry


def json_feed(public_url: str, feed: str, items: list[Item]) -> bytes:
    """The feed as JSON Feed 1.1."""
    urls = feed_urls(public_url, feed)
    document = {"version": JSON_FEED_VERSION, "title": feed, "home_page_url": public_url.rstrip("/") + "/",
                "feed_url": urls["json"], "items": [json_item(item) for item in items]}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def rss_feed(public_url: str, feed: str, items: list[Item]) -> bytes:
    """The feed as RSS 2.0 (images as Media RSS with their alt text)."""
    urls = feed_urls(public_url, feed)
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">',
             "<channel>", f"<title>{escape(feed)}</title>", f"<link>{escape(public_url.rstrip('/') + '/')}</link>",
             f"<description>{escape(feed)}</description>",
             f'<atom:link href={quoteattr(urls["rss"])} rel="self" type="application/rss+xml"/>']
    if items:
        parts.append(f"<lastBuildDate>{format_datetime(items[0].published_at, usegmt=True)}</lastBuildDate>")
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title>")
        if item.url:
            parts.append(f"<link>{escape(item.url)}</link>")
        parts.append(f"<description>{escape(item.text)}</description>")
        parts.append(f'<guid isPermaLink="false">{escape(item.id)}</guid>')
        parts.append(f"<pubDate>{format_datetime(item.published_at, usegmt=True)}</pubDate>")
        if item.image_url:
            alt = f"<media:description>{escape(item.image_alt or '')}</media:description>"
            parts.append(f'<media:content url={quoteattr(item.image_url)} medium="image">{alt}</media:content>')
        parts.append("</item>")
    parts += ["</channel>", "</rss>"]
    return "\n".join(parts).encode()
