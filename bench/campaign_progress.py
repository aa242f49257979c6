"""What reporting progress costs a campaign: `email.send_campaign` with its progress written as usual (at most twice a
second), written after every message, and written only at its start and end (as good as none).

Run: .venv/bin/python bench/campaign_progress.py [--recipients 2000] [--smtp-recipients 10000] [--repeat 1]
[--database-url URL]
Two campaigns per setting: one to the outbox (no pacing: the tightest loop, where a write per message shows most),
and one through a local SMTP server in its own process (aiosmtpd on 127.0.0.1), paced at the campaign's fastest
rate (6,000 a minute), as a real campaign is. The contacts are imported first (not timed); each figure is the
step's run, from start to the last message recorded.
"""
from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

from beffroi.engine import Engine
from beffroi.settings import Settings
from beffroi_plugins.crm import csv_import

SETTINGS = (("as shipped (0.5 s)", 0.5), ("after every message", 0.0), ("start and end only", 1e9))


def smtp_server(pipe) -> None:
    """A local SMTP server accepting every message; sends its port, then the count of messages when told to stop."""
    from aiosmtpd.controller import Controller

    class Count:
        received = 0

        async def handle_DATA(self, server, session, envelope):
            Count.received += 1
            return "250 2.0.0 Accepted"

    class Local(Controller):
        def _trigger_server(self):  # the ephemeral port, once bound
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    controller = Local(Count(), hostname="127.0.0.1", port=0)
    controller.start()
    pipe.send(controller.port)
    pipe.recv()
    controller.stop()
    pipe.send(Count.received)


def contacts(count: int, list_name: str) -> bytes:
    lines = ["email;first_name;consent;list"]
    lines += [f"person.{n}@example{n % 97}.org;Prénom {n};oui;{list_name}" for n in range(count)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def campaign(engine: Engine, list_name: str, connection: str | None) -> tuple[float, dict]:
    step = {"id": "news", "uses": "email.send_campaign", "with": {
        "list": list_name, "subject": "Nouvelles — [[ contact.first_name ]]",
        "text": "Bonjour [[ contact.first_name ]]", "rate_per_minute": 6000}, "timeout": "2h"}
    if connection:
        step["connection"] = connection
    recipe = engine.validate({"name": f"bench-{list_name}", "trigger": {"uses": "builtins.manual"}, "steps": [step]})
    started = time.perf_counter()
    run = engine.run_recipe(recipe, {})
    elapsed = time.perf_counter() - started
    if run["status"] != "succeeded":
        raise SystemExit(f"the campaign failed: {run['error']}")
    return elapsed, run["steps"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2_000, help="of the campaign to the outbox")
    parser.add_argument("--smtp-recipients", type=int, default=10_000, help="of the campaign through SMTP (paced)")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the three settings, interleaved (on a busy "
                                                              "machine: the best of each is printed last)")
    args = parser.parse_args()
    best: dict[str, tuple[float, float]] = {}
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=smtp_server, args=(theirs,), daemon=True)
    server.start()
    port = ours.recv()
    try:
        for label, interval in [setting for _ in range(args.repeat) for setting in SETTINGS]:
            with tempfile.TemporaryDirectory() as folder:
                url = args.database_url or f"sqlite:///{folder}/bench.db"
                engine = Engine(Settings(_env_file=None, database_url=url, data_dir=Path(folder) / "data",
                                         recipes_dir=Path(folder) / "recipes", allowed_networks=["127.0.0.0/8"],
                                         public_url="https://beffroi.ville.example", progress_interval=interval),
                                load_entry_points=False)
                for name, count in (("big", args.recipients), ("paced", args.smtp_recipients)):
                    csv_import.import_csv(engine.db, contacts(count, name), consent_source="bench", filename="b.csv")
                engine.connections.save("smtp", "smtp", {"host": "127.0.0.1", "port": port, "security": "none",
                                                         "from_address": "news@ville.example"})
                outbox, step = campaign(engine, "big", None)
                smtp, paced = campaign(engine, "paced", "smtp")
                engine.close()
            print(f"progress {label:20}: outbox {args.recipients:,} in {outbox:6.2f} s "
                  f"({args.recipients / outbox:7,.0f}/s, reported {step['progress']['done']:,} of "
                  f"{step['progress']['total']:,}); SMTP {args.smtp_recipients:,} paced at 100/s in {smtp:6.2f} s "
                  f"({paced['output']['sent']:,} sent)", flush=True)
            best[label] = min(best.get(label, (outbox, smtp)), (outbox, smtp))
        if args.repeat > 1:
            for label, (outbox, smtp) in best.items():
                print(f"best of {args.repeat}, progress {label:20}: outbox {outbox:6.2f} s, SMTP {smtp:6.2f} s")
    finally:
        ours.send("stop")
        print(f"the SMTP server accepted {ours.recv():,} messages")
        server.join(5)


if __name__ == "__main__":
    main()
