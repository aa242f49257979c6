"""`beffroi worker`: executes the runs queued in Redis, and re-queues the runs whose worker died.

Worker model. RQ's default `Worker` forks a work horse per job (~25 ms, and the child starts without a
warm database pool or plugin registry), which would cost more than a whole run. A `beffroi worker`
process is one RQ `SimpleWorker` thread (no fork; rq_worker.py) that takes jobs from Redis, and `threads`
runner threads that execute runs, all sharing one Engine — one plugin registry, one SQL connection per
runner thread, one outbound HTTP client. A job carries up to BATCH runs (rq_backend.py); the RQ thread
takes a job only when a runner thread is free, and hands each of its runs to the next free runner thread
as soon as there is one. A run whose turn does not come within HANDOFF_WAIT (every thread is busy with
slow runs) goes back to the head of the Redis queue with the rest of its job, for any worker to take:
a batch never waits behind one slow run. Several runner threads, because a run mostly waits: on its
step's remote API (seconds for a social network) and on each durable commit; N threads keep N runs in
flight. CPU-bound work does not scale past one core this way: start one process per core for that.

Shutdown: the first SIGTERM/SIGINT stops taking jobs (a job being handed out gives its remaining runs back
to Redis) and lets the runs in progress finish; a second one exits at once, and those runs are resumed at
their unfinished step like after a crash.

Recovery: each process runs a reaper thread (reaper.py) and beats in Redis so that other reapers know it
is alive.
"""
from __future__ import annotations

import argparse
import logging
import os
import queue as queues
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from rq.serializers import JSONSerializer

from .reaper import Reaper, Stranded
from .rq_backend import RQQueue, rq_worker_name
from .rq_worker import RunWorker

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("beffroi.worker")

BEAT_EVERY = 5.0      # liveness beat of each worker process, in Redis (reaper.LIVENESS_TIMEOUT: 6 missed beats)
HANDOFF_WAIT = 2.0    # seconds a taken run may wait for a free runner thread before going back to Redis
LEAVE_WAIT = 10.0     # seconds the RQ thread gets to leave after a stop or its burst's end (normally < 1.5)


class Dispatcher:
    """Hands the runs of the jobs this process takes to its runner threads, and runs them."""

    def __init__(self, engine: Engine, queue: RQQueue, threads: int):
        self.engine = engine
        self.queue = queue
        self.free = threads
        self.changed = threading.Condition()
        self.runs: queues.SimpleQueue[str | None] = queues.SimpleQueue()
        self.stopping = threading.Event()
        self.executed = 0
        self.stranded = Stranded()
        self.threads = [threading.Thread(target=self._runner, name=f"beffroi-run-{i}") for i in range(threads)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def ready(self, timeout: float) -> bool:
        """Is a runner thread free (waiting up to `timeout` for one)?"""
        with self.changed:
            return self.changed.wait_for(lambda: self.free > 0 or self.stopping.is_set(), timeout) and self.free > 0

    def dispatch(self, run_ids: list[str]) -> list[str]:
        """Give each run to a free runner thread; the runs that found none in time go back to Redis.

        Returns the runs handed out (the others are in a new job at the head of the queue).
        """
        handed: list[str] = []
        for index, run_id in enumerate(run_ids):
            with self.changed:  # (re-entrant: ready() takes it too)
                taken = self.ready(HANDOFF_WAIT) and not self.stopping.is_set()
                if taken:
                    self.free -= 1
            if not taken:
                rest = run_ids[index:]
                self.queue.submit_many(rest, at_front=True)
                log.info("%d run(s) given back to the queue: %s", len(rest),
                         "stopping" if self.stopping.is_set() else "every runner thread is busy")
                break
            self.runs.put(run_id)
            handed.append(run_id)
        return handed

    def _runner(self) -> None:
        with self.engine.journal.pinned():  # one SQL connection per runner thread for all its runs
            while (run_id := self.runs.get()) is not None:
                try:
                    self.execute(run_id)
                finally:
                    with self.changed:
                        self.free += 1
                        self.changed.notify_all()

    def execute(self, run_id: str) -> None:
        """Claim the queued run and execute it to its end; never raises."""
        engine = self.engine
        try:
            status = engine.runner.execute(run_id)
        except Exception:
            # Not a step failure (the runner records those): the database or the runner itself failed. Give the
            # run back so it does not stay `running` under this live worker forever; the reaper re-queues it.
            log.exception("run %s: the runner failed; giving the run back", run_id)
            try:
                if engine.journal.release(run_id, owner=engine.worker_id):
                    return  # queued again in SQL; the reaper queues it again in Redis
            except Exception:
                log.exception("run %s: could not give the run back; the reaper will retry", run_id)
            self.stranded.add(run_id)
            return
        if status is not None:
            with self.changed:
                self.executed += 1

    def stop(self) -> None:
        """Hand out no more runs (those of the job in hand go back to Redis)."""
        self.stopping.set()
        with self.changed:
            self.changed.notify_all()

    def join(self) -> None:
        """Let the runner threads finish the runs they were given, then end them."""
        for _ in self.threads:
            self.runs.put(None)
        for thread in self.threads:
            thread.join()


# RQ calls a job function by its dotted path with JSON arguments only, so the Dispatcher cannot be passed
# to it; `run_worker` puts this process's Dispatcher here before the first job and removes it after the
# last. It is set only in `beffroi worker` processes (never in the API or the CLI) and Engine itself still
# keeps no globals; one Engine per process is also what RQ's worker model implies.
_current: Dispatcher | None = None


def execute_runs(run_ids: list[str]) -> list[str]:
    """The RQ job (rq_backend.JOB_FUNCTION): hand each run to a runner thread; returns the runs handed out."""
    if _current is None:
        raise RuntimeError("beffroi runs are executed by `beffroi worker` processes, not by a plain `rq worker`")
    if not isinstance(run_ids, list) or not all(isinstance(r, str) for r in run_ids):
        raise TypeError("execute_runs takes a list of run ids")
    return _current.dispatch(run_ids)


def execute_run(run_id: str) -> list[str]:
    """A one-run job as queued by earlier versions (rq_backend.SINGLE_JOB_FUNCTION)."""
    return execute_runs([run_id])


def run_worker(engine: Engine, *, queue_name: str = "beffroi", burst: bool = False, reaper_interval: float = 15.0,
               threads: int | None = None) -> int:
    """Execute runs from the Redis queue until stopped (or, with burst, until it is empty); returns the count."""
    global _current
    if not engine.settings.redis_url:
        raise ValueError("beffroi worker needs BEFFROI_REDIS_URL")
    if _current is not None:
        raise RuntimeError("one beffroi worker per process")
    count = max(1, threads or engine.settings.worker_threads)
    queue = RQQueue(engine.settings.redis_url, queue_name)
    dispatcher = _current = Dispatcher(engine, queue, count)
    reaper = Reaper(engine, queue, dispatcher.stranded)
    done = threading.Event()
    engine.start_heartbeat()
    fetcher = RunWorker([queue.rq], name=rq_worker_name(queue_name, engine.worker_id),
                        connection=queue.redis, serializer=JSONSerializer, log_job_description=False)
    fetcher.ready = dispatcher.ready
    rq_level = "DEBUG" if engine.settings.log_level.upper() == "DEBUG" else "WARNING"

    def every(seconds: float, what: str, action) -> threading.Thread:
        def loop() -> None:
            while True:
                try:
                    action()
                except Exception:
                    log.exception("%s failed", what)
                if done.wait(seconds):
                    return
        return threading.Thread(target=loop, name=f"beffroi-{what.split()[0]}", daemon=True)

    stopping = threading.Event()

    def stop() -> None:
        stopping.set()
        fetcher.stop()
        dispatcher.stop()

    def on_signal(signum, _frame) -> None:
        if stopping.is_set():
            log.warning("second signal: exiting now; the runs in progress are resumed by a reaper")
            os._exit(128 + signum)
        stopping.set()  # before the line: once it is out, a second signal exits at once
        log.warning("signal %s: finishing the runs in progress (signal again to exit at once)", signum)
        stop()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    helpers = [every(BEAT_EVERY, "liveness beat", reaper.beat), every(reaper_interval, "reaper pass", reaper.reap)]
    # A daemon: should RQ's teardown hang on Redis beyond LEAVE_WAIT, the process exits without it.
    taking = threading.Thread(target=fetcher.work, kwargs={"burst": burst, "logging_level": rq_level},
                              name="beffroi-rq", daemon=True)
    log.info("worker %s: %d runner thread(s) on queue %r", engine.worker_id, count, queue_name)
    try:
        dispatcher.start()
        for thread in (*helpers, taking):
            thread.start()
        leaving_since = None
        while taking.is_alive():
            taking.join(0.5)
            if leaving_since is None and (stopping.is_set() or fetcher.leaving.is_set()):
                leaving_since = time.monotonic()
            elif leaving_since is not None and time.monotonic() - leaving_since > LEAVE_WAIT:
                log.warning("the thread taking jobs from Redis did not leave within %g s; stopping without it",
                            LEAVE_WAIT)
                break
        if not burst and not stopping.is_set():
            log.error("the thread taking jobs from Redis stopped unexpectedly; stopping this worker")
            stop()
        dispatcher.join()
    finally:
        done.set()
        for thread in helpers:
            thread.join(5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            reaper.forget()
        except Exception:
            log.warning("could not leave the liveness set", exc_info=True)
        queue.shutdown()
        _current = None
    log.info("worker %s stopped: %d runs executed", engine.worker_id, dispatcher.executed)
    return dispatcher.executed


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """`beffroi worker [--queue NAME] [--burst] [--threads N] [--reaper-interval S]`, configured by BEFFROI_*.

    Also `python -c "from beffroi.worker import main; main()"`. Exit status 0 after a clean stop.
    """
    parser = argparse.ArgumentParser(prog="beffroi worker", description="Execute runs queued in Redis.")
    parser.add_argument("--queue", default=os.environ.get("BEFFROI_QUEUE_NAME", "beffroi"),
                        help="RQ queue name (default: BEFFROI_QUEUE_NAME, else beffroi)")
    parser.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    parser.add_argument("--threads", type=_positive, default=None,
                        help="runs in flight (default: BEFFROI_WORKER_THREADS, else 16)")
    parser.add_argument("--reaper-interval", type=float, metavar="SECONDS",
                        default=float(os.environ.get("BEFFROI_REAPER_INTERVAL", "15")),
                        help="seconds between two searches for orphaned runs (default: 15)")
    args = parser.parse_args(argv)
    from .engine import Engine, check_setup
    from .settings import Settings

    settings = Settings.from_environment()
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if settings.log_level.upper() != "DEBUG":  # alembic says what it loads and checks at INFO, at every start
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if not settings.redis_url:
        print("error: beffroi worker needs BEFFROI_REDIS_URL", file=sys.stderr)
        return 2
    engine = Engine(settings)
    try:
        check_setup(settings)
        executed = run_worker(engine, queue_name=args.queue, burst=args.burst, reaper_interval=args.reaper_interval,
                              threads=args.threads)
    finally:
        engine.close()
    print(f"beffroi worker {engine.worker_id}: {executed} runs executed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
