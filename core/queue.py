"""Execution backends: `inline` (a thread pool in this process) and `rq` (Redis; see rq_backend.py)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from queue import SimpleQueue
from typing import Protocol

log = logging.getLogger("beffroi.queue")


class RunQueue(Protocol):
    """Where accepted runs go to be executed; carries run ids only."""

    def submit(self, run_id: str) -> None:
        """Hand a queued run to a worker."""

    def submit_many(self, run_ids: Iterable[str]) -> None:
        """Hand several queued runs to workers at once."""

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop taking runs; let started ones finish (or leave them resumable)."""


class InlineQueue:
    """Runs execute on a few threads of this process (the embedded default).

    A plain C queue feeds the threads (no Future or callback per run, as a ThreadPoolExecutor would make):
    submitting is what the event loop pays for each accepted delivery. The threads start with the first run.
    """

    def __init__(self, execute: Callable[[str], object], workers: int = 4, *,
                 initializer: Callable[[], object] | None = None):
        self._execute = execute
        self._workers = workers
        self._initializer = initializer  # run once in each thread (the engine pins a journal connection to it)
        self._items: SimpleQueue[str | None] = SimpleQueue()
        self._state = threading.Condition()  # guards _closing, _busy and _threads
        self._closing = False
        self._busy = 0
        self._threads: list[threading.Thread] = []

    def submit(self, run_id: str) -> None:
        """Execute the run on a thread; after shutdown it stays queued in SQL and resumes on the next start."""
        self.submit_many((run_id,))

    def submit_many(self, run_ids: Iterable[str]) -> None:
        """Execute each run on the next free thread, in order."""
        if not self._threads:
            self._start()
        if self._closing:
            return
        put = self._items.put
        for run_id in run_ids:
            put(run_id)

    def _start(self) -> None:
        with self._state:
            if self._threads or self._closing:
                return
            self._threads = [threading.Thread(target=self._work, name=f"beffroi-run-{i}", daemon=True)
                             for i in range(self._workers)]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        if self._initializer is not None:
            try:
                self._initializer()
            except Exception:  # the thread still runs runs, only without what the initializer prepares
                log.exception("the initializer of a run thread failed")
        get, state = self._items.get, self._state
        while True:
            run_id = get()
            if run_id is None:
                return
            with state:
                if self._closing:
                    continue  # not started: still `queued` in the database, resumed at the next start
                self._busy += 1
            try:
                self._execute(run_id)
            except Exception:
                log.exception("run %s crashed in the runner", run_id)
            finally:
                with state:
                    self._busy -= 1
                    if not self._busy:
                        state.notify_all()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Refuse new runs, drop not-yet-started ones (they stay queued in SQL), wait a while for running ones.

        A run still going after `timeout` is left `running` under this process id; the next start sees
        the process is gone and resumes it at its unfinished step. A second call returns at once.
        """
        with self._state:
            if self._closing:
                return
            self._closing = True
            threads = list(self._threads)
        for _ in threads:
            self._items.put(None)  # after the runs already queued: each thread drops those, then stops
        with self._state:
            self._state.wait_for(lambda: not self._busy, timeout)
