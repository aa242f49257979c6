"""`beffroi worker`: executes the runs queued in Redis, and re-queues the runs whose worker died.

Worker model. RQ's default `Worker` forks a work horse per job (~25 ms, and the child starts without a
warm database pool or plugin registry), which would cost more than a whole run. A `beffroi worker`
process runs `threads` RQ `SimpleWorker`s (no fork) as threads that share one Engine — one plugin
registry, one SQL connection pool, one outbound HTTP client. Several threads, because a run mostly
waits: on its step's remote API (seconds for a social network) and on each durable commit (an fsync);
N threads keep N runs in flight and PostgreSQL's group commit lets their commits share fsyncs.
CPU-bound work does not scale past one core this way: start one process per core for that.
Each thread is a complete RQ worker (its own name and registries, shown by `rq info`).

Shutdown: the first SIGTERM/SIGINT stops dequeuing and lets the runs in progress finish; a second one
exits at once, and those runs are resumed at their unfinished step like after a crash.

Recovery: each process runs a reaper thread. A `running` run whose owner is gone — a dead pid on this
host, a worker that stopped beating in Redis for LIVENESS_TIMEOUT, or a heartbeat older than the
engine's STALE_AFTER — is handed back with a compare-and-set on (status, claimed_by, heartbeat_at),
so of two reapers only one wins, and a run whose owner is still alive is never taken; the winner
queues it again and a worker claims it from `queued` as usual. A `queued` run is re-queued only when it
is older than QUEUED_GRACE and has no live job in Redis (its job id is its run id): a run waiting in a
long queue is not an orphan.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rq.executions import Execution
from rq.job import JobStatus
from rq.results import Result
from rq.serializers import JSONSerializer
from rq.timeouts import BaseDeathPenalty
from rq.utils import now as rq_now
from rq.utils import utcparse
from rq.worker import SimpleWorker, WorkerStatus
from sqlalchemy import select, update

from .engine import STALE_AFTER, pid_alive
from .journal import RUNS
from .rq_backend import JOB_FUNCTION, RQQueue
from .store.models import utcnow

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("beffroi.worker")

HOST = socket.gethostname()
BEAT_EVERY = 5.0                       # liveness beat of each worker process, in Redis
LIVENESS_TIMEOUT = 30.0                # a worker silent this long in Redis is dead (6 missed beats)
QUEUED_GRACE = STALE_AFTER             # a queued run younger than this may still be on its way to Redis
QUEUED_BATCH = 500                     # queued runs checked against Redis per reaper pass
MAX_RECOVERIES = 5                     # a run re-queued more often than this within a day is failed
RQ_HEARTBEAT_EVERY = 30.0              # RQ worker key refresh (its TTL is 420 s); RQ does it per job
RQ_SUSPENSION_CHECK_EVERY = 1.0        # `rq suspend` is seen within this; RQ checks before each job
WAITING = frozenset({"queued", "deferred", "scheduled"})


class RunnerFailed(Exception):
    """A run failed outside its steps (database, runner); the details are in the worker log, not in Redis."""


class _WorkerProcess:
    """What the job function needs: this process's Engine, and runs it could not give back yet."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.executed = 0
        self.stranded: set[str] = set()
        self.lock = threading.Lock()


# RQ calls a job function by its dotted path with JSON arguments only, so the Engine cannot be passed
# to it; `run_worker` puts this process's Engine here before the first job and removes it after the
# last. It is set only in `beffroi worker` processes (never in the API or the CLI) and Engine itself
# still keeps no globals; one Engine per process is also what RQ's worker model implies.
_current: _WorkerProcess | None = None


def execute_run(run_id: str) -> None:
    """The RQ job (JOB_FUNCTION): claim the queued run and execute it to its end."""
    process = _current
    if process is None:
        raise RuntimeError("beffroi runs are executed by `beffroi worker` processes, not by a plain `rq worker`")
    engine = process.engine
    try:
        status = engine.runner.execute(run_id)
    except Exception as exc:
        # Not a step failure (the runner records those): the database or the runner itself failed. Give the
        # run back so it does not stay `running` under this live worker forever; the reaper re-queues it.
        log.exception("run %s: the runner failed; giving the run back", run_id)
        try:
            if release(engine, run_id, owner=engine.worker_id):
                return  # the job is done; the run is queued again in SQL, the reaper re-queues it
        except Exception:
            log.exception("run %s: could not give the run back; the reaper will retry", run_id)
        with process.lock:
            process.stranded.add(run_id)
        # RQ keeps a failed job's traceback in Redis: keep it free of SQL parameters and run data.
        raise RunnerFailed(f"run {run_id}: {type(exc).__name__} (see the worker log)") from None
    if status is not None:
        with process.lock:
            process.executed += 1


def release(engine: Engine, run_id: str, *, owner: str, heartbeat: Any = ...) -> bool:
    """Compare-and-set a `running` run claimed by `owner` (and, if given, with that heartbeat) back to `queued`.

    True for the one caller that changed it; a run whose owner finished it, or beat in between, is left alone.
    """
    statement = update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status == "running", RUNS.c.claimed_by == owner)
    if heartbeat is not ...:
        statement = statement.where(RUNS.c.heartbeat_at.is_(None) if heartbeat is None
                                    else RUNS.c.heartbeat_at == heartbeat)
    writing = getattr(engine.db, "writing", engine.db.engine.begin)  # serialised per process on SQLite
    with writing() as conn:
        return conn.execute(statement.values(status="queued", claimed_by=None)).rowcount == 1


def owner_gone(owner: str | None, heartbeat_at: datetime | None, now: datetime, beats: dict[str, float]) -> bool:
    """Is the worker that claimed a run gone? The rules of Engine.orphaned, plus the Redis liveness beat."""
    if owner is None:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    if host == HOST and pid.isdigit() and (int(pid) == os.getpid() or not pid_alive(int(pid))):
        return True  # dead, or this very pid in an earlier life (a restarted container's pid 1); `me` is skipped
    if owner in beats and time.time() - beats[owner] > LIVENESS_TIMEOUT:
        return True
    return heartbeat_at is None or now - heartbeat_at > STALE_AFTER


def _job_waiting(status: str | None, started_at: str | None, now: datetime) -> bool:
    """Will this job (status and start from its Redis hash) still execute, or is it executing?"""
    if status in WAITING:
        return True
    if status == "started" and started_at:  # dequeued; the run is claimed within milliseconds unless its worker died
        try:
            return now - utcparse(started_at) < STALE_AFTER
        except ValueError:
            return False
    return False


class Reaper:
    """Finds runs whose worker is gone and queues them again; safe to run in every worker at once."""

    def __init__(self, engine: Engine, queue: RQQueue, process: _WorkerProcess | None = None):
        self.engine = engine
        self.queue = queue
        self.process = process
        self.liveness_key = f"beffroi:{queue.name}:workers"

    def beat(self) -> None:
        """Tell other workers this process is alive."""
        self.queue.redis.zadd(self.liveness_key, {self.engine.worker_id: time.time()})

    def forget(self) -> None:
        """Leave the liveness set (clean exit)."""
        self.queue.redis.zrem(self.liveness_key, self.engine.worker_id)

    def _beats(self) -> dict[str, float]:
        with self.queue.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self.liveness_key, 0, time.time() - 86400)
            pipe.zrange(self.liveness_key, 0, -1, withscores=True)
            _, members = pipe.execute()
        return {member.decode(): score for member, score in members}

    def reap(self) -> list[str]:
        """One pass: hand back and re-queue every orphaned run; returns the run ids queued again."""
        now = utcnow()
        beats = self._beats()
        with self.engine.db.engine.connect() as conn:
            running = conn.execute(select(RUNS.c.id, RUNS.c.claimed_by, RUNS.c.heartbeat_at)
                                   .where(RUNS.c.status == "running")).all()
            queued = conn.scalars(select(RUNS.c.id).where(RUNS.c.status == "queued",
                                                          RUNS.c.created_at < now - QUEUED_GRACE)
                                  .order_by(RUNS.c.created_at).limit(QUEUED_BATCH)).all()
        again: list[str] = []
        me = self.engine.worker_id
        for run_id, owner, heartbeat_at in running:
            if owner != me and owner_gone(owner, heartbeat_at, now, beats) \
                    and release(self.engine, run_id, owner=owner, heartbeat=heartbeat_at):
                log.warning("run %s: its worker %s is gone; queued again", run_id, owner)
                again.append(run_id)
        if self.process is not None and self.process.stranded:
            with self.process.lock:
                stranded = list(self.process.stranded)
            for run_id in stranded:
                if release(self.engine, run_id, owner=me):
                    again.append(run_id)
                with self.process.lock:  # given back now, or no longer ours (finished, or taken by a reaper)
                    self.process.stranded.discard(run_id)
        if queued:
            for run_id, (status, started_at) in self.queue.job_states(list(queued)).items():
                if not _job_waiting(status, started_at, now):
                    log.warning("run %s: queued in SQL without a live job in Redis (%s); queued again", run_id, status)
                    again.append(run_id)
        return self._requeue(again)

    def _requeue(self, run_ids: list[str]) -> list[str]:
        if not run_ids:
            return []
        with self.queue.redis.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                key = f"beffroi:{self.queue.name}:recovered:{run_id}"
                pipe.incr(key)
                pipe.expire(key, 86400)
            counts = pipe.execute()[::2]
        queued = []
        for run_id, count in zip(run_ids, counts):
            if count > MAX_RECOVERIES:  # it keeps killing or failing its workers: stop the loop
                log.error("run %s: recovered %d times in a day; marking it failed", run_id, count - 1)
                self.engine.journal.finish_run(run_id, "failed", f"abandoned after {count - 1} recoveries: "
                                               "its worker died or failed each time (see the worker logs)")
            else:
                queued.append(run_id)
        self.queue.submit_many(queued)
        return queued


class _NoDeathPenalty(BaseDeathPenalty):
    """No RQ job timeout (SIGALRM works in the main thread only): the runner times out each step itself."""

    def setup_death_penalty(self) -> None:
        pass

    def cancel_death_penalty(self) -> None:
        pass


class RunWorker(SimpleWorker):
    """An RQ SimpleWorker that runs in a thread of a `beffroi worker` process.

    A stock SimpleWorker (rq 3.0) spends 27 Redis round trips and ~63 commands on each job, about 3 ms of
    CPU: more than a short run itself. For beffroi's jobs (JOB_FUNCTION, no result kept, no dependents,
    callbacks, repeats, groups or rate limit) the overrides below leave the same state in Redis with 4 round
    trips and ~21 commands (about 1 ms): the worker key and the suspension flag are refreshed every few
    seconds rather than several times per job, the start of a job is one pipeline, and so is its success.
    Any other job goes through RQ's code unchanged. These overrides follow rq 3.x internals.
    """

    death_penalty_class = _NoDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass  # signals belong to the main thread (run_worker), which stops every thread

    def stop(self) -> None:
        """Finish the current job, then leave the work loop."""
        self._stop_requested = True

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        if timeout is None:  # burst: one non-blocking try
            return super().dequeue_job_and_maintain_ttl(None, max_idle_time)
        while not self._stop_requested:  # block 1 s at a time so a stop request is seen promptly
            result = super().dequeue_job_and_maintain_ttl(1, max_idle_time=1)
            if result is not None:
                return result
        return None

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is None and timeout is None and self.last_heartbeat is not None \
                and time.time() - self.last_heartbeat.timestamp() < RQ_HEARTBEAT_EVERY:
            return
        super().heartbeat(timeout, pipeline)

    def set_state(self, state: str, pipeline: Any = None) -> None:
        if pipeline is None and state == self._state:
            return  # RQ sets IDLE after each job and again before each dequeue
        super().set_state(state, pipeline)

    _suspension_checked = 0.0

    def check_for_suspension(self, burst: bool) -> None:
        if time.monotonic() - self._suspension_checked >= RQ_SUSPENSION_CHECK_EVERY:
            super().check_for_suspension(burst)
            self._suspension_checked = time.monotonic()

    def _plain(self, job) -> bool:
        """A beffroi job from this worker's queue, with none of the RQ features the fast path leaves out."""
        plain = getattr(job, "_beffroi_plain", None)
        if plain is None:
            plain = job._beffroi_plain = (
                job.func_name == JOB_FUNCTION and job.origin == self.queues[0].name and job.result_ttl == 0
                and not job.repeats_left and not job.has_rate_limit and not job.group_id and not job._dependency_ids
                and not job.success_callback and not job.failure_callback and not job.webhooks)
        return plain

    def prepare_execution(self, job) -> Execution:
        if not self._plain(job):
            return super().prepare_execution(job)
        # RQ writes this in two MULTI/EXEC pipelines (prepare_execution, then prepare_job_execution in the
        # work horse); a SimpleWorker has no horse, so one plain pipeline carries both.
        ttl = self.get_heartbeat_ttl(job)
        with self.connection.pipeline(transaction=False) as pipe:
            execution = Execution.create(job, ttl, pipeline=pipe, worker_name=self.name)
            self.executions[execution.id] = execution
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            job.prepare_for_execution(self.name, pipeline=pipe)
            pipe.persist(job.key)
            pipe.lrem(self.queues[0].intermediate_queue_key, 1, job.id)
            pipe.execute()
        return execution

    def prepare_job_execution(self, job, remove_from_intermediate_queue: bool = False) -> None:
        if not self._plain(job):  # a plain job was prepared with its execution, in prepare_execution
            super().prepare_job_execution(job, remove_from_intermediate_queue)

    def handle_execution_ended(self, job, queue, heartbeat_ttl: int) -> None:
        if not self._plain(job):
            return super().handle_execution_ended(job, queue, heartbeat_ttl)
        job.ended_at = rq_now()  # RQ also writes a job heartbeat here, for callbacks; beffroi jobs have none

    def handle_job_success(self, job, queue, started_job_registry, execution) -> None:
        if not self._plain(job):
            return super().handle_job_success(job, queue, started_job_registry, execution)
        # What RQ does for a result_ttl=0 job, without its reads (job status, executions) and in one
        # round trip: count the success, delete the job, its execution and their registry entries.
        with self.connection.pipeline(transaction=False) as pipe:
            self.increment_successful_job_count(pipeline=pipe)
            self.increment_total_working_time(job.ended_at - job.started_at, pipe)
            self.cleanup_execution(job, pipeline=pipe, execution=execution)
            pipe.delete(job.key, job.dependents_key, job.dependencies_key, Result.get_key(job.id),
                        job.execution_registry.key)
            self.set_state(WorkerStatus.IDLE, pipeline=pipe)
            pipe.execute()
        job._status = JobStatus.FINISHED


def run_worker(engine: Engine, *, queue_name: str = "beffroi", burst: bool = False, reaper_interval: float = 15.0,
               threads: int | None = None) -> int:
    """Execute runs from the Redis queue until stopped (or, with burst, until it is empty); returns the count."""
    global _current
    if not engine.settings.redis_url:
        raise ValueError("beffroi worker needs BEFFROI_REDIS_URL")
    if _current is not None:
        raise RuntimeError("one beffroi worker per process")
    count = max(1, threads or engine.settings.workers)
    process = _current = _WorkerProcess(engine)
    queue = RQQueue(engine.settings.redis_url, queue_name)
    reaper = Reaper(engine, queue, process)
    done = threading.Event()
    engine.start_heartbeat()
    name = f"{queue_name}.{engine.worker_id.replace(':', '.')}"
    workers = [RunWorker([queue.rq], name=f"{name}.{i}", connection=queue.redis, serializer=JSONSerializer,
                         log_job_description=False) for i in range(count)]
    rq_level = "DEBUG" if engine.settings.log_level.upper() == "DEBUG" else "WARNING"

    def beating() -> None:
        while True:
            try:
                reaper.beat()
            except Exception:
                log.exception("liveness beat failed")
            if done.wait(BEAT_EVERY):
                return

    def reaping() -> None:
        while True:
            try:
                reaper.reap()
            except Exception:
                log.exception("reaper pass failed")
            if done.wait(reaper_interval):
                return

    stopping = threading.Event()

    def on_signal(signum, _frame) -> None:
        if stopping.is_set():
            log.warning("second signal: exiting now; the runs in progress are resumed by a reaper")
            os._exit(128 + signum)
        log.warning("signal %s: finishing the runs in progress (signal again to exit at once)", signum)
        stopping.set()
        for worker in workers:
            worker.stop()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    helpers = [threading.Thread(target=beating, name="beffroi-liveness", daemon=True),
               threading.Thread(target=reaping, name="beffroi-reaper", daemon=True)]
    def working(worker: RunWorker) -> None:
        with engine.journal.pinned():  # one SQL connection per thread for all its runs
            worker.work(burst=burst, logging_level=rq_level)

    pool = [threading.Thread(target=working, args=(w,), name=f"beffroi-worker-{i}") for i, w in enumerate(workers)]
    log.info("worker %s: %d thread(s) on queue %r", engine.worker_id, count, queue_name)
    try:
        for thread in helpers + pool:
            thread.start()
        while any(t.is_alive() for t in pool):
            for thread in pool:
                thread.join(0.5)
                if not thread.is_alive() and not burst and not stopping.is_set():
                    log.error("a worker thread stopped unexpectedly; stopping this worker")
                    stopping.set()
                    for worker in workers:
                        worker.stop()
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
    log.info("worker %s stopped: %d runs executed", engine.worker_id, process.executed)
    return process.executed


def main(argv: list[str] | None = None) -> int:
    """`beffroi worker [--queue NAME] [--burst] [--threads N] [--reaper-interval S]`, configured by BEFFROI_*.

    Also `python -c "from beffroi.worker import main; main()"`. Exit status 0 after a clean stop.
    """
    parser = argparse.ArgumentParser(prog="beffroi worker", description="Execute runs queued in Redis.")
    parser.add_argument("--queue", default=os.environ.get("BEFFROI_QUEUE_NAME", "beffroi"),
                        help="RQ queue name (default: BEFFROI_QUEUE_NAME, else beffroi)")
    parser.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    parser.add_argument("--threads", type=int, default=None, help="runs in flight (default: BEFFROI_WORKERS)")
    parser.add_argument("--reaper-interval", type=float, metavar="SECONDS",
                        default=float(os.environ.get("BEFFROI_REAPER_INTERVAL", "15")),
                        help="seconds between two searches for orphaned runs (default: 15)")
    args = parser.parse_args(argv)
    from .engine import Engine
    from .settings import Settings

    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if not settings.redis_url:
        print("error: beffroi worker needs BEFFROI_REDIS_URL", file=sys.stderr)
        return 2
    engine = Engine(settings)
    try:
        executed = run_worker(engine, queue_name=args.queue, burst=args.burst, reaper_interval=args.reaper_interval,
                              threads=args.threads)
    finally:
        engine.close()
    print(f"beffroi worker {engine.worker_id}: {executed} runs executed", flush=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
