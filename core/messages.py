"""Plain-language messages for validation errors: what pydantic says, rewritten for a comms officer.

pydantic's own texts ("String should match pattern '^https?://'", "Value error, …", "Input should be 'stop'
or 'continue'") name a regular expression or a Python type; these say what is expected in words, list the
allowed values of a choice and suggest the nearest one.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

# Patterns used by our models, in words (a pattern not listed gets a generic sentence).
PATTERNS = {
    r"^https?://": "must be an address starting with http:// or https://",
    r"^https?://[^/\s]+": "must be an address starting with http:// or https://, e.g. https://mastodon.social",
    r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$": "must be a full address with its scheme, e.g. https://www.ville.example/page",
    r"^[a-z0-9][a-z0-9-]*$": "may hold only lowercase letters, digits and - (not first), e.g. blog-to-social",
    r"^[A-Za-z_][A-Za-z0-9_]*$": "may hold only letters, digits and _ and may not start with a digit, e.g. announce",
    r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$": "must be a language code such as fr, nl, de or en",
}

TYPES = {
    "string_type": "must be text", "int_type": "must be a whole number", "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number", "float_type": "must be a number", "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false", "dict_type": "must be an object "
    "(key: value pairs)", "model_type": "must be an object (key: value pairs)", "model_attributes_type": "must be an "
    "object (key: value pairs)", "list_type": "must be a list",
    "missing": "required field is missing", "extra_forbidden": "unknown field", "url_parsing": "must be an address",
    "json_invalid": "is not valid JSON", "datetime_parsing": "must be a date and time (ISO 8601, e.g. "
    "2026-12-07T10:00:00+01:00)", "date_parsing": "must be a date (e.g. 2026-12-07)",
}


def suggest(value: Any, choices: list[str], cutoff: float = 0.6) -> str:
    """' (did you mean 'x'?)' when a choice is close to the value, else ''."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, choices, n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def plain(err: Mapping[str, Any]) -> str:
    """One pydantic error (from `ValidationError.errors()`) as a sentence without pydantic's jargon."""
    kind, ctx, value = err.get("type", ""), err.get("ctx") or {}, err.get("input")
    if kind in ("literal_error", "enum"):
        allowed = _choices(ctx.get("expected", ""))
        return f"must be one of: {', '.join(allowed)}{suggest(value, allowed)}" if allowed else err["msg"]
    if kind == "string_pattern_mismatch":
        return PATTERNS.get(ctx.get("pattern", ""), "is not in the expected form")
    if kind == "value_error":
        error = ctx.get("error")
        return str(error) if error is not None else err["msg"].removeprefix("Value error, ")
    if kind == "assertion_error":
        return err["msg"].removeprefix("Assertion failed, ")
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {least} characters long"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"must have at {'least' if kind == 'too_short' else 'most'} {bound} item(s)"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()), "")
        words = {"greater_than_equal": "at least", "greater_than": "more than", "less_than_equal": "at most",
                 "less_than": "less than"}[kind]
        return f"must be {words} {bound}"
    if kind in TYPES:
        return TYPES[kind]
    return err["msg"].removeprefix("Value error, ")


def _choices(expected: str) -> list[str]:
    """"'stop' or 'continue'" → ['stop', 'continue'] (pydantic's wording of a Literal's values)."""
    parts = expected.replace(" or ", ", ").split(", ")
    return [p.strip().strip("'") for p in parts if p.strip()]
