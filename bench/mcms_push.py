"""Web Push benchmark: one `mcms.push` step to 10,000 subscribers of a topic, on a local push service.

Run: .venv/bin/python bench/mcms_push.py [--subscribers N] [--concurrency C] [--database-url URL]
The push service (tests/servers/webpush.py) runs in its own process, as a real one is on another machine: it
verifies each message's VAPID signature and decrypts it with the subscriber's keys. The 10,000 subscriptions
are stored first (not timed); the figure is the step's run, from start to the last message accepted and
recorded in the delivery journal.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.servers, run from anywhere

from tests.servers.webpush import PushService

from beffroi.engine import Engine
from beffroi.settings import Settings
from beffroi_plugins.mcms import subscriptions
from beffroi_plugins.mcms.tables import SubscriptionRow

TOPIC = "news"


def serve(count: int, decrypt: bool, pipe) -> None:
    """The push service's process: makes `count` browsers, sends their subscriptions, serves until told to stop."""
    with PushService(decrypt=decrypt) as service:
        pipe.send([service.browser(f"b{i}").subscription() for i in range(count)])
        pipe.recv()
        pipe.send((len(service.received), len(service.refused), service.refused[:3]))


def store(engine: Engine, found: list[dict]) -> None:
    rows = []
    for subscription in found:
        topic, sub = subscriptions.check(TOPIC, subscription)
        rows.append(SubscriptionRow(id=sub.id, topic=topic, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth))
    with engine.db.session() as session:
        session.add_all(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-decrypt", action="store_true",
                        help="the push service checks the signature but does not decrypt (to time the sender alone)")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(
        target=serve, args=(args.subscribers, not args.no_decrypt, theirs), daemon=True)
    server.start()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        settings = Settings(_env_file=None, database_url=url, data_dir=Path(folder) / "data",
                            recipes_dir=Path(folder) / "recipes", allowed_networks=["127.0.0.0/8"],
                            public_url="https://beffroi.ville.example")
        engine = Engine(settings, load_entry_points=False)
        store(engine, ours.recv())
        recipe = engine.validate({"name": "bench-push", "trigger": {"uses": "builtins.manual"}, "steps": [
            {"id": "push", "uses": "mcms.push", "with": {
                "topic": TOPIC, "title": "Rue Haute fermée", "body": "Travaux lundi de 8 h à 17 h.",
                "url": "https://www.ville.example/travaux", "concurrency": args.concurrency}}]})
        start = time.perf_counter()
        run = engine.run_recipe(recipe, {})
        elapsed = time.perf_counter() - start
        ours.send("stop")
        received, refused, examples = ours.recv()
        engine.close()
    out = run["steps"][0].get("output") or {}
    print(f"mcms.push to {args.subscribers} Web Push subscribers (concurrency {args.concurrency}): {elapsed:.1f} s, "
          f"{args.subscribers / elapsed:.0f} messages/s; run {run['status']}, sent {out.get('sent')}, "
          f"failed {out.get('failed')}; the push service decrypted {received} and refused {refused} {examples}")
    if run["status"] != "succeeded" or received != args.subscribers or refused:
        sys.exit(1)


if __name__ == "__main__":
    main()
