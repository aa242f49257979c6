"""A cluster for the rq tests: an Engine that queues to a fresh Redis queue, real `beffroi worker` processes on
it, and the clean-up of both."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections import Counter

import pytest
from redis import Redis

from beffroi.rq_backend import JOB_FUNCTION, RQQueue

from .helpers import output_of, spawn, stop_all
from .servers.http_base import CountingServer

REDIS_URL = os.environ.get("BEFFROI_TEST_REDIS_URL")
WORKER = [sys.executable, "-c", "from beffroi.worker import main; raise SystemExit(main())"]
SECRET = "tok-3f9a1c77e2-do-not-leak"
WAIT = 60  # seconds: the longest any single wait in these tests may take


def counting_server(delay: float = 0.0) -> CountingServer:
    """A started local server counting requests per (method, path); `/block` holds a request open until `release`."""
    return CountingServer({"/block"}, delay=delay, hold=WAIT).start()


class Cluster:
    """An Engine that queues to a fresh Redis queue, `beffroi worker` processes on it, and clean-up of both."""

    def __init__(self, tmp_path, pg_url: str, redis_url: str, make_engine):
        self.tmp_path = tmp_path
        self.queue = f"t-{uuid.uuid4().hex[:12]}"
        self.redis = Redis.from_url(redis_url)
        self.engine = make_engine(pg_url, redis_url=redis_url, allowed_networks=["127.0.0.0/8"])
        assert isinstance(self.engine.queue, RQQueue)  # what a Redis URL selects
        self.engine.queue.shutdown()
        # One queue per test: the engine's queue name is not a setting (yet), so the test swaps its queue.
        self.engine._queue = RQQueue(redis_url, self.queue)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
        self.env.update(BEFFROI_DATABASE_URL=pg_url, BEFFROI_REDIS_URL=redis_url,
                        BEFFROI_DATA_DIR=str(tmp_path / "data"), BEFFROI_ALLOWED_NETWORKS="127.0.0.0/8",
                        BEFFROI_QUEUE_NAME=self.queue, BEFFROI_REAPER_INTERVAL="1", BEFFROI_WORKER_THREADS="2",
                        BEFFROI_LOG_LEVEL="INFO", PYTHONIOENCODING="utf-8")
        self.procs: list[subprocess.Popen] = []
        self.run_ids: list[str] = []

    def worker(self, *args: str) -> subprocess.Popen:
        proc = spawn([*WORKER, *args], self.tmp_path / f"worker-{len(self.procs)}.log", cwd=self.tmp_path,
                     env=self.env)
        self.procs.append(proc)
        return proc

    output = staticmethod(output_of)

    def save(self, name: str, *steps: dict) -> None:
        self.engine.save_recipe({"name": name, "trigger": {"uses": "builtins.manual"}, "steps": list(steps)})

    def trigger(self, name: str, event: dict | None = None) -> str:
        run_id = self.engine.trigger(name, event or {})
        self.run_ids.append(run_id)
        return run_id

    def wait_for(self, predicate, what: str, timeout: float = WAIT) -> float:
        started = time.monotonic()
        while not predicate():
            if time.monotonic() - started > timeout:
                logs = "\n".join(f"--- worker {i} ---\n{self.output(p)[-3000:]}" for i, p in enumerate(self.procs))
                pytest.fail(f"timed out after {timeout:g}s waiting for {what}\n{logs}")
            time.sleep(0.05)
        return time.monotonic() - started

    def status(self, run_id: str) -> str | None:
        return self.engine.journal.run_status(run_id)

    def live_workers(self) -> int:
        return self.redis.zcard(f"beffroi:{self.queue}:workers")

    def queued_jobs(self) -> list[list[str]]:
        """The run ids of each job waiting in the Redis queue, in queue order."""
        jobs = []
        for job_id in self.redis.lrange(f"rq:queue:{self.queue}", 0, -1):
            function, _, args, _ = json.loads(zlib.decompress(self.redis.hget(b"rq:job:" + job_id, "data")))
            assert function == JOB_FUNCTION
            jobs.append(args[0])
        return jobs

    def close(self) -> None:
        stop_all(self.procs)
        keys = set(self.redis.scan_iter(match=f"*{self.queue}*", count=1000))
        for run_id in self.run_ids:
            keys.update(self.redis.scan_iter(match=f"*{run_id}*", count=1000))
        if keys:
            self.redis.delete(*keys)
        self.redis.srem("rq:queues", f"rq:queue:{self.queue}")
        workers = [m for m in self.redis.smembers("rq:workers") if self.queue.encode() in m]
        if workers:
            self.redis.srem("rq:workers", *workers)
        self.redis.close()


def executed(output: str) -> int:
    match = re.search(r"(\d+) runs executed", output)
    assert match, output
    return int(match.group(1))


def reap_together(*reapers) -> Counter:
    """Run one pass of each reaper at the same moment, in threads; how many of them queued each run again."""
    barrier, results = threading.Barrier(len(reapers)), []

    def reap(reaper) -> None:
        barrier.wait()
        results.append(reaper.reap())

    threads = [threading.Thread(target=reap, args=(r,)) for r in reapers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    return Counter(run_id for result in results for run_id in result)
