"""Durations as people write them in recipes: `500ms`, `30s`, `5m`, `1h`, `2d`, `1h30m`."""
from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """Seconds in a duration string or number; ValueError with the accepted forms otherwise."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like '30s', '5m', '1h'")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    text = str(value).strip().lower().replace(" ", "")
    if text and _PART.sub("", text) == "" and (parts := _PART.findall(text)):
        return sum(float(n) * _UNIT[u] for n, u in parts)
    raise ValueError(f"invalid duration {value!r}: write it like '30s', '5m', '1h' or '1h30m'")


def _normalise(value: Any) -> str:
    parse_duration(value)
    return f"{value}s" if isinstance(value, (int, float)) else str(value).strip()


Duration = Annotated[str, BeforeValidator(_normalise)]
Duration.__doc__ = "A validated duration, kept as the text the user wrote (numbers become `Ns`)."
