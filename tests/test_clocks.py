"""The simulated clock of tests and rehearsals (BEFFROI_CLOCK_FILE): the engine, the scheduler, publish windows,
approval expiries and the web UI's "today" follow the date-time written in the file; it is refused wherever it
could do harm, never goes back, and every page says it is on."""
from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from beffroi import create_app, outbox
from beffroi.clocks import SimulatedClock, clock_of
from beffroi.errors import SetupError
from beffroi.scheduler import Scheduler
from beffroi.settings import Settings

from .approval_helpers import settled, step
from .ui_helpers import PASSWORD, sign_in

HELD = {"name": "budget", "title": "Budget 2027", "trigger": {"uses": "builtins.manual"},
        "window": {"working_days": True, "at": "10:00", "next_day": True},
        "steps": [{"id": "post", "uses": "smms.publish", "with": {"text": "Budget 2027"}}]}
ASKED = {"name": "asked", "trigger": {"uses": "builtins.manual"}, "steps": [
    {"id": "approve", "uses": "flow.approve", "with": {"expires_after": "2h", "on_expiry": "fail"}},
    {"id": "post", "uses": "smms.publish", "with": {"text": "Budget 2027"}}]}


def set_now(path, text: str) -> None:
    """Move the clock as a test does: the file written aside, then renamed over it (never read half written)."""
    aside = path.with_name(path.name + ".new")
    aside.write_text(text + "\n", encoding="utf-8")
    os.replace(aside, path)


@pytest.fixture
def now_file(tmp_path):
    path = tmp_path / "now.txt"
    set_now(path, "2026-12-11T16:00")  # Friday 11 December 2026, 16:00 in Brussels (no offset: local time)
    return path


@pytest.fixture
def engine(make_engine, database_url, now_file):
    return make_engine(database_url, clock_file=now_file)


def test_a_run_held_until_10_the_next_working_day_is_published_when_the_file_says_it_is_time(engine, now_file):
    assert engine.simulated_clock and engine.clock() == datetime(2026, 12, 11, 15, 0, tzinfo=UTC)
    engine.save_recipe(HELD)
    run_id = engine.trigger("budget", {}, submit=False)
    engine.execute(run_id)
    detail = engine.runs.detail(run_id)
    assert detail["status"] == "waiting" and detail["wake_at"] == "2026-12-14T09:00:00+00:00"  # Monday 10:00

    scheduler = Scheduler(engine)  # the scheduler's own clock is the engine's
    set_now(now_file, "2026-12-14T09:59:59+01:00")
    scheduler.run_once()
    assert scheduler.woken == []
    set_now(now_file, "2026-12-14T10:00:30+01:00")
    scheduler.run_once()
    assert scheduler.woken == [run_id]
    done = settled(engine, run_id)
    assert done["status"] == "succeeded"
    post = step(done, "post")  # it started (was first held) and ended by the same clock
    assert post["started_at"] == "2026-12-11T15:00:00+00:00" and post["finished_at"].startswith("2026-12-14T09:00:3")
    items, _ = outbox.items(engine.db, channel="smms")
    assert [item["payload"]["text"] for item in items] == ["Budget 2027"]


def test_now_in_a_recipe_and_the_app_feed_items_follow_the_file(engine, now_file):
    engine.save_recipe({"name": "stamped", "trigger": {"uses": "builtins.manual"}, "steps": [
        {"id": "when", "uses": "data.set", "with": {"at": "{{ now() | isoformat }}"}},
        {"id": "item", "uses": "mcms.publish_item", "with": {"title": "Budget 2027", "text": "Adopté."}}]})
    recipe, _ = engine.recipes.get("stamped")
    done = engine.run_recipe(recipe, {})
    assert step(done, "when")["output"]["at"] == "2026-12-11T15:00:00+00:00"
    assert step(done, "item")["output"]["published_at"] == "2026-12-11T15:00:00+00:00"


def test_an_approval_expires_when_the_file_passes_its_expiry(engine, now_file):
    engine.save_recipe(ASKED)
    run_id = engine.trigger("asked", {}, submit=False)
    engine.execute(run_id)
    request = engine.approvals.of_run(run_id)[0]
    assert request["expires_at"] == datetime(2026, 12, 11, 17, 0, tzinfo=UTC)  # two hours after 16:00 in Brussels
    set_now(now_file, "2026-12-11T18:00:01")
    Scheduler(engine).run_once()
    run = settled(engine, run_id)
    assert run["status"] == "failed" and "expired at 2026-12-11 17:00 UTC" in run["error"]
    assert step(run, "approve")["status"] == "failed" and outbox.items(engine.db, channel="smms")[0] == []
    assert engine.approvals.get(request["id"])["status"] == "expired"


def test_the_pages_say_the_clock_is_simulated_and_their_today_is_the_files(make_engine, now_file):
    set_now(now_file, "2027-03-15T09:30")
    engine = make_engine(clock_file=now_file)
    engine.users.create("editor@example.org", PASSWORD, role="editor", name="Editor")
    for language, month, said in (("en", "March 2027", "Simulated clock"), ("fr", "mars 2027", "Horloge simulée")):
        client = TestClient(create_app(engine), cookies={"beffroi_lang": language})
        assert sign_in(client, "editor@example.org").status_code == 303
        page = client.get("/calendar")
        assert page.status_code == 200 and said in page.text and month in page.text
        assert "15 mars 2027" in page.text or "Mar 15, 2027" in page.text  # the time Beffroi takes it to be
        results = client.get("/results")
        assert results.status_code == 200 and 'value="2027-03-15"' in results.text  # the last day of the period


def test_without_the_setting_the_clock_is_the_machines_and_no_page_mentions_it(make_engine):
    engine = make_engine()
    assert not engine.simulated_clock
    before = datetime.now(UTC)
    assert before <= engine.clock() <= datetime.now(UTC)


def test_it_is_refused_where_it_could_do_harm(tmp_path, now_file):
    def refused(**settings) -> str:
        with pytest.raises(SetupError) as caught:
            clock_of(Settings(_env_file=None, **settings))
        return str(caught.value)

    assert "BEFFROI_REDIS_URL" in refused(clock_file=now_file, redis_url="redis://127.0.0.1:6379/15")
    assert "cannot be read" in refused(clock_file=tmp_path / "missing.txt")
    set_now(now_file, "next Tuesday")
    assert "is not a date-time" in refused(clock_file=now_file)
    set_now(now_file, "2026-12-11T16:00")
    now_file.chmod(0o666)
    assert "may be written by others" in refused(clock_file=now_file)
    now_file.chmod(0o644)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # whatever the umask
    set_now(shared / "now.txt", "2026-12-11T16:00")
    assert "its folder" in refused(clock_file=shared / "now.txt")
    assert clock_of(Settings(_env_file=None, clock_file=None)) is None


def test_time_never_goes_back_and_a_file_unreadable_for_a_moment_keeps_the_last_time(now_file, caplog):
    from zoneinfo import ZoneInfo

    clock = SimulatedClock(now_file, ZoneInfo("Europe/Brussels"))
    set_now(now_file, "2026-12-12T10:00+01:00")
    assert clock() == datetime(2026, 12, 12, 9, 0, tzinfo=UTC)
    set_now(now_file, "2026-12-11T10:00+01:00")
    assert clock() == datetime(2026, 12, 12, 9, 0, tzinfo=UTC)
    assert "time never goes back" in caplog.text
    set_now(now_file, "")
    assert clock() == datetime(2026, 12, 12, 9, 0, tzinfo=UTC)
    now_file.unlink()
    assert clock() == datetime(2026, 12, 12, 9, 0, tzinfo=UTC)
    set_now(now_file, "2026-12-13")
    assert clock() == datetime(2026, 12, 12, 23, 0, tzinfo=UTC)  # a date alone: midnight in Brussels
