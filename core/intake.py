"""Group commit of accepted deliveries: the runs a burst of webhook calls starts are stored together.

Every delivery must be committed to SQL before it is answered. One transaction per delivery makes the
commit (and, on the event loop thread, every driver call that lets other threads take the GIL) the bulk of
the cost of accepting it. Instead, `Intake.start_run()` queues the run and awaits; a flush scheduled on the
event loop stores everything queued meanwhile — the deliveries that arrived in the same turn of the loop —
in one transaction, hands the new runs to the execution queue together (with RQ: one round trip, and jobs
carrying several runs), then wakes each caller with its run id (or
None for a duplicate). A caller is only answered after the commit that holds its run.
"""
from __future__ import annotations

import asyncio
import weakref
from typing import Any, Callable

from .journal import Journal


class Intake:
    """Stores runs in batches, one transaction per turn of the event loop, then submits them for execution."""

    def __init__(self, journal: Journal, submit_many: Callable[[list[str]], None]):
        self.journal = journal
        self.submit_many = submit_many
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[dict[str, Any], asyncio.Future]]] = {}
        self._pinned: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()

    async def start_run(self, **request: Any) -> str | None:
        """Journal.create_run() then submit_many(run ids), answered once the run is committed and queued."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        batch = self._pending.get(loop)
        if batch is None:
            batch = self._pending[loop] = []
            loop.call_soon(self._flush, loop)  # after the callbacks ready now: the other deliveries of this turn
        batch.append((request, future))
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending.pop(loop)
        if loop not in self._pinned:  # this loop's thread keeps one connection for its flushes (Journal.pin)
            self.journal.pin()
            self._pinned.add(loop)
        try:
            results = self.journal.create_runs([request for request, _ in batch])
        except Exception as exc:  # nothing of the batch was stored: each caller fails
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        try:
            self.submit_many([run_id for run_id in results if run_id is not None])
        except Exception as exc:
            # Stored but not queued: every caller of the batch fails, as each would have alone; the runs are
            # queued again by the reaper (rq) or resumed at the next start (inline). Nothing accepted is lost.
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), run_id in zip(batch, results):
            if not future.done():  # a caller may have gone away: its stored run is queued all the same
                future.set_result(run_id)
