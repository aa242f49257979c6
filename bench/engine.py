"""Engine benchmark: durable data.set chains (1, 10, 50 steps) and a 1,000-item for_each, on SQLite.

Run: .venv/bin/python bench/engine.py [--repeat N] [--database-url URL]
Prints the time per run of each chain, the marginal cost per durable step (slope between the
1- and 50-step chains), and the time of the 1,000-item loop.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from beffroi.engine import Engine
from beffroi.settings import Settings


def chain(n: int) -> dict:
    steps = [{"id": "s0", "uses": "data.set", "with": {"title": "{{ trigger.title }}", "n": 0}}]
    for i in range(1, n):
        steps.append({"id": f"s{i}", "uses": "data.set",
                      "with": {"title": f"{{{{ steps.s{i - 1}.title }}}}", "n": f"{{{{ steps.s{i - 1}.n + 1 }}}}"}})
    return {"name": f"chain-{n}", "trigger": {"uses": "builtins.manual"}, "steps": steps}


LOOP = {"name": "loop", "trigger": {"uses": "builtins.manual"}, "steps": [
    {"id": "each", "uses": "data.set", "for_each": "{{ trigger.items }}",
     "with": {"title": "{{ item.title }}", "index": "{{ item_index }}"}}]}


def timed(engine: Engine, recipe, event, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run_id = engine.create_run(recipe, event)
        status = engine.execute(run_id)
        times.append(time.perf_counter() - start)
        assert status == "succeeded", engine.runs.detail(run_id)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = Engine(Settings(_env_file=None, database_url=url, data_dir=Path(tmp) / "data"),
                        load_entry_points=False)
        print(f"database: {url.split('://')[0]}, repeat: {args.repeat}, python {sys.version.split()[0]}")
        medians = {}
        for n in (1, 10, 50):
            recipe = engine.validate(chain(n))
            timed(engine, recipe, {"title": "Hello"}, 3)  # warm up (template cache, connections)
            medians[n] = statistics.median(timed(engine, recipe, {"title": "Hello"}, args.repeat))
            print(f"chain of {n:>2} durable steps: {medians[n] * 1000:8.2f} ms per run (median)")
        per_step = (medians[50] - medians[1]) / 49
        print(f"marginal cost per durable step: {per_step * 1000:.3f} ms   (target <= 0.5 ms)")
        loop = engine.validate(LOOP)
        event = {"items": [{"title": f"Post {i}"} for i in range(1000)]}
        timed(engine, loop, event, 1)
        loop_times = timed(engine, loop, event, max(3, args.repeat // 5))
        print(f"for_each over 1,000 items: {statistics.median(loop_times):.3f} s (median)   (target <= 0.3 s)")
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
