"""Recipe filters and functions the template sandbox adds to Jinja's own.

``now()``, plus the ``slugify``, ``date``/``datetimeformat``, ``isoformat``, ``add_days`` and
``utm`` filters, registered by :mod:`beffroi.sandbox` from :data:`RECIPE_GLOBALS`
and :data:`RECIPE_FILTERS`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def _now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _slugify(value: Any) -> str:
    """'Fête de la Musique!' → 'fete-de-la-musique' (ASCII, lowercase, hyphens)."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _utm(url: Any, source: str | None = None, medium: str | None = None, campaign: str | None = None,
         term: str | None = None, content: str | None = None) -> str:
    """Add UTM parameters to a link, keeping its other query parameters (and replacing older utm_ ones)."""
    parts = urlsplit(str(url))
    tags = {f"utm_{k}": str(v) for k, v in (("source", source), ("medium", medium), ("campaign", campaign),
                                            ("term", term), ("content", content)) if v not in (None, "")}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in tags]
    return urlunsplit(parts._replace(query=urlencode(query + list(tags.items()))))


def _to_date(value: Any) -> date:
    """A datetime/date as is, an ISO-8601 string parsed, a number read as a UTC timestamp."""
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO-8601 date: {value[:40]!r}") from None
    raise ValueError(f"cannot read a date from a {type(value).__name__} value")


def _format_date(value: Any, format: str = "%Y-%m-%d %H:%M") -> str:
    """Format a datetime or ISO-8601 string with a strftime format."""
    return _to_date(value).strftime(str(format))


def _isoformat(value: Any) -> str:
    """ISO-8601 text of a datetime or ISO-8601 string."""
    return _to_date(value).isoformat()


def _add_days(value: Any, days: Any = 1) -> date:
    """A date or date-time moved by a number of days (negative: earlier), e.g. the day before an event:
    `{{ trigger.starts_at | add_days(-1) | date('%Y-%m-%d') }}`; the time of day and offset are kept."""
    if isinstance(days, bool) or not isinstance(days, (int, float)) or abs(days) > 36_600:
        raise ValueError(f"add_days needs a number of days (at most a century), not {days!r}")
    return _to_date(value) + timedelta(days=days)


# Registered by the sandbox: functions callable from templates, and filters by name.
RECIPE_GLOBALS: dict[str, Callable] = {"now": _now}
RECIPE_FILTERS: dict[str, Callable] = {
    "slugify": _slugify, "date": _format_date, "datetimeformat": _format_date, "isoformat": _isoformat, "utm": _utm,
    "add_days": _add_days,
}
