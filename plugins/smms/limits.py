"""Each network's length limit, how it counts, and the clean cut that `overflow: truncate` asks for."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from beffroi import Limit, MediaRule

from .richtext import grapheme_count, graphemes, links, mastodon_countable

ELLIPSIS = "…"
_SOFT_END = " \t\n,;:-–—"  # left out just before the ellipsis, so "word,…" reads "word…"


def mastodon_limit(maximum: int = 500) -> Limit:
    """Mastodon: characters (graphemes), every link counted as 23, `@user@domain` as `@user`."""
    return Limit("Mastodon", maximum, "characters", lambda text: grapheme_count(mastodon_countable(text)),
                 note="each link counts as 23")


BLUESKY = Limit("Bluesky", 300, "graphemes", grapheme_count)

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
MAX_IMAGES = 4  # Mastodon and Bluesky both take up to 4 images per post
# Mastodon 4.x accepts images up to 16 MB; app.bsky.embed.images accepts blobs up to 1,000,000 bytes
MASTODON_MEDIA = MediaRule("Mastodon", MAX_IMAGES, 16 * 2**20, IMAGE_TYPES)
BLUESKY_MEDIA = MediaRule("Bluesky", MAX_IMAGES, 1_000_000, IMAGE_TYPES)


@dataclass(frozen=True)
class Fitted:
    """The text that will be posted on one account and how it compares with the account's limit."""

    text: str
    count: int
    maximum: int | None
    truncated: bool = False
    problem: str | None = None

    @property
    def within_limit(self) -> bool:
        """True when the text can be posted as it is."""
        return self.problem is None


def fit(text: str, limit: Limit | None, account: str, *, truncate: bool) -> Fitted:
    """The text for one account: as written when it fits, else cut cleanly if allowed, else with its problem."""
    if limit is None:
        return Fitted(text, grapheme_count(text), None)
    problem = limit.problem(account, text)
    if problem is None or not truncate:
        return Fitted(text, limit.count(text), limit.maximum, problem=problem)
    cut = shorten(text, limit)
    if cut is None:
        return Fitted(text, limit.count(text), limit.maximum,
                      problem=f"{problem}, and its link alone leaves no room to shorten it")
    return Fitted(cut, limit.count(cut), limit.maximum, truncated=True)


def shorten(text: str, limit: Limit) -> str | None:
    """Cut the text on a word boundary so it fits, ending with "…" and then its link, kept whole.

    The link is the last one in the text; words after it are dropped first. Returns None when
    even "…" and the link alone do not fit.
    """
    found = links(text)
    link = found[-1] if found else None
    body = text
    if link is not None:
        body = (text[:link.start].rstrip() + " " + text[link.end:].lstrip()).strip()
    tail = f" {link.value}" if link is not None else ""

    def candidate(head: str) -> str:
        head = head.rstrip(_SOFT_END)
        return f"{head}{ELLIPSIS}{tail}" if head else f"{ELLIPSIS}{tail}".strip()

    def fits(head: str) -> bool:
        return limit.count(candidate(head)) <= limit.maximum

    if not fits(""):
        return None
    # The longest prefix ending at a word boundary that fits (the count grows with the prefix: bisect).
    boundaries = [i for i, ch in enumerate(body) if ch.isspace()]
    best = _last_fitting(boundaries, lambda end: fits(body[:end]))
    if best is not None:
        return candidate(body[:best])
    # The first word alone is too long: cut inside it, between graphemes, but never inside a link.
    inner = links(body)
    pieces = graphemes(body[:inner[0].start] if inner else body)
    size = _last_fitting(list(range(1, len(pieces) + 1)), lambda n: fits("".join(pieces[:n])))
    return candidate("".join(pieces[:size]) if size else "")


def _last_fitting(values: list[int], fits: Callable[[int], bool]) -> int | None:
    """The largest value for which fits() holds, given fits() holds for a prefix of the sorted values."""
    low, high, best = 0, len(values) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if fits(values[middle]):
            best, low = values[middle], middle + 1
        else:
            high = middle - 1
    return best
