"""A worker's life on the rq backend: it stops within seconds, cycle after cycle, and what it held when killed
with -9 comes back, all of it, within 45 s.

Real Redis, real PostgreSQL, real `beffroi worker` processes (or the real `run_worker` of one, many times in one
process); the reaper's rules for jobs a dead worker had taken are also checked in-process on RQ's own state.
"""
from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient
from rq.executions import Execution
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import select

from beffroi.api import create_app
from beffroi.journal import RUNS
from beffroi.reaper import Reaper
from beffroi.rq_backend import rq_worker_name

from .helpers import output_of, spawn
from .rq_cluster import counting_server, reap_together

ROOT = Path(__file__).resolve().parent.parent
CYCLES = 40          # burst stops and SIGTERM stops, each
PROMPT = 5.0         # seconds a worker with no run in progress may take to exit
RECOVERY = 45.0      # seconds within which every run a killed worker held must finish
HOOK_TOKEN = "lifecycle-hook-token-0123456789"


def test_a_worker_exits_within_seconds_of_its_bursts_end_or_of_sigterm_cycle_after_cycle(cluster):
    # rq 3.0 + redis-py 8.2 held about one stop in thirteen for 60 s (the RQ command listener's join);
    # 2 x CYCLES stops fit in the budget only if none waits.
    budget = 90.0
    proc = spawn([sys.executable, "-m", "tests.worker_cycles", str(CYCLES)], cluster.tmp_path / "cycles.log",
                 cwd=ROOT, env=cluster.env)
    cluster.procs.append(proc)  # killed and closed at the end, whatever happens
    try:
        proc.wait(budget)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    output = output_of(proc)
    stops = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, f"the cycles did not end within {budget:g} s:\n{output[-3000:]}"
    assert Counter(s["kind"] for s in stops) == {"burst": CYCLES, "sigterm": CYCLES}, output[-3000:]
    slow = [s for s in stops if s["seconds"] > PROMPT]
    assert not slow, slow
    assert [s["executed"] for s in stops if s["kind"] == "burst"] == [1] * CYCLES  # each burst ran its run


def _queued_job(cluster, name: str) -> tuple[list[str], str]:
    """Runs of a new job in the cluster's queue, and the job's id."""
    recipe, version = cluster.engine.recipes.get(name)
    run_ids = [cluster.engine.create_run(recipe, version=version) for _ in range(3)]
    cluster.run_ids.extend(run_ids)
    cluster.engine.queue.submit_many(run_ids)
    (job_id,) = [j.decode() for j in cluster.redis.lrange(f"rq:queue:{cluster.queue}", 0, -1)]
    return run_ids, job_id


def test_the_runs_of_a_job_a_dead_worker_took_but_never_started_are_queued_again(cluster):
    cluster.save("rq-taken", {"id": "a", "uses": "data.set", "with": {"n": 1}})
    run_ids, job_id = _queued_job(cluster, "rq-taken")
    rq = cluster.engine.queue.rq
    # What RQ's dequeue does (BLMOVE to the intermediate list); the worker that did it then died before starting.
    assert cluster.redis.lmove(rq.key, rq.intermediate_queue_key) == job_id.encode()
    assert cluster.redis.hget(Job.key_for(job_id), "status") == b"queued"  # it still looks like a waiting job

    reaper = Reaper(cluster.engine, cluster.engine.queue)
    assert reaper.reap() == []  # seen once: a live worker may be starting it this very moment
    other = Reaper(cluster.engine, cluster.engine.queue, taken_grace=0.0)
    assert sorted(other.reap()) == sorted(run_ids)  # seen long enough: abandoned; one reaper takes it
    assert reaper.reap() == [] and other.reap() == []  # it left the intermediate list with the first
    assert cluster.redis.llen(rq.intermediate_queue_key) == 0
    assert not cluster.redis.exists(Job.key_for(job_id))
    assert sorted(r for job in cluster.queued_jobs() for r in job) == sorted(run_ids)


def test_the_runs_of_a_job_a_dead_worker_had_started_are_queued_again_and_a_live_workers_are_not(cluster):
    cluster.save("rq-started", {"id": "a", "uses": "data.set", "with": {"n": 1}})
    rq, redis = cluster.engine.queue.rq, cluster.redis
    owners = {"dead": f"{socket.gethostname()}:{_dead_pid()}:abcd",  # a process of this host that is gone
              "silent": "elsewhere:12:dddd",                         # another host's, silent in Redis for 60 s
              "alive": "elsewhere:10:bbbb"}                          # another host's, beating
    redis.zadd(f"beffroi:{cluster.queue}:workers", {owners["silent"]: time.time() - 60,
                                                     owners["alive"]: time.time()})
    jobs = {}
    for name, owner in owners.items():
        run_ids, job_id = _queued_job(cluster, "rq-started")
        jobs[name] = run_ids
        # What RQ's dequeue and start do for this worker; then it died (or not) before claiming the runs.
        assert redis.lmove(rq.key, rq.intermediate_queue_key) == job_id.encode()
        job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
        with redis.pipeline(transaction=False) as pipe:
            Execution.create(job, 600, pipeline=pipe, worker_name=rq_worker_name(cluster.queue, owner))
            job.prepare_for_execution(rq_worker_name(cluster.queue, owner), pipeline=pipe)
            pipe.lrem(rq.intermediate_queue_key, 1, job_id)
            pipe.execute()

    taken = reap_together(Reaper(cluster.engine, cluster.engine.queue), Reaper(cluster.engine, cluster.engine.queue))
    assert set(taken) == {*jobs["dead"], *jobs["silent"]} and set(taken.values()) == {1}  # one reaper each
    waiting = {r for job in cluster.queued_jobs() for r in job}
    assert waiting == {*jobs["dead"], *jobs["silent"]}
    assert len(rq.started_job_registry.get_job_and_execution_ids(cleanup=False)) == 1  # the live worker's


def test_under_load_every_run_a_worker_killed_with_9_held_succeeds_within_45_s_and_no_finished_step_runs_again(
        cluster):
    """Webhooks arrive for 20 s while a random worker is killed with -9 at random moments and replaced at once."""
    hits = counting_server()
    cluster.engine.save_recipe({
        "name": "rq-load", "trigger": {"uses": "builtins.webhook", "with": {"check": "token", "secret": HOOK_TOKEN}},
        "steps": [{"id": "a", "uses": "data.set", "with": {"n": "{{ trigger.n }}"}},
                  {"id": "post", "uses": "http.request",
                   "with": {"method": "POST", "url": hits.url + "/hit/{{ run.id }}", "json": {"n": "{{ steps.a.n }}"}}},
                  {"id": "c", "uses": "data.set", "with": {"status": "{{ steps.post.status }}"}}]})
    client = TestClient(create_app(cluster.engine), raise_server_exceptions=False)
    workers = [cluster.worker("--threads", "4"), cluster.worker("--threads", "4")]
    cluster.wait_for(lambda: cluster.live_workers() == 2, "two workers to start")
    accepted: list[str] = []
    kills: list[float] = []
    stop = threading.Event()

    def deliver() -> None:
        n = 0
        while not stop.is_set():
            answer = client.post("/hooks/rq-load", json={"n": n}, headers={"X-Beffroi-Token": HOOK_TOKEN})
            assert answer.status_code == 202, answer.text
            accepted.append(answer.json()["run"])
            n += 1

    def kill() -> None:
        chance = random.Random()
        while not stop.wait(chance.uniform(1.0, 3.5)):
            victim = chance.choice([w for w in workers if w.poll() is None])
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            kills.append(time.time())
            workers.remove(victim)
            workers.append(cluster.worker("--threads", "4"))

    try:
        threads = [threading.Thread(target=deliver), threading.Thread(target=kill)]
        for thread in threads:
            thread.start()
        stop.wait(20.0)
        stop.set()
        for thread in threads:
            thread.join(30)
        assert len(kills) >= 5 and len(accepted) > 500, (len(kills), len(accepted))
        cluster.run_ids.extend(accepted)

        def all_finished() -> bool:
            with cluster.engine.db.engine.connect() as conn:
                return not conn.scalar(select(RUNS.c.id).where(RUNS.c.status.in_(("queued", "running"))).limit(1))
        cluster.wait_for(all_finished, "every accepted run to finish", timeout=RECOVERY + 15)
        with cluster.engine.db.engine.connect() as conn:
            runs = conn.execute(select(RUNS.c.id, RUNS.c.status, RUNS.c.created_at, RUNS.c.finished_at)).all()
        assert sorted(r.id for r in runs) == sorted(accepted)  # none lost, none doubled
        assert Counter(r.status for r in runs) == {"succeeded": len(accepted)}

        # A run caught by a kill finishes within RECOVERY of the last kill before its end.
        late = []
        for run in runs:
            before = [k for k in kills if k < run.finished_at.timestamp()]
            if before and run.created_at.timestamp() < before[-1]:
                if run.finished_at.timestamp() - before[-1] > RECOVERY:
                    late.append((run.id, run.finished_at.timestamp() - before[-1]))
        assert not late, late
        caught = [run.finished_at.timestamp() - max(k for k in kills if k < run.finished_at.timestamp())
                  for run in runs if any(run.created_at.timestamp() < k < run.finished_at.timestamp() for k in kills)]
        print(f"{len(accepted)} runs accepted, {len(kills)} kills, {len(caught)} runs caught by a kill, "
              f"longest from a kill to the end of a run it caught: {max(caught, default=0):.1f} s")

        # Each request the server saw has its own attempt in the journal (a step that finished is never sent
        # again); a second attempt exists only where a kill interrupted the step (one per runner thread at most).
        attempts = {r["id"]: {s["id"]: s["attempts"] for s in r["steps"]}
                    for r in (cluster.engine.runs.detail(run_id) for run_id in accepted)}
        for run_id, steps in attempts.items():
            assert 1 <= hits.count("POST", f"/hit/{run_id}") <= steps["post"] <= 2, (run_id, steps)
        twice = sum(1 for run_id in accepted if hits.count("POST", f"/hit/{run_id}") > 1)
        assert twice <= 4 * len(kills), twice
    finally:
        stop.set()
        hits.stop()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
