"""Start and stop a `beffroi worker` many times in one process, and print how long each stop took.

Run by tests/test_rq_lifecycle.py as `python -m tests.worker_cycles CYCLES` with BEFFROI_* set: each cycle
queues one run and works the queue in burst mode (the stop is the burst's end), then starts a worker that waits
for jobs and sends this process SIGTERM once the worker listens for RQ commands. A worker is the real
`run_worker` of `beffroi worker` (its RQ thread, runner threads, reaper, signal handlers); running it in one
process makes a cycle cost milliseconds instead of a Python start-up, so many cycles fit in a test. One JSON
line per stop: {"kind": "burst" | "sigterm", "seconds": ..., "executed": ...}.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

from redis import Redis

from beffroi.engine import Engine
from beffroi.settings import Settings
from beffroi.worker import run_worker


def listening(redis: Redis, queue: str) -> bool:
    """Has the worker of this process registered with RQ and subscribed to its command channel?"""
    for key in redis.smembers("rq:workers"):
        name = key.decode().removeprefix("rq:worker:")
        if name.startswith(f"{queue}.") and redis.hget(key, "pid") == str(os.getpid()).encode():
            return redis.pubsub_numsub(f"rq:pubsub:{name}")[0][1] > 0
    return False


class SigtermWhenListening(threading.Thread):
    """Sends this process SIGTERM as soon as its worker listens; `sent` is when (time.monotonic())."""

    def __init__(self, redis: Redis, queue: str, limit: float = 30.0):
        super().__init__(daemon=True)
        self.redis, self.queue, self.limit = redis, queue, limit
        self.sent = 0.0
        self.start()

    def run(self) -> None:
        redis, queue, limit = self.redis, self.queue, self.limit
        deadline = time.monotonic() + limit
        while not listening(redis, queue):
            if time.monotonic() > deadline:
                print(json.dumps({"kind": "sigterm", "error": "the worker never listened"}), flush=True)
                os._exit(3)
            time.sleep(0.005)
        self.sent = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)


def main(cycles: int) -> None:
    settings = Settings.from_environment()
    queue = os.environ["BEFFROI_QUEUE_NAME"]
    engine = Engine(settings)
    redis = Redis.from_url(settings.redis_url)
    engine.save_recipe({"name": "cycle", "trigger": {"uses": "builtins.manual"},
                        "steps": [{"id": "a", "uses": "data.set", "with": {"n": "{{ trigger.n }}"}}]})
    recipe, version = engine.recipes.get("cycle")
    try:
        for cycle in range(cycles):
            engine.queue.submit(engine.create_run(recipe, {"n": cycle}, version=version))
            started = time.monotonic()
            executed = run_worker(engine, queue_name=queue, burst=True, threads=2, reaper_interval=60)
            print(json.dumps({"kind": "burst", "seconds": time.monotonic() - started, "executed": executed}),
                  flush=True)

            watcher = SigtermWhenListening(redis, queue)
            executed = run_worker(engine, queue_name=queue, threads=2, reaper_interval=60)
            watcher.join()
            print(json.dumps({"kind": "sigterm", "seconds": time.monotonic() - watcher.sent, "executed": executed}),
                  flush=True)
    finally:
        redis.close()
        engine.close()


if __name__ == "__main__":
    main(int(sys.argv[1]))
