"""RQ backend benchmark: completed runs/s of one `beffroi worker` process on PostgreSQL + Redis.

Queues N runs of a three-step data.set recipe into a fresh PostgreSQL schema and a fresh Redis queue,
then starts one worker process in burst mode and measures completed runs per second between the first
and the last finished run (process start-up excluded; it is printed separately).

Run: .venv/bin/python bench/rq_worker.py [--runs 3000] [--threads 1 2 4] [--database-url URL] [--redis-url URL]
     [--profile FILE]   (runs the worker in this process under cProfile instead, one runner thread; CPU time)
Also printed: the worker process's CPU time per run, which is what bounds it (one core, the GIL).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from redis import Redis
from sqlalchemy import create_engine, func, select, text

from beffroi.engine import Engine
from beffroi.journal import RUNS
from beffroi.rq_backend import RQQueue
from beffroi.settings import Settings

RECIPE = {"name": "three-sets", "trigger": {"uses": "builtins.manual"}, "steps": [
    {"id": "a", "uses": "data.set", "with": {"title": "{{ trigger.title }}", "n": 1}},
    {"id": "b", "uses": "data.set", "with": {"title": "{{ steps.a.title }}!", "n": "{{ steps.a.n + 1 }}"}},
    {"id": "c", "uses": "data.set", "with": {"summary": "{{ steps.b.title }} ({{ steps.b.n }})"}}]}


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def clean_redis(redis: Redis, queue: str, run_ids: list[str]) -> None:
    keys = list(redis.scan_iter(match=f"*{queue}*", count=1000))
    for i in range(0, len(run_ids), 1000):
        keys += [f"rq:job:{r}" for r in run_ids[i:i + 1000]]
    for i in range(0, len(keys), 1000):
        redis.delete(*keys[i:i + 1000])
    redis.srem("rq:queues", f"rq:queue:{queue}")
    members = [m for m in redis.smembers("rq:workers") if queue.encode() in m]
    if members:
        redis.srem("rq:workers", *members)


def one_round(args, base_url: str, threads: int, tmp: Path) -> None:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    queue_name = f"bench-{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = with_schema(base_url, schema)
    redis = Redis.from_url(args.redis_url)
    settings = Settings(_env_file=None, database_url=url, redis_url=args.redis_url, data_dir=tmp / "data")
    engine = Engine(settings, load_entry_points=False)
    run_ids: list[str] = []
    try:
        recipe = engine.validate(RECIPE)
        started = time.perf_counter()
        run_ids = [engine.create_run(recipe, {"title": f"Post {i}"}) for i in range(args.runs)]
        queue = RQQueue(args.redis_url, queue_name)
        for i in range(0, len(run_ids), 500):
            queue.submit_many(run_ids[i:i + 500])
        queue.shutdown()
        print(f"threads={threads}: {args.runs} runs created and queued in {time.perf_counter() - started:.1f} s")
        env = {**os.environ, "BEFFROI_DATABASE_URL": url, "BEFFROI_REDIS_URL": args.redis_url,
               "BEFFROI_DATA_DIR": str(tmp / "data"), "BEFFROI_LOG_LEVEL": "WARNING"}
        started = time.perf_counter()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        if args.profile:
            import cProfile
            import pstats

            from beffroi.rq_worker import RunWorker
            from beffroi.worker import Dispatcher, run_worker

            profiles = []

            def profiled(function):  # cProfile sees one thread: profile each working thread, then add them up
                def wrapper(*a, **kw):
                    profiler = cProfile.Profile(time.thread_time)  # CPU time, not waits
                    profiles.append(profiler)
                    profiler.enable()
                    try:
                        return function(*a, **kw)
                    finally:
                        profiler.disable()
                return wrapper

            originals = RunWorker.work, Dispatcher._runner
            RunWorker.work, Dispatcher._runner = profiled(RunWorker.work), profiled(Dispatcher._runner)
            try:
                run_worker(engine, queue_name=queue_name, burst=True, threads=1, reaper_interval=3600)
            finally:
                RunWorker.work, Dispatcher._runner = originals
            stats = pstats.Stats(profiles[0])
            for profiler in profiles[1:]:
                stats.add(profiler)
            stats.dump_stats(args.profile)
        else:
            subprocess.run([sys.executable, "-c", "from beffroi.worker import main; raise SystemExit(main())",
                            "--queue", queue_name, "--burst", "--threads", str(threads)],
                           env=env, cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
        with engine.db.engine.connect() as conn:
            done, first, last = conn.execute(
                select(func.count(), func.min(RUNS.c.finished_at), func.max(RUNS.c.finished_at))
                .where(RUNS.c.status == "succeeded")).one()
        assert done == args.runs, f"only {done} of {args.runs} runs succeeded"
        rate = (done - 1) / (last - first).total_seconds()
        print(f"threads={threads}: {done} runs in {wall:.2f} s with start-up; "
              f"{rate:.0f} completed runs/s (first to last finished run)"
              + ("" if args.profile else f"; worker CPU {cpu * 1000 / done:.2f} ms per run (start-up included)"))
    finally:
        engine.close()
        clean_redis(redis, queue_name, run_ids)
        redis.close()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--database-url", default=os.environ.get(
        "BEFFROI_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis-url", default=os.environ.get("BEFFROI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--profile", metavar="FILE", help="run the worker in this process under cProfile")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for threads in [1] if args.profile else args.threads:
            one_round(args, args.database_url, threads, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
