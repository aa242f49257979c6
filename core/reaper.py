"""Recovery of runs whose worker is gone, for the rq backend; every `beffroi worker` process runs one.

A `running` run whose owner is gone — a dead pid on this host, a worker that stopped beating in Redis for
LIVENESS_TIMEOUT, or a heartbeat older than owners.STALE_AFTER — is handed back with a
compare-and-set on (status, claimed_by, heartbeat_at), so of two reapers only one wins, and a run whose
owner is still alive is never taken; the winner queues it again and a worker claims it from `queued` as
usual. A `queued` run is re-queued only when it is older than QUEUED_GRACE and has no live job in Redis:
a run waiting in a long queue is not an orphan. A run recovered more than MAX_RECOVERIES times in a day
is failed instead (it keeps killing its workers).
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

from rq.utils import utcparse
from sqlalchemy import select

from .journal import RUNS
from .owners import STALE_AFTER, owner_gone
from .rq_backend import RQQueue
from .store.models import utcnow

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("beffroi.reaper")

LIVENESS_TIMEOUT = 30.0                # a worker silent this long in Redis is dead (6 missed beats)
QUEUED_GRACE = STALE_AFTER             # a queued run younger than this may still be on its way to Redis
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

    def __iter__(self):
        with self.lock:
            return iter(list(self.runs))

    def __bool__(self) -> bool:
        return bool(self.runs)


def worker_gone(owner: str | None, heartbeat_at: datetime | None, now: datetime, beats: dict[str, float]) -> bool:
    """Is the worker that claimed a run gone? owners.owner_gone (a claim by this pid is stale), or silent in Redis."""
    if owner in beats and time.time() - beats[owner] > LIVENESS_TIMEOUT:
        return True
    return owner_gone(owner, heartbeat_at, now, own_pid_is_stale=True)


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

    def __init__(self, engine: Engine, queue: RQQueue, stranded: Stranded | None = None):
        self.engine = engine
        self.queue = queue
        self.stranded = stranded
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
            if owner != me and worker_gone(owner, heartbeat_at, now, beats) \
                    and self.engine.journal.release(run_id, owner=owner, heartbeat=heartbeat_at):
                log.warning("run %s: its worker %s is gone; queued again", run_id, owner)
                again.append(run_id)
        for run_id in self.stranded or ():
            if self.engine.journal.release(run_id, owner=me):
                again.append(run_id)
            self.stranded.discard(run_id)  # given back now, or no longer ours (finished, or taken by a reaper)
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
