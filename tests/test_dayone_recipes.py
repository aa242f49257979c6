"""Day-one recipes 4 and 5 (recipes/press-release.yaml, recipes/event-reminder.yaml) end to end, against local
servers and an injected clock: the press release waits for its approval, then for 10:00 the next working day, then
goes out once on every channel and its document moves to Publié; the event's reminder waits for the day before."""
from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from beffroi.api import create_app
from beffroi.recipes import load_file
from beffroi.scheduler import Scheduler

from .approval_helpers import ANA, AUTHOR, Clock, people, settled, step
from .servers.mastodon import MastodonServer
from .servers.ntfy import NtfyServer
from .servers.webdav import WebDavServer
from .servers.webdav import connect as connect_webdav
from .servers.webpush import PushService
from .servers.wordpress import WordPressServer

RECIPES = Path(__file__).parent.parent / "recipes"
PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"
FRIDAY = datetime(2026, 12, 11, 14, 0, tzinfo=UTC)  # Friday 11 December 2026, 15:00 in Brussels
MONDAY_TEN = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)  # Monday 14 December, 10:00 in Brussels
PRESS_RELEASE = """# Marché de Noël sur la Grand-Place

Du 12 au 24 décembre, 60 chalets, une patinoire et des concerts chaque soir.

Entrée libre."""


@pytest.fixture
def clock():
    clock = Clock()
    clock.now = FRIDAY
    return clock


@pytest.fixture
def servers():
    with WordPressServer() as site, MastodonServer() as mastodon, PushService() as push, NtfyServer() as ntfy:
        yield {"site": site, "mastodon": mastodon, "push": push, "ntfy": ntfy}


@pytest.fixture
def engine(make_engine, database_url, clock, servers):
    engine = make_engine(database_url, clock=clock, allowed_networks=["127.0.0.0/8"],
                         public_url="https://beffroi.ville.example")
    engine.connections.save("city-website", "wordpress", {"base_url": servers["site"].url, "username": "comms",
                                                          "application_password": PASSWORD})
    engine.connections.save("city-mastodon", "mastodon", {"base_url": servers["mastodon"].url,
                                                          "access_token": "tok-city"})
    engine.connections.save("city-ntfy", "ntfy", {"base_url": servers["ntfy"].url})
    people(engine)
    return engine


@pytest.fixture
def client(engine):
    return TestClient(create_app(engine), base_url="http://beffroi.test", raise_server_exceptions=False)


def switched(name: str, connections: dict[str, str]) -> dict:
    """The example recipe with the connections its comments say to give for the real tools."""
    return switched_data(load_file(RECIPES / f"{name}.yaml"), connections)


def switched_data(data: dict, connections: dict[str, str]) -> dict:
    """A recipe with these steps given these connections."""
    for item in data["steps"]:
        if item["id"] in connections:
            item["connection"] = connections[item["id"]]
    return data


def subscribe(client, push, topic: str, *names: str) -> None:
    for name in names:
        subscription = push.browser(name).subscription()
        answer = client.post("/push/subscribe", json={"topic": topic, "subscription": subscription})
        assert answer.status_code == 201, answer.text


def drop(folder: Path, name: str, text: str, stamp: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    os.utime(folder / name, (stamp, stamp))


def dropped_press_release(engine, clock, documents: Path | None = None) -> str:
    """Drop the press release in Communiqués (of Beffroi's documents folder, or `documents`), poll until the run
    starts: its id."""
    scheduler = Scheduler(engine, clock=clock)
    assert scheduler.run_once(clock.now) == []  # the first poll notes what is there (nothing) and makes the folder
    documents = documents or engine.settings.data_dir / "documents"
    drop(documents / "Communiqués", "marche-de-noel.md", PRESS_RELEASE, stamp=1_796_000_000)
    assert scheduler.run_once(clock.advance(minutes=1)) == []  # seen once: it may still be being written
    [run_id] = scheduler.run_once(clock.advance(minutes=1))
    return run_id


@pytest.mark.parametrize("store", ["folder", "webdav"])
def test_a_press_release_goes_out_once_everywhere_at_ten_the_next_working_day_after_its_approval(
        engine, client, clock, servers, store, tmp_path):
    data = switched("press-release", {"draft": "city-website", "site": "city-website", "social": "city-mastodon"})
    documents = engine.settings.data_dir / "documents"
    with contextlib.ExitStack() as stack:
        if store == "webdav":  # Nextcloud, SharePoint…: the trigger and both ecm steps on the WebDAV connection
            documents = tmp_path / "dav"
            (documents / "Communiqués").mkdir(parents=True)
            connect_webdav(engine, stack.enter_context(WebDavServer(documents)))
            data["trigger"]["connection"] = "docs"
            data = switched_data(data, {"text": "docs", "file": "docs"})
        engine.save_recipe(data, author=AUTHOR)
        subscribe(client, servers["push"], "news", "ann", "bob")
        published(engine, client, clock, servers, documents, dropped_press_release(engine, clock, documents))


def published(engine, client, clock, servers, documents: Path, run_id: str) -> None:
    """The press release's run, from its approval to its publication on Monday 10:00, and nothing twice."""
    site, mastodon, push = servers["site"], servers["mastodon"], servers["push"]

    held = settled(engine, run_id)
    assert held["status"] == "waiting" and step(held, "approve")["status"] == "waiting"
    [draft] = site.posts.values()
    assert (draft["title"], draft["status"]) == ("Marché de Noël sur la Grand-Place", "draft")
    assert "<p>Du 12 au 24 décembre" in draft["content"]
    link = f"{site.url}/?p={draft['id']}"  # the draft's address, the post's once published (WordPress redirects)
    request = engine.approvals.of_step(run_id, "approve")
    texts = request["texts"]  # per channel, what the approver may correct
    assert texts["site"] == {"title": "Marché de Noël sur la Grand-Place"}
    assert set(texts["app"]) == {"title", "text"} and set(texts["push"]) == {"title", "body"}
    assert texts["social"]["texts.city-mastodon"].startswith(f"Marché de Noël sur la Grand-Place {link}&utm_source=")

    social = f"Le marché de Noël ouvre samedi ! {link}"
    engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve",
                           texts={"social": {"texts.city-mastodon": social},
                                  "push": {"title": "Marché de Noël : c'est parti"}})
    waiting = settled(engine, run_id)  # approved on Friday afternoon: it waits for Monday 10:00
    assert waiting["status"] == "waiting" and waiting["wake_at"] == MONDAY_TEN.isoformat()
    assert step(waiting, "site")["output"] == {"window_opens_at": MONDAY_TEN.isoformat()}
    assert draft["status"] == "draft" and mastodon.statuses == [] and push.received == []
    assert client.get("/feeds/app/news.json").json()["items"] == []

    clock.now = MONDAY_TEN - timedelta(minutes=1)
    assert engine.wake_due() == []
    clock.now = MONDAY_TEN
    assert engine.wake_due() == [run_id]
    done = settled(engine, run_id)
    assert done["status"] == "succeeded", [(s["id"], s["error"]) for s in done["steps"] if s["error"]]

    assert len(site.posts) == 1 and draft["status"] == "publish"  # the draft itself, put online
    assert len(site.hits("POST", "posts")) == 1 and len(site.hits("POST", f"posts/{draft['id']}")) == 1
    assert [status["text"] for status in mastodon.statuses] == [social]
    assert sorted(r.name for r in push.received) == ["ann", "bob"]
    assert {r.payload["title"] for r in push.received} == {"Marché de Noël : c'est parti"}
    [item] = client.get("/feeds/app/news.json").json()["items"]
    assert item["title"] == "Marché de Noël sur la Grand-Place" and item["url"] == link
    assert (documents / "Publié" / "marche-de-noel.md").read_text(encoding="utf-8") == PRESS_RELEASE
    assert not (documents / "Communiqués" / "marche-de-noel.md").exists()
    assert step(done, "file")["output"]["path"] == "Publié/marche-de-noel.md"

    # later polls and wake-ups change nothing: nothing is sent twice
    assert Scheduler(engine, clock=clock).run_once(clock.advance(minutes=5)) == []
    assert engine.wake_due() == []
    assert len(mastodon.statuses) == 1 and len(push.received) == 2 and len(site.hits("POST", "posts")) == 1


def test_a_failure_after_some_channels_is_retried_without_sending_any_of_them_twice(engine, client, clock, servers):
    site, mastodon, push = servers["site"], servers["mastodon"], servers["push"]
    engine.save_recipe(switched("press-release", {"draft": "city-website", "site": "city-website",
                                                  "social": "city-mastodon"}), author=AUTHOR)
    subscribe(client, push, "news", "ann")
    run_id = dropped_press_release(engine, clock)
    assert settled(engine, run_id)["status"] == "waiting"
    request = engine.approvals.of_step(run_id, "approve")
    engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve")
    settled(engine, run_id)
    mastodon.fail("/api/v1/statuses", 422)  # Mastodon refuses the post: the run stops at the social step
    clock.now = MONDAY_TEN
    assert engine.wake_due() == [run_id]
    failed = settled(engine, run_id)
    assert failed["status"] == "failed" and step(failed, "social")["status"] == "failed"
    assert step(failed, "push")["status"] == "succeeded" and len(push.received) == 1

    engine.retry(run_id)  # after the problem is fixed: the steps that succeeded are not run again
    done = settled(engine, run_id)
    assert done["status"] == "succeeded", [(s["id"], s["error"]) for s in done["steps"] if s["error"]]
    assert len(mastodon.statuses) == 1 and len(push.received) == 1
    assert len(site.hits("POST", "posts")) == 1 and len(client.get("/feeds/app/news.json").json()["items"]) == 1
    assert (engine.settings.data_dir / "documents" / "Publié" / "marche-de-noel.md").exists()


def test_the_press_release_runs_on_the_built_in_tools_of_a_fresh_installation(engine, client, clock):
    from beffroi import outbox

    engine.save_recipe(load_file(RECIPES / "press-release.yaml"), author=AUTHOR)
    run_id = dropped_press_release(engine, clock)
    assert settled(engine, run_id)["status"] == "waiting"
    request = engine.approvals.of_step(run_id, "approve")
    assert request is not None and set(request["texts"]["social"]) == {"texts.outbox"}
    engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve")
    assert settled(engine, run_id)["wake_at"] == MONDAY_TEN.isoformat()
    assert client.get("/site/1").status_code == 404  # a draft of the built-in website is not shown
    clock.now = MONDAY_TEN
    engine.wake_due()
    done = settled(engine, run_id)
    assert done["status"] == "succeeded", [(s["id"], s["error"]) for s in done["steps"] if s["error"]]
    page = client.get("/site/1")
    assert page.status_code == 200 and "Marché de Noël sur la Grand-Place" in page.text
    [post] = [item["payload"]["text"] for item in outbox.items(engine.db, channel="smms")[0]]
    assert post.startswith("Marché de Noël sur la Grand-Place https://beffroi.ville.example/site/1?utm_source=social")
    assert (engine.settings.data_dir / "documents" / "Publié" / "marche-de-noel.md").exists()


EVENT = {"title": "Concert de Noël de l'Harmonie", "starts_at": "2026-12-18T19:00:00+01:00",
         "place": "Église Saint-Loup", "url": "https://www.ville.example/agenda/concert"}
DAY_BEFORE_TEN = datetime(2026, 12, 17, 9, 0, tzinfo=UTC)  # Thursday 17 December, 10:00 in Brussels


def test_an_event_next_week_is_recalled_the_day_before_at_ten_by_push_and_on_social_media(engine, client, clock,
                                                                                         servers):
    mastodon, ntfy = servers["mastodon"], servers["ntfy"]
    data = switched("event-reminder", {"push": "city-ntfy", "social": "city-mastodon"})
    token = data["trigger"]["with"]["secret"] = "a-long-random-token-of-the-city-agenda"  # as its comment says
    engine.save_recipe({**data, "enabled": True}, author=AUTHOR)
    answer = client.post("/hooks/event-reminder", json=EVENT, headers={"X-Beffroi-Token": token,
                                                                      "X-Delivery-Id": "agenda-42"})
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run"]
    again = client.post("/hooks/event-reminder", json=EVENT, headers={"X-Beffroi-Token": token,
                                                                     "X-Delivery-Id": "agenda-42"})
    assert again.json()["status"] == "duplicate"  # the agenda sent it twice: one reminder

    held = settled(engine, run_id)
    assert held["status"] == "waiting" and held["wake_at"] == DAY_BEFORE_TEN.isoformat()
    assert ntfy.published == [] and mastodon.statuses == []
    clock.now = DAY_BEFORE_TEN - timedelta(seconds=1)
    assert engine.wake_due() == []
    clock.now = DAY_BEFORE_TEN
    assert engine.wake_due() == [run_id]
    done = settled(engine, run_id)
    assert done["status"] == "succeeded", [(s["id"], s["error"]) for s in done["steps"] if s["error"]]
    [note] = ntfy.published
    assert note["topic"] == "agenda" and note["title"] == "Rappel : Concert de Noël de l'Harmonie"
    assert note["message"] == "Le 18/12 à 19:00, Église Saint-Loup"
    [status] = mastodon.statuses
    assert status["text"].startswith("Rappel : Concert de Noël de l'Harmonie, le 18/12 à 19:00, Église Saint-Loup. "
                                     "https://www.ville.example/agenda/concert?utm_source=social")
    assert engine.wake_due() == [] and len(ntfy.published) == 1 and len(mastodon.statuses) == 1


def test_an_event_less_than_a_day_away_is_recalled_at_once(engine, clock, servers):
    engine.save_recipe(switched("event-reminder", {"push": "city-ntfy", "social": "city-mastodon"}), author=AUTHOR)
    clock.now = datetime(2026, 12, 18, 8, 0, tzinfo=UTC)  # the morning of the concert
    run_id = engine.trigger("event-reminder", EVENT, submit=False)
    assert engine.execute(run_id) == "succeeded"
    assert len(servers["ntfy"].published) == 1 and len(servers["mastodon"].statuses) == 1
