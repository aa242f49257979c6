"""Choosing a language from a browser's Accept-Language header (the web UI's pages, the CRM's public pages)."""
from __future__ import annotations

import re
from collections.abc import Collection

_ACCEPT_ITEM = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def best_language(header: str | None, offered: Collection[str]) -> str | None:
    """The best of `offered` (primary codes: fr, en…) in an Accept-Language header (`nl-BE,nl;q=0.9,fr;q=0.8`):
    the highest quality, then the earliest; None when none is acceptable. Only the first 20 items are read."""
    ranked = []
    for position, item in enumerate((header or "").split(",")[:20]):
        match = _ACCEPT_ITEM.match(item)
        if not match:
            continue
        try:
            quality = float(match[2]) if match[2] else 1.0
        except ValueError:
            continue
        if quality > 0 and match[1].lower() in offered:
            ranked.append((-quality, position, match[1].lower()))
    return min(ranked)[2] if ranked else None
