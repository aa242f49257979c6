"""The `rq` execution backend: runs go to Redis as RQ jobs that carry run ids and nothing else.

A job is `beffroi.worker.execute_runs(run_ids)`, named by its dotted path and serialized with RQ's JSON
serializer: no pickle (a worker never unpickles what is in Redis), no recipe, no event, no secret — the
worker reads everything else from SQL. Runs submitted together (a burst of webhook deliveries stored in
one transaction, a reaper pass) share jobs of up to BATCH runs: RQ's own work per
job (about twenty Redis commands and its Python around them) is then paid once per batch rather than once
per run. A worker takes a job only when one of its threads is free and hands each run to a free thread,
so a batch never waits behind one slow run (see worker.py).

`beffroi:{queue}:jobs` maps each waiting run id to its job id, so "is this run still waiting in Redis?"
stays two lookups for the reaper; a worker removes the entries with the job, once it has handed the runs out. Jobs
queued by earlier versions (`execute_run(run_id)`, job id = run id) are still executed and recognised.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable

from redis import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from .errors import SetupError

JOB_FUNCTION = "beffroi.worker.execute_runs"
SINGLE_JOB_FUNCTION = "beffroi.worker.execute_run"  # one run per job, as queued by earlier versions
BATCH = 20  # runs per job at most
# A job that raised (an infrastructure error; step failures are recorded in SQL, not raised) stays in
# RQ's failed registry this long for `rq info`; its runs are still `queued` in SQL and the reaper re-queues them.
FAILURE_TTL = 24 * 3600


def decoded(value: bytes | str) -> str:
    """A Redis reply as text (the client returns bytes: it does not decode responses)."""
    return value.decode() if isinstance(value, bytes) else value


def jobs_key(queue_name: str) -> str:
    """The Redis hash mapping each waiting run id of a queue to the id of the job that carries it."""
    return f"beffroi:{queue_name}:jobs"


def job_key(run_ids: list[str]) -> str:
    """The id of a new job carrying these runs (the run id itself for a single run, as `rq info` shows it)."""
    return run_ids[0] if len(run_ids) == 1 else f"batch-{uuid.uuid4().hex}"


def rq_worker_name(queue_name: str, worker_id: str) -> str:
    """The name a `beffroi worker` process has in RQ (a job's `worker_name` once it took the job)."""
    return f"{queue_name}.{worker_id.replace(':', '.')}"


def worker_id_of(queue_name: str, rq_name: str | None) -> str | None:
    """The worker id (`host:pid:suffix`) behind an RQ worker name made by rq_worker_name, or None."""
    if not rq_name or not rq_name.startswith(f"{queue_name}."):
        return None
    parts = rq_name[len(queue_name) + 1:].rsplit(".", 2)  # a host name keeps its dots; pid and suffix have none
    return ":".join(parts) if len(parts) == 3 else None


def require_redis(redis_url: str) -> None:
    """Refuse to start (SetupError) when Redis cannot be reached: runs would be stored and never executed."""
    try:
        client = Redis.from_url(redis_url, socket_connect_timeout=5)
    except ValueError as exc:
        raise SetupError(f"BEFFROI_REDIS_URL is not a Redis URL: {exc}") from None
    shown = client.connection_pool.connection_kwargs
    where = f"{shown.get('host', '?')}:{shown.get('port', '?')}/{shown.get('db', 0)}"
    try:
        client.ping()
    except RedisError as exc:
        raise SetupError(f"cannot reach Redis at {where} (BEFFROI_REDIS_URL): {exc}") from None
    finally:
        client.close()


class RQQueue:
    """Queues runs to Redis for `beffroi worker` processes; one round trip per submit (or per batch)."""

    def __init__(self, redis_url: str, queue_name: str = "beffroi", *, connection: Redis | None = None):
        self.redis = connection if connection is not None else Redis.from_url(redis_url)
        self.name = queue_name
        self.rq = Queue(queue_name, connection=self.redis, serializer=JSONSerializer)
        self.jobs_key = jobs_key(queue_name)

    def submit(self, run_id: str) -> None:
        """Queue one run (its row is already `queued` in SQL)."""
        self.submit_many((run_id,))

    def submit_many(self, run_ids: Iterable[str], *, at_front: bool = False) -> None:
        """Queue several runs, BATCH to a job, in one MULTI/EXEC round trip (`at_front`: ahead of the others)."""
        run_ids = list(run_ids)
        if not run_ids:
            return
        entries: dict[FieldT, EncodableT] = {}
        with self.redis.pipeline() as pipe:
            for start in range(0, len(run_ids), BATCH):
                part = run_ids[start:start + BATCH]
                job_id = job_key(part)
                entries.update(dict.fromkeys(part, job_id))
                # timeout=-1: no RQ job timeout; the runner enforces step timeouts itself, and an RQ timeout
                # would only abort a run half-way. result_ttl=0: nothing to keep, the result is in SQL.
                self.rq.enqueue_call(JOB_FUNCTION, args=[part], job_id=job_id,
                                     description=f"beffroi runs ({len(part)})", timeout=-1, result_ttl=0,
                                     failure_ttl=FAILURE_TTL, at_front=at_front, pipeline=pipe)
            pipe.hset(self.jobs_key, mapping=entries)  # in the same MULTI/EXEC as the jobs (RQ opens it)
            pipe.execute()

    def job_states(self, run_ids: list[str]) -> dict[str, tuple[str | None, str | None, str | None]]:
        """(status, started_at, worker_name) of the job carrying each run, all None where there is none."""
        if not run_ids:
            return {}
        jobs = [decoded(job) if job is not None else run_id  # no entry: a one-run job of an earlier version
                for run_id, job in zip(run_ids, self.redis.hmget(self.jobs_key, run_ids))]
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in jobs:
                pipe.hmget(Job.key_for(job_id), "status", "started_at", "worker_name")
            answers = pipe.execute()
        states = {}
        for run_id, answer in zip(run_ids, answers):
            status, started_at, worker_name = (None if v is None else decoded(v) for v in answer)
            states[run_id] = (status, started_at, worker_name)
        return states

    def shutdown(self, timeout: float = 30.0) -> None:
        """Nothing runs here; close the Redis connections."""
        self.redis.close()
