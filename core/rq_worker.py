"""RQ's SimpleWorker, trimmed for beffroi's jobs: the thread of a `beffroi worker` that takes jobs from Redis.

A stock SimpleWorker (rq 3.0) spends 27 Redis round trips and ~63 commands on each job, about 3 ms of CPU.
For beffroi's jobs (JOB_FUNCTION, no result kept, no dependents, callbacks, repeats, groups or rate limit)
the overrides below leave the same state in Redis with 4 round trips and ~21 commands: the worker key and
the suspension flag are refreshed every few seconds rather than several times per job, the start of a job
is one pipeline, and so is its success. Any other job goes through RQ's code unchanged. These overrides
follow rq 3.x internals (rq is pinned <4).

RQ's command channel (`rq` CLI's shutdown, kill-horse and stop-job commands) is listened to on a thread of
our own that wakes every COMMANDS_POLL seconds, so that leaving it is bounded whatever the versions:
rq 3.0 listens with redis-py's PubSubWorkerThread, blocked up to 60 s per read, and redis-py 8.2 made that
thread's stop() wait for it (8.1 only cleared a flag), so a worker whose listener had already read the
UNSUBSCRIBE reply waited up to 60 s to exit after its last job.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from redis.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from rq.executions import Execution
from rq.job import JobStatus
from rq.results import Result
from rq.timeouts import BaseDeathPenalty
from rq.utils import now as rq_now
from rq.worker import SimpleWorker, WorkerStatus

from .rq_backend import JOB_FUNCTION, SINGLE_JOB_FUNCTION, jobs_key

RQ_HEARTBEAT_EVERY = 30.0              # RQ worker key refresh (its TTL is 420 s); RQ does it per job
RQ_SUSPENSION_CHECK_EVERY = 1.0        # `rq suspend` is seen within this; RQ checks before each job
COMMANDS_POLL = 0.5                    # the command listener sees a stop within this
BEFFROI_JOBS = frozenset({JOB_FUNCTION, SINGLE_JOB_FUNCTION})

log = logging.getLogger("beffroi.worker")


class _NoDeathPenalty(BaseDeathPenalty):
    """No RQ job timeout (SIGALRM works in the main thread only): the runner times out each step itself."""

    def setup_death_penalty(self) -> None:
        pass

    def cancel_death_penalty(self) -> None:
        pass


class RunWorker(SimpleWorker):
    """An RQ SimpleWorker that runs in a thread of a `beffroi worker` process (see the module docstring).

    `ready(timeout)` is asked before each dequeue: it answers whether this process can start a run now
    (a runner thread is free), so that a job is only taken from Redis when its runs can start; while it
    says no, the job stays in Redis for other workers.
    """

    death_penalty_class = _NoDeathPenalty
    ready: Callable[[float], bool] = staticmethod(lambda timeout: True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.leaving = threading.Event()  # the work loop is over: RQ's teardown has begun

    def _install_signal_handlers(self) -> None:
        pass  # signals belong to the main thread (run_worker), which stops every thread

    def stop(self) -> None:
        """Finish the current job, then leave the work loop."""
        self._stop_requested = True

    def teardown(self) -> None:
        self.leaving.set()  # run_worker waits a bounded time from here (RQ's teardown talks to Redis)
        super().teardown()

    def subscribe(self) -> None:
        """Listen to this worker's RQ command channel on a thread that sees a stop within COMMANDS_POLL."""
        self.pubsub = pubsub = self.connection.pubsub()
        pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self._unsubscribing = threading.Event()
        thread = threading.Thread(target=self._listen, args=(pubsub,), name="beffroi-rq-commands", daemon=True)
        self.pubsub_thread = thread  # type: ignore[assignment]  # rq only ever sets it to None in its __init__
        thread.start()

    def _listen(self, pubsub: PubSub) -> None:
        while not self._unsubscribing.is_set():
            try:
                pubsub.get_message(ignore_subscribe_messages=True, timeout=COMMANDS_POLL)
            except RedisConnectionError as exc:  # redis-py subscribes again once Redis answers
                log.warning("RQ command channel: %s; retrying in 2 s", exc)
                self._unsubscribing.wait(2.0)
            except Exception:
                log.exception("RQ command channel: the listener stopped; RQ commands are ignored from now on")
                return

    def unsubscribe(self) -> None:
        """Stop the command listener (at once, else within COMMANDS_POLL) and close its connection."""
        thread = self.pubsub_thread
        if thread is None:
            return
        self._unsubscribing.set()
        try:
            self.pubsub.unsubscribe()  # its reply wakes the listener at once, which then sees the flag
        except RedisError:
            pass
        thread.join(COMMANDS_POLL + 5.0)  # a read lasts COMMANDS_POLL; a socket stuck longer is abandoned
        self.pubsub_thread = None
        try:
            self.pubsub.close()
        except RedisError:
            pass

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        while not self.ready(1.0):  # every runner thread is busy: leave the jobs to other workers meanwhile
            if self._stop_requested:
                return None
            self.heartbeat()
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
                job.func_name in BEFFROI_JOBS and job.origin == self.queues[0].name and job.result_ttl == 0
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
            handed = getattr(job, "_result", None)  # the runs handed to runner threads (worker.execute_runs)
            if handed:  # their entries go; those of runs given back now name their new job
                pipe.hdel(jobs_key(queue.name), *handed)
            self.set_state(WorkerStatus.IDLE, pipeline=pipe)
            pipe.execute()
        job._status = JobStatus.FINISHED
