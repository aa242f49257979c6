"""The flagship recipe end to end: a new blog post → Mastodon and Bluesky → newsletter → Matomo.

Every outside system is a local server speaking its real protocol (an Atom feed, the Mastodon API, Bluesky
XRPC, SMTP through aiosmtpd, Matomo's tracker). Connections, contacts and the recipe go through the HTTP API.
Then a second run is killed with SIGKILL mid-way and resumed: nothing is posted or sent twice.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from beffroi.api import create_app
from beffroi.scheduler import Scheduler

from .servers.bluesky import BlueskyServer
from .servers.feeds import Entry, FeedServer, atom
from .servers.mastodon import MastodonServer
from .servers.matomo import MatomoServer
from .test_email_servers import LocalController, Mailbox

RECIPE = Path(__file__).parent.parent / "recipes" / "blog-to-social.yaml"
BIN = Path(sys.executable).parent / "beffroi"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
POSTS = [
    Entry(id="urn:post:1", title="Fête de la musique : le programme", link="https://www.ville.example/agenda/fete?lang=fr",
          published=T0 - timedelta(days=3), summary="<p>Concerts gratuits sur la Grand-Place.</p>"),
]
NEW = Entry(id="urn:post:2", title="Travaux rue Haute : déviation des bus", link="https://www.ville.example/travaux",
            published=T0 + timedelta(minutes=1), summary="<p>Du 3 au 14 mars, les lignes 4 et 7 sont déviées.</p>")
LATER = Entry(id="urn:post:3", title="Nouveau parc à conteneurs", link="https://www.ville.example/parc",
              published=T0 + timedelta(minutes=20), summary="<p>Ouverture le 1er avril.</p>")


@pytest.fixture
def world():
    """The outside world: feed, Mastodon, Bluesky, SMTP and Matomo servers on 127.0.0.1."""
    mailbox = Mailbox()
    smtp = LocalController(mailbox)
    smtp.start()
    matomo = MatomoServer().start()
    with FeedServer() as feed, MastodonServer() as mastodon, BlueskyServer() as bluesky:
        feed.publish("/feed.atom", atom(POSTS), content_type="application/atom+xml")
        yield {"feed": feed, "mastodon": mastodon, "bluesky": bluesky, "mailbox": mailbox, "smtp": smtp,
               "matomo": matomo}
    mailbox.release.set()
    smtp.stop()
    matomo.stop()


@pytest.fixture
def engine(make_engine, tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'beffroi.db'}", allowed_networks=["127.0.0.0/8"],
                       load_entry_points=False)


def set_up_through_the_api(engine, world) -> TestClient:
    api = TestClient(create_app(engine), headers={"Authorization": f"Bearer {engine.tokens.create('it', 'admin')[1]}"})
    connections = [
        ("city-mastodon", "mastodon", {"base_url": world["mastodon"].url, "access_token": "tok-city"}),
        ("city-bluesky", "bluesky", {"service": world["bluesky"].url, "handle": "city.bsky.social",
                                     "app_password": "app-pass-1234"}),
        ("city-smtp", "smtp", {"host": "127.0.0.1", "port": world["smtp"].port, "security": "none",
                               "from_address": "communication@ville.example", "from_name": "Ville"}),
        ("city-matomo", "matomo", {"base_url": world["matomo"].url, "site_id": 1}),
    ]
    for name, kind, config in connections:
        answer = api.post("/api/connections", json={"name": name, "type": kind, "config": config})
        assert answer.status_code == 201, answer.text
    for email, first, consent in (("ann@presse.example", "Ann", True), ("bob@presse.example", "Bob", True),
                                  ("cyd@presse.example", "Cyd", False)):
        answer = api.post("/api/crm/contacts", json={"email": email, "first_name": first, "consent": consent,
                                                     "consent_source": "press list form"})
        assert answer.status_code == 201, answer.text
        assert api.post("/api/crm/lists/press/members", json={"email": email}).status_code in (200, 201)
    recipe = yaml.safe_load(RECIPE.read_text())
    recipe["trigger"]["with"]["feed_url"] = world["feed"].url("/feed.atom")
    recipe["enabled"] = True
    answer = api.post("/api/recipes", json=recipe)
    assert answer.status_code == 201, answer.text
    return api


def finished_runs(api, count: int, limit: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        items = api.get("/api/runs?recipe=blog-to-social").json()["items"]
        if len(items) >= count and all(r["status"] in ("succeeded", "failed") for r in items):
            return items
        time.sleep(0.05)
    raise AssertionError(api.get("/api/runs?recipe=blog-to-social").json())


def test_new_post_is_published_everywhere_once(engine, world):
    api = set_up_through_the_api(engine, world)
    scheduler = Scheduler(engine)
    assert scheduler.run_once(T0) == []  # the first poll only seeds: the old post fires nothing
    world["feed"].publish("/feed.atom", atom([NEW, *POSTS]), content_type="application/atom+xml")
    assert len(scheduler.run_once(T0 + timedelta(minutes=6))) == 1
    [run] = finished_runs(api, 1)
    detail = api.get(f"/api/runs/{run['id']}").json()
    assert detail["status"] == "succeeded", detail

    # one status on each social account, with the title and the UTM-tagged link
    link = "https://www.ville.example/travaux?utm_source=social&utm_medium=social&utm_campaign=blog-to-social"
    [status] = world["mastodon"].statuses
    assert status["text"] == f"{NEW.title} {link}" and status["language"] == "fr"
    assert status["account"]["username"] == "city"
    [post] = world["bluesky"].posts()
    assert post["text"] == f"{NEW.title} {link}"
    assert [f["features"][0]["uri"] for f in post["facets"]] == [link]

    # one email per consenting member of the list, personalised, with the unsubscribe headers
    mailbox = world["mailbox"]
    assert sorted(m["to"][0] for m in mailbox.messages) == ["ann@presse.example", "bob@presse.example"]
    message = mailbox.to("ann@presse.example")[0]
    assert message["Subject"] == NEW.title
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/u/" in message["List-Unsubscribe"]
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Bonjour Ann,") and "utm_source=newsletter" in body

    # one tracked event, carrying the published addresses
    [event] = world["matomo"].tracked
    assert event["e_a"] == "post_published" and event["e_c"] == "blog-to-social"
    stored = api.get("/api/analytics/events?campaign=blog-to-social").json()["items"]
    assert len(stored) == 1 and stored[0]["properties"]["mastodon"] == detail["steps"][0]["output"]["results"][0]["url"]

    # the next poll fires nothing more
    assert scheduler.run_once(T0 + timedelta(minutes=12)) == []
    assert len(world["mastodon"].statuses) == 1 and len(world["bluesky"].posts()) == 1
    assert len(mailbox.messages) == 2 and len(world["matomo"].tracked) == 1


def test_a_dry_run_sends_nothing_and_its_later_steps_read_the_placeholders(engine, world):
    api = set_up_through_the_api(engine, world)
    event = {"id": NEW.id, "title": NEW.title, "url": NEW.link, "summary": NEW.summary}
    run = api.post("/api/recipes/blog-to-social/runs?wait=true&dry_run=true", json=event).json()
    assert run["status"] == "succeeded", run
    announce, newsletter, track = run["steps"]
    places = ["https://preview.invalid/mastodon/city-mastodon", "https://preview.invalid/bluesky/city-bluesky"]
    assert [r["url"] for r in announce["output"]["results"]] == places
    assert (newsletter["output"]["sent"], newsletter["output"]["already_sent"]) == (2, 0)  # Ann and Bob consented
    properties = track["input"]["properties"]
    assert [properties["mastodon"], properties["bluesky"], properties["newsletter_sent"]] == [*places, 2]
    assert track["output"]["event_id"] == 0 and track["output"]["sent"][0]["status"] == "preview"
    assert world["mastodon"].statuses == [] and world["bluesky"].posts() == []
    assert world["mailbox"].messages == [] and world["matomo"].tracked == []


class QueueNothing:
    """Runs stay queued in SQL: a separate `beffroi resume` process executes them (and is killed)."""

    def submit(self, run_id: str) -> None:
        pass

    def submit_many(self, run_ids) -> None:
        pass

    def shutdown(self, timeout: float = 30) -> None:
        pass


def test_a_run_killed_mid_way_resumes_without_posting_twice(engine, world, tmp_path):
    api = set_up_through_the_api(engine, world)
    scheduler = Scheduler(engine)
    scheduler.run_once(T0)
    engine._queue = QueueNothing()
    world["feed"].publish("/feed.atom", atom([LATER, *POSTS]), content_type="application/atom+xml")
    [run_id] = scheduler.run_once(T0 + timedelta(minutes=6))
    mailbox = world["mailbox"]
    mailbox.hold_message = 1  # the second newsletter message is held open: the run is between recipients

    env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
    env.update(BEFFROI_DATABASE_URL=engine.settings.database_url, BEFFROI_DATA_DIR=str(engine.settings.data_dir),
               BEFFROI_ALLOWED_NETWORKS="127.0.0.0/8")
    worker = subprocess.Popen([str(BIN), "resume"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        assert mailbox.held.wait(30), worker.stdout.read1().decode() if worker.poll() is not None else "not held"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    mailbox.release.set()
    assert api.get(f"/api/runs/{run_id}").json()["status"] == "running"  # interrupted, not finished
    assert len(world["mastodon"].statuses) == 1 and len(world["bluesky"].posts()) == 1

    mailbox.hold_message = None
    again = subprocess.run([str(BIN), "resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    detail = api.get(f"/api/runs/{run_id}").json()
    assert detail["status"] == "succeeded", detail
    assert [s["status"] for s in detail["steps"]] == ["succeeded", "succeeded", "succeeded"]
    assert detail["steps"][0]["attempts"] == 1  # announce was not executed again
    assert len(world["mastodon"].statuses) == 1 and len(world["bluesky"].posts()) == 1  # no second post
    assert sorted(m["to"][0] for m in mailbox.messages) == ["ann@presse.example", "bob@presse.example"]
    assert len(world["matomo"].tracked) == 1
