"""How far a long step got: `ctx.progress(done, total)` from the action, read back by the run's detail and page.

A report is a row per (run, step) in `step_progress`, written by whichever process runs the step (an RQ worker, the
server) and read by any other. Reports are throttled: at most one write per `interval` seconds per step (the
first and the final one always), so a campaign calling it after each message costs a clock read per message and a
small UPDATE twice a second. The rate counts from the first report of the current attempt: a resumed campaign's
rate is that of the messages it sends, not of those an earlier attempt had sent.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from .store import Database
from .store.models import StepProgressRow, utcnow

PROGRESS = StepProgressRow.__table__


class Reporter:
    """The progress of one step in one attempt: reports written at most once per interval."""

    def __init__(self, board: ProgressBoard, run_id: str, step_id: str):
        self.board, self.run_id, self.step_id = board, run_id, step_id
        self.last: float | None = None  # monotonic time of the last write; None before the first

    def report(self, done: int, total: int | None = None, *, final: bool = False) -> bool:
        """Note that `done` of `total` are done; True when it was written now (first, final, or interval past)."""
        now = time.monotonic()
        if self.last is not None and not final and now - self.last < self.board.interval:
            return False
        first, self.last = self.last is None, now
        self.board.write(self.run_id, self.step_id, max(0, int(done)), None if total is None else int(total),
                         first=first)
        return True


class ProgressBoard:
    """Where every step of an engine reports its progress, and where the run's detail reads it."""

    def __init__(self, db: Database, interval: float = 0.5):
        self.db, self.interval = db, interval

    def reporter(self, run_id: str, step_id: str) -> Reporter:
        """A reporter for one attempt of a step (its first report starts the rate's count)."""
        return Reporter(self, run_id, step_id)

    def write(self, run_id: str, step_id: str, done: int, total: int | None, *, first: bool) -> None:
        """Record a report; `first` of an attempt sets where its rate counts from."""
        now = utcnow()
        values: dict[str, Any] = {"done": done, "total": total, "updated_at": now}
        if first:
            values.update(base=done, since=now)
        where = (PROGRESS.c.run_id == run_id) & (PROGRESS.c.step_id == step_id)
        with self.db.writing() as conn:
            if conn.execute(update(PROGRESS).where(where).values(**values)).rowcount == 0:
                conn.execute(insert(PROGRESS).values(run_id=run_id, step_id=step_id, **{"base": done, "since": now,
                                                                                       **values}))


def of_run(session: Any, run_id: str) -> dict[str, dict[str, Any]]:
    """The progress of each step of a run that reported some, by step id (see `describe`)."""
    rows = session.execute(select(PROGRESS).where(PROGRESS.c.run_id == run_id))
    return {row.step_id: describe(row.done, row.total, row.base, row.since, row.updated_at) for row in rows}


def describe(done: int, total: int | None, base: int, since: datetime, updated_at: datetime) -> dict[str, Any]:
    """A report as the API gives it: done, total, the rate of this attempt (per second) and the seconds left at that
    rate (None while unknown: no item done yet by this attempt, or no total)."""
    elapsed = (updated_at - since).total_seconds()
    rate = (done - base) / elapsed if done > base and elapsed > 0 else None
    left = max(0, total - done) if total is not None else None
    return {"done": done, "total": total, "rate_per_second": round(rate, 3) if rate else None,
            "seconds_left": round(left / rate, 1) if rate and left is not None else None,
            "updated_at": updated_at.isoformat()}
