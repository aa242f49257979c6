"""Reading a WebDAV PROPFIND answer (207 Multi-Status, RFC 4918 §13) into listed files.

Parsed with defusedxml: the answer comes from another server, and must not expand entities or reach the network.
"""
from __future__ import annotations

import email.utils
from datetime import UTC
from typing import Any
from urllib.parse import unquote, urlsplit

from defusedxml import ElementTree

from beffroi import ActionError

from .documents import Entry, clean_path

DAV = "{DAV:}"
OC = "{http://owncloud.org/ns}"
PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
    b"<d:resourcetype/><d:getetag/><d:getcontentlength/><d:getcontenttype/><d:getlastmodified/>"
    b"<d:creator-displayname/><d:owner/><oc:owner-display-name/><d:lockdiscovery/>"
    b"</d:prop></d:propfind>")


def entries(body: bytes, base_url: str) -> list[Entry]:
    """The files (collections left out) a multistatus body describes, their paths relative to base_url."""
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, ValueError) as exc:
        raise ActionError(f"the WebDAV server's folder listing is not valid XML ({exc})", retryable=True) from None
    base = unquote(urlsplit(base_url).path)
    found = []
    for response in root.iter(f"{DAV}response"):
        href = unquote(urlsplit((response.findtext(f"{DAV}href") or "").strip()).path)
        if not href.startswith(base):
            continue
        props = _found_props(response)
        if props is None or props.find(f"{DAV}resourcetype/{DAV}collection") is not None:
            continue
        path = clean_path(href[len(base):])
        if not path:
            continue
        size = (props.findtext(f"{DAV}getcontentlength") or "").strip()
        found.append(Entry(
            path=path, size=int(size) if size.isdigit() else 0,
            etag=(props.findtext(f"{DAV}getetag") or "").strip(),
            content_type=((props.findtext(f"{DAV}getcontenttype") or "").split(";")[0].strip() or None),
            modified_at=_when(props.findtext(f"{DAV}getlastmodified")),
            author=_author(props), locked=props.find(f"{DAV}lockdiscovery/{DAV}activelock") is not None))
    return found


def _found_props(response: Any) -> Any:
    """The <prop> of the propstat answered 200 (properties the server has), or None."""
    for propstat in response.iter(f"{DAV}propstat"):
        if " 200 " in f"{propstat.findtext(f'{DAV}status') or ''} ":
            return propstat.find(f"{DAV}prop")
    return None


def _text(element: Any) -> str | None:
    if element is None:
        return None
    text = " ".join("".join(element.itertext()).split())
    return text or None


def _author(props: Any) -> str | None:
    """Who the server says created or owns the file (DAV:creator-displayname, Nextcloud's owner, DAV:owner)."""
    for name in (f"{DAV}creator-displayname", f"{OC}owner-display-name", f"{DAV}owner"):
        text = _text(props.find(name))
        if text:
            return text
    return None


def _when(value: str | None) -> str | None:
    """An HTTP date (getlastmodified) as ISO 8601 in UTC, or None."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()
