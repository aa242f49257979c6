"""Recovery of runs whose worker is gone, for the rq backend; every `beffroi worker` process runs one.

What a worker killed with -9 may hold, and how each comes back within one or two reaper passes:
- runs it claimed (`running` in SQL): handed back with a compare-and-set on (status, claimed_by,
  heartbeat_at) once the owner is gone — a dead pid on this host, a worker silent in Redis for
  LIVENESS_TIMEOUT, or a heartbeat older than owners.STALE_AFTER — so of two reapers only one wins, and a
  run whose owner is alive is never taken;
- a job it had taken from the queue but not started (RQ moves a job to the queue's intermediate list,
  then to the started registry; a live worker does both within milliseconds): a job seen in that list by
  two passes TAKEN_GRACE apart is abandoned. RQ would clean it up only at its ten-minute maintenance,
  and its status stays `queued`, so it looked like a job still waiting;
- a job it had started (in the started registry, `worker_name` set): abandoned once that worker is gone,
  by the same rule as a claim;
- runs queued in SQL older than QUEUED_GRACE with no live job in Redis (a job lost with Redis, or handed
  out by a job that was then deleted).
The reaper that removes an abandoned job from its list or registry (LREM/ZREM answer 1 for one caller
only) queues its runs again; a run queued twice is harmless, since a worker claims a run from `queued`
with a compare-and-set and the second job finds it taken. A run recovered more than MAX_RECOVERIES times in
a day is failed instead (it keeps killing its workers).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.utils import utcparse
from sqlalchemy import select

from .journal import RUNS
from .owners import owner_gone, process_gone
from .rq_backend import RQQueue, decoded, worker_id_of
from .store.models import utcnow

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("beffroi.reaper")

LIVENESS_TIMEOUT = 30.0                # a worker silent this long in Redis is dead (6 missed beats)
QUEUED_GRACE = timedelta(seconds=10)   # a queued run younger than this may still be on its way to Redis
TAKEN_GRACE = 5.0                      # seconds a job may sit between taken and started (a live worker: ms)
UNKNOWN_TAKER_GRACE = 10.0             # seconds a job started by a worker not (yet) beating counts as live
QUEUED_BATCH = 500                     # queued runs checked against Redis per reaper pass
MAX_RECOVERIES = 5                     # a run re-queued more often than this within a day is failed
WAITING = frozenset({"queued", "deferred", "scheduled"})


class Stranded:
    """Runs this process claimed but could not give back (the database was down); its reaper retries."""

    def __init__(self) -> None:
        self.runs: set[str] = set()
        self.lock = threading.Lock()

    def add(self, run_id: str) -> None:
        with self.lock:
            self.runs.add(run_id)

    def discard(self, run_id: str) -> None:
        with self.lock:
            self.runs.discard(run_id)

    def __iter__(self) -> Iterator[str]:
        with self.lock:
            return iter(list(self.runs))

    def __bool__(self) -> bool:
        return bool(self.runs)


def worker_gone(owner: str | None, heartbeat_at: datetime | None, now: datetime, beats: dict[str, float]) -> bool:
    """Is the worker that claimed a run gone? owners.owner_gone (a claim by this pid is stale), or silent in Redis."""
    if owner in beats and time.time() - beats[owner] > LIVENESS_TIMEOUT:
        return True
    return owner_gone(owner, heartbeat_at, now, own_pid_is_stale=True)


def taker_gone(taker: str | None, started_at: str | None, beats: dict[str, float], me: str) -> bool:
    """Is the worker that started a job (its worker id, from the job's RQ worker name) gone?

    A dead process of this host (or this pid's earlier life), a worker silent in Redis, or one that is not in
    the liveness set for UNKNOWN_TAKER_GRACE after it started the job (a clean exit finishes its job first;
    a new worker may take a job a moment before its first beat).
    """
    if taker == me:
        return False
    if taker is not None and process_gone(taker, own_pid_is_stale=True):
        return True
    if taker in beats:
        return time.time() - beats[taker] > LIVENESS_TIMEOUT
    try:
        return time.time() - utcparse(started_at or "").timestamp() > UNKNOWN_TAKER_GRACE
    except ValueError:
        return True


class Reaper:
    """Finds runs whose worker is gone and queues them again; safe to run in every worker at once."""

    def __init__(self, engine: Engine, queue: RQQueue, stranded: Stranded | None = None, *,
                 taken_grace: float = TAKEN_GRACE):
        self.engine = engine
        self.taken_grace = taken_grace
        self.queue = queue
        self.stranded = stranded
        self.liveness_key = f"beffroi:{queue.name}:workers"
        self.taken_seen: dict[str, float] = {}  # job id -> when this reaper first saw it taken but not started

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
        again = [*self._claimed_orphans(now, beats), *self._stranded(), *self._runs_of_abandoned_jobs(beats),
                 *self._lost(now, beats)]
        return self._requeue(list(dict.fromkeys(again)))

    def _claimed_orphans(self, now: datetime, beats: dict[str, float]) -> list[str]:
        """`running` runs whose worker is gone, handed back to `queued` (one reaper wins each)."""
        with self.engine.db.engine.connect() as conn:
            running = conn.execute(select(RUNS.c.id, RUNS.c.claimed_by, RUNS.c.heartbeat_at)
                                   .where(RUNS.c.status == "running")).all()
        again = []
        for run_id, owner, heartbeat_at in running:
            if owner != self.engine.worker_id and worker_gone(owner, heartbeat_at, now, beats) \
                    and self.engine.journal.release(run_id, owner=owner, heartbeat=heartbeat_at):
                log.warning("run %s: its worker %s is gone; queued again", run_id, owner)
                again.append(run_id)
        return again

    def _stranded(self) -> list[str]:
        """Runs this process claimed but could not give back when its runner failed."""
        stranded = self.stranded
        if stranded is None:
            return []
        again = []
        for run_id in stranded:
            if self.engine.journal.release(run_id, owner=self.engine.worker_id):
                again.append(run_id)
            stranded.discard(run_id)  # given back now, or no longer ours (finished, or taken by a reaper)
        return again

    def _runs_of_abandoned_jobs(self, beats: dict[str, float]) -> list[str]:
        """The still-queued runs of jobs a dead worker took (taken but not started, or started); see the docstring."""
        redis, rq = self.queue.redis, self.queue.rq
        mono = time.monotonic()
        taken = [decoded(job_id) for job_id in redis.lrange(rq.intermediate_queue_key, 0, -1)]
        self.taken_seen = {job_id: self.taken_seen.get(job_id, mono) for job_id in taken}
        stuck = [job_id for job_id, seen in self.taken_seen.items() if mono - seen >= self.taken_grace]

        registry = rq.started_job_registry
        started = registry.get_job_and_execution_ids(cleanup=False)
        with redis.pipeline(transaction=False) as pipe:
            for job_id, _ in started:
                pipe.hmget(Job.key_for(job_id), "worker_name", "started_at")
            details = pipe.execute()
        name = self.queue.name
        dead = [(job_id, execution_id) for (job_id, execution_id), (taker, started_at) in zip(started, details)
                if taker_gone(worker_id_of(name, taker and taker.decode()), started_at and started_at.decode(),
                              beats, self.engine.worker_id)]
        if not stuck and not dead:
            return []
        with redis.pipeline(transaction=False) as pipe:  # whoever removes an entry owns the job's recovery
            for job_id in stuck:
                pipe.lrem(rq.intermediate_queue_key, 1, job_id)
            for job_id, execution_id in dead:
                pipe.zrem(registry.key, f"{job_id}:{execution_id}")
            won = pipe.execute()
        jobs = [job_id for job_id, removed in zip([*stuck, *(j for j, _ in dead)], won) if removed]
        for job_id in stuck:
            self.taken_seen.pop(job_id, None)
        run_ids: list[str] = []
        for job_id in jobs:
            try:
                job = Job.fetch(job_id, connection=redis, serializer=rq.serializer)
            except NoSuchJobError:
                continue
            runs = job.args[0] if job.args and isinstance(job.args[0], list) else list(job.args[:1])
            log.warning("job %s (%d runs) was taken by a worker that is gone; its runs are queued again",
                        job_id, len(runs))
            run_ids.extend(runs)
            with redis.pipeline(transaction=False) as pipe:
                pipe.delete(job.key)
                if runs:
                    pipe.hdel(self.queue.jobs_key, *runs)
                pipe.execute()
        if not run_ids:
            return []
        with self.engine.db.engine.connect() as conn:  # the claimed ones come back through _claimed_orphans
            return list(conn.scalars(select(RUNS.c.id).where(RUNS.c.id.in_(run_ids), RUNS.c.status == "queued")))

    def _lost(self, now: datetime, beats: dict[str, float]) -> list[str]:
        """Runs queued in SQL for QUEUED_GRACE that no live job in Redis carries."""
        with self.engine.db.engine.connect() as conn:
            queued = conn.scalars(select(RUNS.c.id).where(RUNS.c.status == "queued",
                                                          RUNS.c.created_at < now - QUEUED_GRACE)
                                  .order_by(RUNS.c.created_at).limit(QUEUED_BATCH)).all()
        if not queued:
            return []
        again = []
        for run_id, (status, started_at, taker) in self.queue.job_states(list(queued)).items():
            if status in WAITING or (status == "started" and not taker_gone(
                    worker_id_of(self.queue.name, taker), started_at, beats, self.engine.worker_id)):
                continue
            log.warning("run %s: queued in SQL without a live job in Redis (%s); queued again", run_id, status)
            again.append(run_id)
        return again

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
