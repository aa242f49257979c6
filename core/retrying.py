"""How long the outbound client waits between attempts: capped exponential backoff with full jitter,
`Retry-After` honoured, and one budget per request (attempts and total seconds of waiting)."""

from __future__ import annotations

import email.utils
import math
import random
from datetime import UTC, datetime

__all__ = ["RetryBudget", "WaitTooLong", "retry_after_seconds"]


class WaitTooLong(Exception):
    """The server asked for a wait longer than what is left of the retry budget."""

    def __init__(self, asked: float, left: float) -> None:
        super().__init__(f"asked to wait {asked:g} s (Retry-After), more than the {left:g} s of retry time left")
        self.asked, self.left = asked, left


def retry_after_seconds(value: str | None) -> float | None:
    """Parse Retry-After (delta-seconds or HTTP-date) into seconds from now, or None."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


class RetryBudget:
    """What one request may still spend on retries: attempts, and seconds of waiting across all of them."""

    def __init__(self, *, attempts: int, max_delay: float, backoff_base: float, backoff_max: float) -> None:
        self.retries_left = max(0, attempts - 1)
        self.delay_left = max_delay
        self._retried = 0
        self._base, self._max = backoff_base, backoff_max

    @property
    def exhausted(self) -> bool:
        """True when no attempt is left."""
        return self.retries_left <= 0

    def next_delay(self, retry_after: float | None = None) -> float:
        """Spend one retry; the seconds to wait before it. Raises WaitTooLong past the budget."""
        if retry_after is not None:
            if retry_after > self.delay_left:
                raise WaitTooLong(retry_after, self.delay_left)
            delay = retry_after
        else:
            # Full jitter spreads the retries of many workers hitting the same failing service.
            delay = min(self.delay_left, random.uniform(0, min(self._max, self._base * 2**self._retried)))
        self.retries_left -= 1
        self.delay_left -= delay
        self._retried += 1
        return delay
