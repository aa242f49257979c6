"""Execution backends: `inline` (a thread pool in this process) and `rq` (Redis; see rq_backend.py)."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Protocol

log = logging.getLogger("beffroi.queue")


class RunQueue(Protocol):
    """Where accepted runs go to be executed; carries run ids only."""

    def submit(self, run_id: str) -> None:
        """Hand a queued run to a worker."""

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop taking runs; let started ones finish (or leave them resumable)."""


class InlineQueue:
    """Runs execute in a thread pool of this process (the embedded default)."""

    def __init__(self, execute: Callable[[str], object], workers: int = 4):
        self._execute = execute
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="beffroi-run")
        self._closing = threading.Event()

    def submit(self, run_id: str) -> None:
        """Execute the run on a pool thread; after shutdown it stays queued in SQL and resumes on the next start."""
        if self._closing.is_set():
            return
        self._pool.submit(self._safe, run_id)

    def _safe(self, run_id: str) -> None:
        if self._closing.is_set():
            return  # not started: still `queued` in the database, resumed at the next start
        try:
            self._execute(run_id)
        except Exception:
            log.exception("run %s crashed in the runner", run_id)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Refuse new runs, drop not-yet-started ones (they stay queued in SQL), wait for the running ones."""
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
