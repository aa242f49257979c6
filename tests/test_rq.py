"""The rq backend with real processes, real Redis and real PostgreSQL.

Runs submitted by an Engine with a Redis URL go to Redis as jobs carrying their run id only (JSON, no pickle,
no secret); `beffroi worker` processes execute each run exactly once; a run whose worker is killed with
SIGKILL is resumed at its unfinished step by another worker. The reaper's rules are checked
in-process: two reapers racing for an orphan, runs that are alive or waiting, poison runs.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import zlib
from datetime import timedelta

from sqlalchemy import update

from beffroi.journal import RUNS
from beffroi.reaper import MAX_RECOVERIES, Reaper
from beffroi.rq_backend import BATCH, JOB_FUNCTION, RQQueue, jobs_key
from beffroi.store.models import utcnow
from beffroi.worker import Dispatcher

from .rq_cluster import REDIS_URL, SECRET, WAIT, counting_server, executed, reap_together


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


def test_two_workers_share_the_queue_and_each_run_executes_once(cluster, hit_server):
    server = hit_server
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


SIGTERM_SEEN = "finishing the runs in progress"  # what a worker logs when it takes SIGTERM


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
        cluster.wait_for(lambda: SIGTERM_SEEN in cluster.output(worker), "the worker to take the signal")
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
        cluster.wait_for(lambda: SIGTERM_SEEN in cluster.output(worker), "the worker to take the first signal")
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

    taken = reap_together(Reaper(engine, queue), Reaper(engine, RQQueue(REDIS_URL, cluster.queue)))
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


def test_a_run_is_given_back_when_its_database_connection_is_lost(cluster, monkeypatch):
    engine = cluster.engine
    cluster.save("rq-broken", {"id": "a", "uses": "data.set", "with": {"n": 1}})
    run_id = cluster.trigger("rq-broken")

    def broken(row, writer):
        raise ConnectionError("database went away")  # a lost connection: the run is handed back

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
