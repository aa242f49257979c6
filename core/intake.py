"""Group commit of accepted deliveries: the runs a burst of webhook calls starts are stored together.

Every delivery must be committed to SQL before it is answered. One transaction per delivery makes the
commit (and, on the event loop thread, every driver call that lets other threads take the GIL) the bulk of
the cost of accepting it. Instead, `Intake.start_run()` queues the run and awaits; a flush stores
everything queued meanwhile in one transaction, hands the new runs to the execution queue together (with
RQ: one round trip, and jobs carrying several runs), then wakes each caller with its run id (or None for
a duplicate). A caller is only answered after the commit that holds its run.

Where the flush runs depends on the database. SQLite commits in microseconds in this process: the flush
runs on the event loop, once per turn of the loop, and holds the deliveries of that turn. A server database
(PostgreSQL) makes each commit wait for the network and the disk: the flush then runs in the intake's own
thread, one at a time, while the loop goes on accepting — the deliveries that arrive during a commit form
the next batch, so the batches grow with the load instead of the loop standing still.
"""
from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .journal import Journal

Batch = list[tuple[dict[str, Any], asyncio.Future]]


class Intake:
    """Stores runs in batches (group commit), then submits them for execution."""

    def __init__(self, journal: Journal, submit_many: Callable[[list[str]], None], *, in_thread: bool = False):
        self.journal = journal
        self.submit_many = submit_many
        self._pending: dict[asyncio.AbstractEventLoop, Batch] = {}
        self._busy: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()  # a flush is in the thread
        self._pinned: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="beffroi-intake") if in_thread else None
        self._thread_pinned = False

    async def start_run(self, **request: Any) -> str | None:
        """Journal.create_run() then submit_many(run ids), answered once the run is committed and queued."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        batch = self._pending.get(loop)
        if batch is None:
            batch = self._pending[loop] = []
            if loop not in self._busy:  # else the flush in progress starts the next one when it is done
                loop.call_soon(self._flush, loop)  # after the callbacks ready now: the deliveries of this turn
        batch.append((request, future))
        return await future

    def close(self) -> None:
        """Stop the intake's thread (a flush in progress completes first)."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending.pop(loop, None)
        if not batch:
            return
        if self._thread is None:
            if loop not in self._pinned:  # this loop's thread keeps one connection for its flushes (Journal.pin)
                self.journal.pin()
                self._pinned.add(loop)
            self._answer(batch, *self._store(batch))
            return
        self._busy.add(loop)
        stored = loop.run_in_executor(self._thread, self._store_in_thread, batch)
        stored.add_done_callback(lambda done: self._stored(loop, batch, done))

    def _store_in_thread(self, batch: Batch) -> tuple[list | None, Exception | None]:
        if not self._thread_pinned:  # the intake's one thread keeps one connection
            self.journal.pin()
            self._thread_pinned = True
        return self._store(batch)

    def _stored(self, loop: asyncio.AbstractEventLoop, batch: Batch, done: asyncio.Future) -> None:
        self._busy.discard(loop)
        self._answer(batch, *done.result())
        self._flush(loop)  # the deliveries that arrived during this commit

    def _store(self, batch: Batch) -> tuple[list | None, Exception | None]:
        """Commit the batch's runs and queue them: (run ids, None), or the error every caller gets."""
        try:
            results = self.journal.create_runs([request for request, _ in batch])
        except Exception as exc:  # noqa: BLE001 - nothing of the batch was stored
            return None, exc
        try:
            self.submit_many([run_id for run_id in results if run_id is not None])
        except Exception as exc:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
            # Stored but not queued: every caller of the batch fails, as each would have alone; the runs are
            # queued again by the reaper (rq) or resumed at the next start (inline). Nothing accepted is lost.
            return results, exc
        return results, None

    @staticmethod
    def _answer(batch: Batch, results: list | None, error: Exception | None) -> None:
        for index, (_, future) in enumerate(batch):
            if future.done():  # the caller went away: its stored run is queued all the same
                continue
            if error is not None:
                future.set_exception(error)
            else:
                assert results is not None  # _store gives the run ids whenever it gives no error
                future.set_result(results[index])
