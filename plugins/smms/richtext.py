"""Links, #hashtags and @mentions found in a post's text, and Bluesky's rich-text facets at UTF-8 byte offsets.

Bluesky shows a link or a hashtag as clickable only when the post carries a *facet* for it: the byte range
(`byteStart`/`byteEnd`, counted in the UTF-8 encoding of the text, not in characters) and what it means
(`app.bsky.richtext.facet#link` with the `uri`, `#tag` with the tag without its `#`). Mastodon finds them
itself, but counts every link as 23 characters, so both networks need the same detection.
"""
from __future__ import annotations

from typing import NamedTuple

import regex

# A link is written with its scheme; bare domains ("example.org") are left as text, as Mastodon does.
_URL = regex.compile(r"https?://[^\s<>\"'`]+", regex.IGNORECASE)
_URL_TRAILING = ".,;:!?…"
# Bluesky's own hashtag rule (social-app's detectFacets): after a space or at the start, `#` or `＃`, then a tag
# that is not only digits or punctuation; trailing punctuation is not part of it; at most 64 characters.
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(rf"(?:^|(?<=\s))[#＃](?P<tag>(?!\ufe0f)[^\s{_INVISIBLE}]*[^\d\s\p{{P}}{_INVISIBLE}]+"
                     rf"[^\s{_INVISIBLE}]*)")
_TAG_TRAILING = regex.compile(r"\p{P}+$")
TAG_MAX = 64
# Mastodon's Account::MENTION_RE: @user or @user@domain, not inside a word or a URL.
_MENTION = regex.compile(r"(?<![=/\w])@(?P<user>[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[\w]+(?:[.-]+[\w]+)*)?",
                         regex.IGNORECASE)
_GRAPHEME = regex.compile(r"\X")

LINK_FACET = "app.bsky.richtext.facet#link"
TAG_FACET = "app.bsky.richtext.facet#tag"


class Span(NamedTuple):
    """A piece of the text, by character positions (`text[start:end]`), and what it stands for."""

    start: int
    end: int
    value: str


def graphemes(text: str) -> list[str]:
    """The text as user-perceived characters (an emoji with its modifiers, a letter with its accent)."""
    return _GRAPHEME.findall(text)


def grapheme_count(text: str) -> int:
    """How many user-perceived characters the text has (what Bluesky and Mastodon count)."""
    return len(graphemes(text))


def links(text: str) -> list[Span]:
    """Every http(s) link in the text; trailing punctuation and an unmatched closing bracket stay outside."""
    found = []
    for match in _URL.finditer(text):
        url = match.group()
        while url:
            if url[-1] in _URL_TRAILING:
                url = url[:-1]
            elif url[-1] == ")" and url.count("(") < url.count(")"):
                url = url[:-1]
            else:
                break
        if len(url) > len("https://"):
            found.append(Span(match.start(), match.start() + len(url), url))
    return found


def hashtags(text: str) -> list[Span]:
    """Every #hashtag in the text by Bluesky's rule; `value` is the tag without `#`, the span includes it."""
    found = []
    for match in _TAG.finditer(text):
        tag = _TAG_TRAILING.sub("", match.group("tag"))
        if tag and len(tag) <= TAG_MAX:
            found.append(Span(match.start(), match.start("tag") + len(tag), tag))
    return found


def mastodon_countable(text: str) -> str:
    """The text as Mastodon's length check sees it: each link as 23 characters, `@user@domain` as `@user`."""
    parts, last = [], 0
    for span in links(text):
        parts += [text[last:span.start], "x" * 23]
        last = span.end
    parts.append(text[last:])
    return _MENTION.sub(lambda m: "@" + m.group("user"), "".join(parts))


def _byte_offset(text: str, position: int) -> int:
    return len(text[:position].encode("utf-8"))


def facets(text: str) -> list[dict]:
    """Bluesky facets for the links and hashtags of the text, at UTF-8 byte offsets, in text order."""
    items = [(span, {"$type": LINK_FACET, "uri": span.value}) for span in links(text)]
    taken = [(s.start, s.end) for s, _ in items]
    for span in hashtags(text):
        if not any(start < span.end and span.start < end for start, end in taken):  # never inside a link
            items.append((span, {"$type": TAG_FACET, "tag": span.value}))
    items.sort(key=lambda item: item[0].start)
    return [{"index": {"byteStart": _byte_offset(text, span.start), "byteEnd": _byte_offset(text, span.end)},
             "features": [feature]} for span, feature in items]
