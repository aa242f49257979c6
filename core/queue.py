"""Execution backends: `inline` (a thread pool in this process) and `rq` (Redis; see rq_backend.py)."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Callable, Iterable, Protocol

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
    """Runs execute in a thread pool of this process (the embedded default)."""

    def __init__(self, execute: Callable[[str], object], workers: int = 4, *,
                 initializer: Callable[[], object] | None = None):
        self._execute = execute
        # initializer: run once in each pool thread (the engine pins a journal connection to it)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="beffroi-run", initializer=initializer)
        self._closing = threading.Event()
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def submit(self, run_id: str) -> None:
        """Execute the run on a pool thread; after shutdown it stays queued in SQL and resumes on the next start."""
        if self._closing.is_set():
            return
        future = self._pool.submit(self._safe, run_id)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def submit_many(self, run_ids: Iterable[str]) -> None:
        """Execute each run on a pool thread."""
        for run_id in run_ids:
            self.submit(run_id)

    def _done(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def _safe(self, run_id: str) -> None:
        if self._closing.is_set():
            return  # not started: still `queued` in the database, resumed at the next start
        try:
            self._execute(run_id)
        except Exception:
            log.exception("run %s crashed in the runner", run_id)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Refuse new runs, drop not-yet-started ones (they stay queued in SQL), wait a while for running ones.

        A run still going after `timeout` is left `running` under this process id; the next start sees
        the process is gone and resumes it at its unfinished step. A second call returns at once.
        """
        if self._closing.is_set():
            return
        self._closing.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)
