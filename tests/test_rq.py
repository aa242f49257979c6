"""The rq backend with real processes, real Redis and real PostgreSQL.

Runs submitted by an Engine with a Redis URL go to Redis as jobs carrying their run id only (JSON, no pickle,
no secret); `beffroi worker` processes execute each run exactly once; a run whose worker is killed with
SIGKILL is resumed at its unfinished step by another worker within 60 s. The reaper's rules are checked
in-process: two reapers racing for an orphan, runs that are alive or waiting, poison runs.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections import Counter
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import update

from beffroi.journal import RUNS
from beffroi.reaper import MAX_RECOVERIES, Reaper
from beffroi.rq_backend import BATCH, JOB_FUNCTION, RQQueue, jobs_key
from beffroi.store.models import utcnow
from beffroi.worker import Dispatcher

from .conftest import needs
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


@pytest.fixture
def redis_url():
    if not REDIS_URL:
        needs("Redis", "BEFFROI_TEST_REDIS_URL")
    return REDIS_URL


@pytest.fixture
def cluster(tmp_path, pg_url, redis_url, make_engine):
    cluster = Cluster(tmp_path, pg_url, redis_url, make_engine)
    yield cluster
    cluster.close()


@pytest.fixture
def server():
    server = counting_server(delay=0.02)
    yield server
    server.stop()


def executed(output: str) -> int:
    match = re.search(r"(\d+) runs executed", output)
    assert match, output
    return int(match.group(1))


# -- real processes ----------------------------------------------------------------------------------
def test_runs_are_queued_to_redis_with_their_id_only_and_executed_by_a_worker(cluster):
    cluster.save("rq-hello",
                 {"id": "a", "uses": "data.set", "with": {"title": "{{ trigger.title }}", "n": 1}},
                 {"id": "b", "uses": "data.set", "with": {"n": "{{ steps.a.n + 1 }}"}},
                 {"id": "c", "uses": "data.set", "with": {"summary": "{{ steps.a.title }} {{ steps.b.n }}"}})
    run_id = cluster.trigger("rq-hello", {"title": "Quarterly figures", "api_token": SECRET})

    assert [i.decode() for i in cluster.redis.lrange(f"rq:queue:{cluster.queue}", 0, -1)] == [run_id]
    job = cluster.redis.hgetall(f"rq:job:{run_id}")  # a job of one run has that run's id
    data = zlib.decompress(job[b"data"])
    assert json.loads(data) == [JOB_FUNCTION, None, [[run_id]], {}]  # JSON: a pickle would not parse
    assert cluster.redis.hgetall(jobs_key(cluster.queue)) == {run_id.encode(): run_id.encode()}
    for field, value in job.items():
        text = zlib.decompress(value) if field == b"data" else value
        assert SECRET.encode() not in text and b"Quarterly" not in text and b"rq-hello" not in text, field

    worker = cluster.worker("--burst")
    assert worker.wait(WAIT) == 0, cluster.output(worker)
    assert executed(cluster.output(worker)) == 1
    run = cluster.engine.runs.detail(run_id)
    assert run["status"] == "succeeded", run
    assert run["steps"][2]["output"] == {"summary": "Quarterly figures 2"}
    assert not cluster.redis.exists(f"rq:job:{run_id}")  # result_ttl=0: nothing is kept in Redis
    assert not cluster.redis.exists(jobs_key(cluster.queue))


def test_runs_submitted_together_share_jobs_and_every_one_executes_once(cluster):
    cluster.save("rq-batch", {"id": "a", "uses": "data.set", "with": {"n": "{{ trigger.n }}"}})
    recipe, version = cluster.engine.recipes.get("rq-batch")
    run_ids = [cluster.engine.create_run(recipe, {"n": i}, version=version) for i in range(BATCH * 2 + 3)]
    cluster.run_ids.extend(run_ids)
    cluster.engine.queue.submit_many(run_ids)
    assert cluster.queued_jobs() == [run_ids[:BATCH], run_ids[BATCH:2 * BATCH], run_ids[2 * BATCH:]]

    worker = cluster.worker("--burst", "--threads", "3")
    assert worker.wait(WAIT) == 0, cluster.output(worker)
    assert executed(cluster.output(worker)) == len(run_ids)
    assert [cluster.engine.runs.detail(r)["steps"][0]["output"] for r in run_ids] == \
        [{"n": i} for i in range(len(run_ids))]
    assert not cluster.redis.exists(jobs_key(cluster.queue))  # every entry went with its job


def test_runs_of_a_job_that_wait_for_busy_threads_go_back_to_redis_for_another_worker(cluster):
    server = counting_server()
    try:
        cluster.save("rq-slow", {"id": "wait", "uses": "http.request",
                                 "with": {"method": "GET", "url": server.url + "/block"}})
        cluster.save("rq-fast", {"id": "hit", "uses": "http.request",
                                 "with": {"method": "POST", "url": server.url + "/fast/{{ run.id }}"}})
        slow, _ = cluster.engine.recipes.get("rq-slow")
        fast, _ = cluster.engine.recipes.get("rq-fast")
        run_ids = [cluster.engine.create_run(slow), cluster.engine.create_run(slow),
                   *(cluster.engine.create_run(fast) for _ in range(3))]
        cluster.run_ids.extend(run_ids)
        first = cluster.worker("--threads", "2")
        cluster.wait_for(lambda: cluster.live_workers() == 1, "the first worker to start")
        cluster.engine.queue.submit_many(run_ids)  # one job: two slow runs take both threads of the first worker
        cluster.wait_for(lambda: server.count("GET", "/block") == 2, "both slow runs to block")
        cluster.wait_for(lambda: cluster.queued_jobs() == [run_ids[2:]], "the fast runs to go back to Redis")
        second = cluster.worker("--threads", "2")
        cluster.wait_for(lambda: all(cluster.status(r) == "succeeded" for r in run_ids[2:]),
                         "the second worker to run the fast runs while the slow ones still block")
        assert [cluster.status(r) for r in run_ids[:2]] == ["running", "running"]
        server.release.set()
        cluster.wait_for(lambda: all(cluster.status(r) == "succeeded" for r in run_ids), "the slow runs to finish")
        for proc in (first, second):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(WAIT) == 0, cluster.output(proc)
        assert [executed(cluster.output(p)) for p in (first, second)] == [2, 3]
        assert all(server.count("POST", f"/fast/{r}") == 1 for r in run_ids[2:])
    finally:
        server.stop()


def test_two_workers_share_the_queue_and_each_run_executes_once(cluster, server):
    cluster.save("rq-hit",
                 {"id": "hit", "uses": "http.request",
                  "with": {"method": "POST", "url": server.url + "/hit/{{ run.id }}", "json": {"n": 1}}},
                 {"id": "done", "uses": "data.set", "with": {"status": "{{ steps.hit.status }}"}})
    workers = [cluster.worker(), cluster.worker()]
    cluster.wait_for(lambda: cluster.live_workers() == 2, "two workers to start")
    run_ids = [cluster.trigger("rq-hit") for _ in range(40)]

    cluster.wait_for(lambda: all(cluster.status(r) == "succeeded" for r in run_ids), "every run to succeed")
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        assert proc.wait(WAIT) == 0, cluster.output(proc)
    counts = [executed(cluster.output(proc)) for proc in workers]
    assert sum(counts) == 40 and min(counts) > 0, counts
    assert all(server.count("POST", f"/hit/{r}") == 1 for r in run_ids), server.counts
    assert sum(server.counts.values()) == 40
    assert all(cluster.engine.runs.detail(r)["steps"][0]["attempts"] == 1 for r in run_ids)
    assert cluster.live_workers() == 0  # a clean exit leaves the liveness set


def test_a_run_whose_worker_is_killed_resumes_on_another_worker_at_its_unfinished_step(cluster):
    server = counting_server()
    try:
        cluster.save("rq-kill",
                     {"id": "one", "uses": "http.request", "with": {"method": "POST", "url": server.url + "/one"}},
                     {"id": "wait", "uses": "http.request", "with": {"method": "GET", "url": server.url + "/block"}},
                     {"id": "three", "uses": "http.request",
                      "with": {"method": "POST", "url": server.url + "/three"}})
        workers = [cluster.worker(), cluster.worker()]
        cluster.wait_for(lambda: cluster.live_workers() == 2, "two workers to start")
        run_id = cluster.trigger("rq-kill")
        cluster.wait_for(server.entered["/block"].is_set, "step 2 to block on the server")
        assert server.count("POST", "/one") == 1
        with cluster.engine.db.engine.connect() as conn:
            status, owner = conn.execute(RUNS.select().with_only_columns(RUNS.c.status, RUNS.c.claimed_by)
                                         .where(RUNS.c.id == run_id)).one()
        assert status == "running"
        (victim,) = [p for p in workers if owner.split(":")[1] == str(p.pid)]
        victim.send_signal(signal.SIGKILL)
        victim.wait(WAIT)
        killed_at = time.monotonic()

        server.release.set()  # from now on /block answers at once
        cluster.wait_for(lambda: cluster.status(run_id) == "succeeded", "the other worker to resume the run")
        assert time.monotonic() - killed_at < 60
        assert server.count("POST", "/one") == 1
        assert server.count("GET", "/block") == 2
        assert server.count("POST", "/three") == 1
        steps = {s["id"]: s for s in cluster.engine.runs.detail(run_id)["steps"]}
        assert [s["status"] for s in steps.values()] == ["succeeded"] * 3
        assert steps["one"]["attempts"] == 1 and steps["wait"]["attempts"] == 2
    finally:
        server.stop()


def test_sigterm_finishes_the_run_in_progress_and_a_second_signal_exits_at_once(cluster):
    server = counting_server()
    try:
        cluster.save("rq-stop",
                     {"id": "wait", "uses": "http.request", "with": {"method": "GET", "url": server.url + "/block"}},
                     {"id": "after", "uses": "http.request",
                      "with": {"method": "POST", "url": server.url + "/after"}})
        worker = cluster.worker("--threads", "1")
        first = cluster.trigger("rq-stop")
        cluster.wait_for(server.entered["/block"].is_set, "the run to block on the server")
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert worker.poll() is None  # still finishing its run
        second = cluster.trigger("rq-stop")
        server.release.set()
        assert worker.wait(WAIT) == 0, cluster.output(worker)
        assert cluster.status(first) == "succeeded" and server.count("POST", "/after") == 1
        assert cluster.status(second) == "queued"  # not taken after the signal; still waiting in Redis

        server.release.clear()
        server.entered["/block"].clear()
        worker = cluster.worker("--threads", "1")
        cluster.wait_for(server.entered["/block"].is_set, "the second run to block on the server")
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(10) == 128 + signal.SIGTERM
        assert cluster.status(second) == "running"  # left to the reaper, like after a crash
    finally:
        server.stop()


# -- the reaper's rules, in-process -------------------------------------------------------------------
def _set(engine, run_id: str, **values) -> None:
    with engine.db.engine.begin() as conn:
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values))


def _row(engine, run_id: str):
    with engine.db.engine.connect() as conn:
        return conn.execute(RUNS.select().where(RUNS.c.id == run_id)).mappings().one()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_reapers_take_each_orphan_once_and_leave_live_and_waiting_runs_alone(cluster):
    engine, queue = cluster.engine, cluster.engine.queue
    cluster.save("rq-reap", {"id": "a", "uses": "data.set", "with": {"n": 1}})
    recipe, _ = engine.recipes.get("rq-reap")
    runs = {name: engine.create_run(recipe) for name in
            ("dead_pid", "earlier_life", "alive", "stale", "silent", "waiting", "lost", "young")}
    cluster.run_ids.extend(runs.values())
    now, old = utcnow(), utcnow() - timedelta(seconds=120)
    host = socket.gethostname()
    _set(engine, runs["dead_pid"], status="running", claimed_by=f"{host}:{_dead_pid()}:aaaa", heartbeat_at=now)
    _set(engine, runs["earlier_life"], status="running", claimed_by=f"{host}:{os.getpid()}:0000", heartbeat_at=now)
    _set(engine, runs["alive"], status="running", claimed_by="elsewhere:10:bbbb", heartbeat_at=now)
    _set(engine, runs["stale"], status="running", claimed_by="elsewhere:11:cccc", heartbeat_at=old)
    _set(engine, runs["silent"], status="running", claimed_by="elsewhere:12:dddd", heartbeat_at=now)
    cluster.redis.zadd(f"beffroi:{cluster.queue}:workers", {"elsewhere:12:dddd": time.time() - 60,
                                                             "elsewhere:10:bbbb": time.time()})
    for name in ("waiting", "lost"):
        _set(engine, runs[name], created_at=old)
    queue.submit(runs["waiting"])

    reapers = [Reaper(engine, queue), Reaper(engine, RQQueue(REDIS_URL, cluster.queue))]
    barrier, results = threading.Barrier(2), []

    def reap(reaper: Reaper) -> None:
        barrier.wait()
        results.append(reaper.reap())

    threads = [threading.Thread(target=reap, args=(r,)) for r in reapers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    taken = Counter(run_id for result in results for run_id in result)
    for name in ("dead_pid", "earlier_life", "stale", "silent"):  # a `running` orphan goes to one reaper (CAS)
        assert taken[runs[name]] == 1, name
        row = _row(engine, runs[name])
        assert row["status"] == "queued" and row["claimed_by"] is None
    assert taken[runs["lost"]] >= 1  # queued in SQL, missing in Redis: queued again (twice is harmless)
    for name in ("alive", "waiting", "young"):
        assert taken[runs[name]] == 0, name
    assert _row(engine, runs["alive"])["status"] == "running"
    queued = {run_id for job in cluster.queued_jobs() for run_id in job}
    assert queued == {runs[n] for n in ("waiting", "dead_pid", "earlier_life", "stale", "silent", "lost")}


def test_a_run_recovered_too_often_is_failed_instead_of_queued_again(cluster):
    engine = cluster.engine
    cluster.save("rq-poison", {"id": "a", "uses": "data.set", "with": {"n": 1}})
    recipe, _ = engine.recipes.get("rq-poison")
    run_id = engine.create_run(recipe)
    cluster.run_ids.append(run_id)
    _set(engine, run_id, status="running", claimed_by=f"{socket.gethostname()}:{_dead_pid()}:eeee",
         heartbeat_at=utcnow())
    cluster.redis.set(f"beffroi:{cluster.queue}:recovered:{run_id}", MAX_RECOVERIES)
    assert Reaper(engine, engine.queue).reap() == []
    row = _row(engine, run_id)
    assert row["status"] == "failed" and "recoveries" in row["error"]


def test_a_run_is_given_back_when_the_runner_itself_fails(cluster, monkeypatch):
    engine = cluster.engine
    cluster.save("rq-broken", {"id": "a", "uses": "data.set", "with": {"n": 1}})
    run_id = cluster.trigger("rq-broken")

    def broken(row, writer):
        raise RuntimeError("database went away")

    monkeypatch.setattr(engine.runner, "_execute", broken)
    dispatcher = Dispatcher(engine, engine.queue, 1)
    dispatcher.execute(run_id)  # logged, and the run is queued again for the reaper instead of staying ours
    row = _row(engine, run_id)
    assert row["status"] == "queued" and row["claimed_by"] is None

    # The database is down for the give-back too: this worker's reaper gives the run back later.
    def unreachable(*args, **kwargs):
        raise RuntimeError("connection refused")

    monkeypatch.setattr(engine.journal, "release", unreachable)
    dispatcher.execute(run_id)
    assert _row(engine, run_id)["claimed_by"] == engine.worker_id and dispatcher.stranded.runs == {run_id}
    monkeypatch.delattr(engine.journal, "release")  # the database is back
    assert run_id in Reaper(engine, engine.queue, dispatcher.stranded).reap()
    assert _row(engine, run_id)["status"] == "queued" and not dispatcher.stranded
