"""The `rq` execution backend: a run goes to Redis as an RQ job that carries its run id and nothing else.

The job is `beffroi.worker.execute_run(run_id)`, named by its dotted path and serialized with RQ's
JSON serializer: no pickle (a worker never unpickles what is in Redis), no recipe, no event, no
secret — the worker reads everything else from SQL. The job id is the run id, so "is this run still
waiting in Redis?" is one HGET for the reaper (see worker.py), and re-queueing a run replaces its old
job instead of adding a second one.
"""
from __future__ import annotations

from collections.abc import Iterable

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

JOB_FUNCTION = "beffroi.worker.execute_run"
# A job that raised (an infrastructure error; step failures are recorded in SQL, not raised) stays in
# RQ's failed registry this long for `rq info`; the run itself is given back and re-queued by the reaper.
FAILURE_TTL = 24 * 3600


class RQQueue:
    """Queues runs to Redis for `beffroi worker` processes; one round trip per submit (or per batch)."""

    def __init__(self, redis_url: str, queue_name: str = "beffroi", *, connection: Redis | None = None):
        self.redis = connection if connection is not None else Redis.from_url(redis_url)
        self.name = queue_name
        self.rq = Queue(queue_name, connection=self.redis, serializer=JSONSerializer)

    def submit(self, run_id: str) -> None:
        """Queue one run (its row is already `queued` in SQL)."""
        self.submit_many((run_id,))

    def submit_many(self, run_ids: Iterable[str]) -> None:
        """Queue several runs in one MULTI/EXEC round trip."""
        with self.redis.pipeline() as pipe:
            for run_id in run_ids:
                # timeout=-1: no RQ job timeout; the runner enforces step timeouts itself, and an RQ timeout
                # would only abort a run half-way. result_ttl=0: nothing to keep, the result is in SQL.
                self.rq.enqueue_call(JOB_FUNCTION, args=[run_id], job_id=run_id, description=f"beffroi run {run_id}",
                                     timeout=-1, result_ttl=0, failure_ttl=FAILURE_TTL, pipeline=pipe)
            pipe.execute()

    def job_states(self, run_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
        """(status, started_at) of each run's job in Redis, (None, None) where there is none; one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.hmget(Job.key_for(run_id), "status", "started_at")
            answers = pipe.execute()
        return {run_id: tuple(v.decode() if v is not None else None for v in answer)
                for run_id, answer in zip(run_ids, answers)}

    def shutdown(self, timeout: float = 30.0) -> None:
        """Nothing runs here; close the Redis connections."""
        self.redis.close()
