"""UI benchmark: the recipes pages with 1,000 recipes and 100,000 runs in the database (SQLite by default).

Run: .venv/bin/python bench/ui_recipes.py [--recipes N] [--runs N] [--repeat N] [--database-url URL]
Prints the median time of the home page (first page, a search, the last page), a recipe's overview, its versions,
a diff and the delete confirmation, each a request through TestClient (target <= 50 ms): its wall time, and the
CPU time the process spent on it (steadier on a loaded machine).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from beffroi import create_app
from beffroi.engine import Engine
from beffroi.settings import Settings
from beffroi.store.models import RunRow

PASSWORD = "correct horse battery staple"
STATUSES = ["succeeded"] * 8 + ["failed", "cancelled"]


def seed(engine: Engine, recipes: int, runs: int) -> None:
    """Recipes (a third on a cron schedule, each saved twice) and runs spread over them and over a year."""
    for i in range(recipes):
        trigger = ({"uses": "builtins.schedule", "schedule": f"{i % 60} {i % 24} * * *"} if i % 3 == 0
                   else {"uses": "builtins.manual"})
        data = {"name": f"recipe-{i:04d}", "title": f"Recipe number {i}", "trigger": trigger, "enabled": i % 2 == 0,
                "steps": [{"id": "set", "uses": "data.set", "with": {"text": "Hello"}}]}
        engine.save_recipe(data, author="bench")
        engine.save_recipe({**data, "description": "saved again"}, author="bench")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(12)
    definition = {"name": "x", "trigger": {"uses": "builtins.manual"},
                  "steps": [{"id": "set", "uses": "data.set", "with": {"text": "Hello"}}]}
    with engine.db.engine.begin() as conn:
        for chunk in range(0, runs, 10_000):
            rows = []
            for _ in range(chunk, min(runs, chunk + 10_000)):
                at = start + timedelta(seconds=rng.randrange(365 * 24 * 3600))
                status = rng.choice(STATUSES)
                rows.append({"id": uuid.uuid4().hex, "recipe_name": f"recipe-{rng.randrange(recipes):04d}",
                             "recipe_version": 2, "definition": definition, "status": status, "dry_run": False,
                             "trigger_event": {}, "error": "remote refused" if status == "failed" else None,
                             "created_at": at, "started_at": at, "finished_at": at + timedelta(seconds=2)})
            conn.execute(insert(RunRow), rows)


def server_ms(client: TestClient, path: str, repeat: int) -> tuple[float, float]:
    """The median wall time of a request through TestClient, and the median CPU time this process spent on it
    (server and client together: a figure that holds on a loaded machine, where wall times stretch)."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = Engine(Settings(_env_file=None, database_url=url, data_dir=Path(tmp) / "data"),
                        load_entry_points=False)
        started = time.perf_counter()
        seed(engine, args.recipes, args.runs)
        print(f"database: {url.split('://')[0]}, {args.recipes} recipes, {args.runs} runs "
              f"(seeded in {time.perf_counter() - started:.1f} s), repeat: {args.repeat}")
        engine.users.create("bench@example.org", PASSWORD, role="editor", name="Bench")
        client = TestClient(create_app(engine))
        login = client.get("/login")
        token = login.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"csrf": token, "email": "bench@example.org", "password": PASSWORD})
        last = (args.recipes + 49) // 50
        worst = 0.0
        for label, path in [("home", "/"), ("home, search", "/?q=number+12"), ("home, last page", f"/?page={last}"),
                            ("overview", "/recipes/recipe-0003"), ("versions", "/recipes/recipe-0003/versions"),
                            ("diff", "/recipes/recipe-0003/versions/diff?from=1&to=2"),
                            ("delete confirmation", "/recipes/recipe-0003/delete")]:
            server_ms(client, path, 2)  # warm up
            wall, cpu = server_ms(client, path, args.repeat)
            worst = max(worst, wall)
            print(f"{label:<22} {wall:7.2f} ms wall, {cpu:7.2f} ms CPU (medians, TestClient round trip)")
        print(f"slowest page: {worst:.2f} ms   (target <= 50 ms)")
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
