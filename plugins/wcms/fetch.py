"""Outbound calls of the wcms plugin through ctx.http: readable errors, conditional GET, 429 on a POST."""
from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime
from typing import Any

from beffroi import ActionError, BlockedAddressError, OutboundError, RetryAfterTooLongError

MAX_RATE_LIMIT_WAIT = 120.0  # seconds; a longer Retry-After fails the attempt (the step's retry takes over)
RATE_LIMIT_ATTEMPTS = 3


def send(ctx, method: str, url: str, *, what: str, **kwargs: Any):
    """One request through ctx.http (which retries what is safe); transport failures become ActionErrors.

    `what` names the other side for the message ("the feed", "WordPress at www.example.org").
    """
    try:
        return ctx.http.request(method, url, **kwargs)
    except BlockedAddressError as exc:
        raise ActionError(f"{what} is at an address Beffroi may not reach: {exc}", retryable=False) from None
    except RetryAfterTooLongError as exc:
        raise ActionError(f"{what} is limiting requests and asked to wait {exc.wait:g} s; try again later") from None
    except OutboundError as exc:
        if " timeout" in str(exc):  # the client's wording: "read timeout after 30 s", "connect timeout ..."
            raise ActionError(f"{what} did not answer in time ({exc})", retryable=True) from None
        raise ActionError(f"cannot reach {what}: {exc}", retryable=True) from None


def send_unrepeatable(ctx, method: str, url: str, *, what: str, **kwargs: Any):
    """Send a request the server must not receive twice (a POST that creates something).

    The shared client never replays it after the server may have seen it; but a 429 says the server did
    not act on it, so it is sent again after the Retry-After delay (when that delay is reasonable).
    """
    for attempt in range(1, RATE_LIMIT_ATTEMPTS + 1):
        response = send(ctx, method, url, what=what, **kwargs)
        if response.status_code != 429 or attempt == RATE_LIMIT_ATTEMPTS:
            return response
        delay = retry_after(response.headers.get("Retry-After"))
        if delay is None or delay > MAX_RATE_LIMIT_WAIT:
            return response
        if ctx.deadline is not None and time.monotonic() + delay >= ctx.deadline:
            return response
        time.sleep(delay)
    raise AssertionError("unreachable")


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay in seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def conditional_headers(cursor: Any) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the validators a previous poll kept in its cursor."""
    cursor = cursor if isinstance(cursor, dict) else {}
    headers = {}
    if cursor.get("etag"):
        headers["If-None-Match"] = cursor["etag"]
    if cursor.get("last_modified"):
        headers["If-Modified-Since"] = cursor["last_modified"]
    return headers


def validators(response) -> dict[str, str] | None:
    """The ETag / Last-Modified a response offers, as the next cursor (None when it offers neither)."""
    found = {"etag": response.headers.get("ETag"), "last_modified": response.headers.get("Last-Modified")}
    found = {name: value for name, value in found.items() if value}
    return found or None
