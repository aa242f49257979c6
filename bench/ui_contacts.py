"""Contacts pages benchmark: the time to serve each contacts page with 100,000 contacts in the database.

Run: .venv/bin/python bench/ui_contacts.py [--contacts 100000] [--repeat 20] [--database-url URL]

Seeds the contact base by bulk insert (100,000 contacts with names, organisations and tags, nine in ten with
consent and a consent history entry, one in twenty withdrawn; five lists of 20,000 members), signs in as an
editor, then asks for every contacts page `--repeat` times through the app in-process (no network) and prints per
page the median and 95th percentile of the wall time and the median CPU time of this process for one request
(routing, queries, templates, middleware and the test client: an upper bound of the server time; on a busy machine
the wall time stretches, the CPU time holds). The issue's target is 50 ms per page.
"""
from __future__ import annotations

import argparse
import random
import re
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
from beffroi_plugins.crm.tables import ConsentRow, ContactRow, ListRow, MembershipRow
from page_timing import PASSWORD, sign_in, time_pages

LISTS = ("press", "agenda", "culture", "sports", "schools")


def seed(engine: Engine, count: int) -> list[str]:
    """Bulk-insert the contacts, their consent history and list memberships; returns the contact ids by address."""
    rng = random.Random(13)
    now = datetime.now(UTC)
    list_ids = {name: uuid.uuid4().hex for name in LISTS}
    with engine.db.session() as session:
        session.execute(insert(ListRow), [{"id": i, "name": n, "title": n.title(), "created_at": now}
                                          for n, i in list_ids.items()])
    ids = []
    contacts, consents, members = [], [], []

    def flush() -> None:
        with engine.db.session() as session:
            session.execute(insert(ContactRow), contacts)
            if consents:
                session.execute(insert(ConsentRow), consents)
            session.execute(insert(MembershipRow), members)
        contacts.clear()
        consents.clear()
        members.clear()

    for n in range(count):
        contact_id = uuid.uuid4().hex
        ids.append(contact_id)
        at = now - timedelta(seconds=rng.randrange(3 * 365 * 24 * 3600))
        state = "withdrawn" if n % 20 == 0 else "none" if n % 10 == 1 else "given"
        contacts.append({"id": contact_id, "email": f"person.{n:06d}@example{n % 97}.org",
                         "first_name": f"Prénom{n}", "last_name": f"Nom{n}", "organisation": f"Organisation {n % 500}",
                         "tags": ["press", f"zone-{n % 12}"], "consent": state == "given",
                         "consent_at": at if state != "none" else None, "consent_source": "bench",
                         "custom": {"city": "Namur"}, "created_at": at, "updated_at": at})
        if state != "none":
            consents.append({"contact_id": contact_id, "given": True, "at": at, "source": "bench",
                             "text": "I agree to receive the city's news."})
        members.append({"list_id": list_ids[LISTS[n % 5]], "contact_id": contact_id, "subscribed": n % 50 != 0,
                        "source": "bench", "subscribed_at": at, "unsubscribed_at": None})
        if len(contacts) >= 5000:
            flush()
    if contacts:
        flush()
    return ids


def pages(client: TestClient, some: str) -> list[str]:
    """The pages timed: every contacts page, with filters that match many contacts and few."""
    first = client.get("/contacts").text
    after = re.search(r'<a href="([^"]+)" rel="next">', first).group(1).replace("&amp;", "&")
    members = client.get("/lists/press").text
    members_after = re.search(r'<a href="([^"]+)" rel="next">', members).group(1).replace("&amp;", "&")
    return ["/contacts", after, "/contacts?q=person.0999", "/contacts?q=nom4242", "/contacts?q=nobody-matches",
            "/contacts?list=press", "/contacts?tag=zone-3", "/contacts?consent=withdrawn", "/contacts?consent=none",
            "/contacts?list=agenda&tag=zone-7&consent=given&q=organisation", f"/contacts/{some}",
            f"/contacts/{some}/erase", "/lists", "/lists/press", members_after, "/contacts/import"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = Engine(Settings(_env_file=None, database_url=url, data_dir=Path(tmp) / "data"))
        started = time.perf_counter()
        ids = seed(engine, args.contacts)
        print(f"seeded {args.contacts:,} contacts in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
        engine.users.create("editor@example.org", PASSWORD, role="editor", name="Editor")
        client = TestClient(create_app(engine))
        sign_in(client, "editor@example.org")
        time_pages(client, pages(client, ids[len(ids) // 2]), args.repeat, width=60)
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
