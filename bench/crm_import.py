"""CSV import benchmark: the time to import 100,000 contacts into the built-in contact base, on SQLite and PostgreSQL.

Run: .venv/bin/python bench/crm_import.py [--rows 100000] [--databases sqlite,postgresql] [--postgresql-url URL]
(PostgreSQL: in a fresh schema of --postgresql-url, by default $BEFFROI_TEST_DATABASE_URL; skipped without one.)

Writes a CSV file as a comms team's export looks (e-mail, first and last name, organisation, two tags, consent,
a list, a custom column), then imports it three times through the crm plugin's importer (the code behind the web
UI's import and POST /api/crm/contacts/import): first into an empty base (every row creates a contact, a membership
and, for consenting rows, a consent history entry), then again (every row finds its contact, nothing changes), then
a third time with every row changed (a new tag, the consent given by the rows that had refused it, a new list: every
row updates its contact and adds a membership). Prints for each the wall time, the CPU time of this process (reading
the file, the importer, the driver; SQLite's own work too) and, for a PostgreSQL on this machine, the CPU time of its
server processes, and the rows per second. The issue's target is 100,000 contacts in 10 s or less.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from beffroi.engine import Engine
from beffroi.settings import Settings
from beffroi_plugins.crm import csv_import
from databases import ServerCPU, add_arguments, each_database

TARGET_S = 10.0


def csv_file(rows: int, *, changed: bool = False) -> bytes:
    """A CSV export of `rows` contacts, one in ten of them without consent, spread over five lists (`changed`: the
    same people with another tag, all consenting, on five other lists)."""
    lines = ["email;first_name;last_name;organisation;tags;consent;list;city"]
    for n in range(rows):
        consent = "oui" if changed or n % 10 else "non"
        lines.append(f"person.{n}@example{n % 97}.org;Prénom {n};Nom {n};Organisation {n % 500};"
                     f"press|zone-{n % 12}{'|agenda' if changed else ''};{consent};"
                     f"{'other' if changed else 'list'}-{n % 5};Namur")
    return ("\n".join(lines) + "\n").encode("utf-8")


def bench(url: str, rows: int, tmp: Path) -> float:
    """Import the three files into the database at `url`; the slowest import's wall time."""
    engine = Engine(Settings(_env_file=None, database_url=url, data_dir=tmp / "data"))
    worst = 0.0
    files = (("into an empty base", csv_file(rows)), ("again (nothing changes)", csv_file(rows)),
             ("changed (every row updates)", csv_file(rows, changed=True)))
    print(f"{url.split(':')[0]}: {rows:,} rows, {len(files[0][1]) / 2**20:.1f} MB")
    server = ServerCPU(url)
    for label, data in files:
        server.seconds()
        started, cpu = time.perf_counter(), time.process_time()
        report = csv_import.import_csv(engine.db, data, consent_source="bench", filename="bench.csv")
        wall, spent, served = time.perf_counter() - started, time.process_time() - cpu, server.seconds()
        worst = max(worst, wall)
        print(f"  import {label:28} {wall:6.2f} s wall, {spent:6.2f} s CPU"
              f"{f' + {served:5.2f} s server CPU' if served is not None else ''}, {rows / wall:7,.0f} rows/s: "
              f"{report['imported']:,} created, {report['updated']:,} updated, {len(report['rejected']):,} skipped")
    engine.close()
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    add_arguments(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for url in each_database(args, tmp, "bench"):
            worst = bench(url, args.rows, tmp)
            print(f"  slowest import on {url.split(':')[0]}: {worst:.2f} s for {args.rows:,} rows; "
                  f"target {TARGET_S:.0f} s: {'met' if worst <= TARGET_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
