"""The campaign's pace: a steady rate, and waits that stop when the run is cancelled or the step's time is up."""
from __future__ import annotations

import threading
import time

from beffroi import ActionError

SLICE = 1.0  # seconds: the longest sleep between two checks for a cancellation
MARGIN = 2.0  # seconds: no new message starts closer than this to the step's deadline


class Pacer:
    """Spaces messages `60 / rate` seconds apart; `wait_turn()` raises ActionError to stop the campaign cleanly.

    Stopping before the deadline matters: the runner gives up on a step at its timeout, and a campaign still
    sending behind its back would race with the retry. Cancelling a run from the API or the UI is noticed
    before the next message (the run's status is read before each one: one primary-key lookup).
    """

    def __init__(self, ctx, rate_per_minute: int, *, paced: bool = True):
        self.ctx = ctx
        self.interval = 60.0 / rate_per_minute if paced else 0.0
        self.next_at = 0.0
        self._sleep = threading.Event().wait  # an Event wait, not time.sleep: no signal-handler surprises

    def wait_turn(self) -> None:
        """Wait until the next message may leave, checking for a cancellation and the deadline."""
        now = time.monotonic()
        start = max(now, self.next_at)
        deadline = self.ctx.deadline
        if deadline is not None and start + MARGIN > deadline:
            raise ActionError("stopped before the step's time limit (raise the step's timeout for a large list)",
                              retryable=True)
        while now < start:
            self._check_cancelled()
            self._sleep(min(SLICE, start - now))
            now = time.monotonic()
        self._check_cancelled()
        self.next_at = start + self.interval

    def check(self) -> None:
        """The deadline and cancellation checks alone (before a reconnection)."""
        now = time.monotonic()
        if self.ctx.deadline is not None and now + MARGIN > self.ctx.deadline:
            raise ActionError("stopped before the step's time limit", retryable=True)
        self._check_cancelled()

    def _check_cancelled(self) -> None:
        if self.ctx.cancelled():
            raise ActionError("the run was cancelled", retryable=False)
