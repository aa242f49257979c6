"""Runs held by a publish window: journaled as waiting until it opens, woken by the scheduler's tick, then
published; a window open now (or in the past) publishes at once; a preview never waits."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from beffroi import outbox

from .approval_helpers import friday_clock, settled, step


@pytest.fixture
def clock():
    return friday_clock()


@pytest.fixture
def engine(make_engine, database_url, clock):
    return make_engine(database_url, clock=clock)


def recipe(window: dict, where: str = "recipe") -> dict:
    data = {"name": "embargoed", "trigger": {"uses": "builtins.manual"}, "steps": [
        {"id": "note", "uses": "data.set", "with": {"line": "Budget 2027: {{ trigger.what }}"}},
        {"id": "post", "uses": "smms.publish", "with": {"text": "{{ steps.note.line }}"}}]}
    if where == "recipe":
        data["window"] = window
    else:
        data["steps"][1]["window"] = window
    return data


def posts(engine) -> list[str]:
    items, _ = outbox.items(engine.db, channel="smms")
    return [item["payload"]["text"] for item in items]


def run(engine, data: dict, event: dict | None = None) -> str:
    engine.save_recipe(data)
    run_id = engine.trigger(data["name"], event or {"what": "adopted"}, submit=False)
    engine.execute(run_id)
    return run_id


def test_ten_o_clock_the_next_working_day_waits_over_the_weekend_then_publishes(engine, clock):
    run_id = run(engine, recipe({"working_days": True, "at": "10:00", "next_day": True}))
    detail = engine.runs.detail(run_id)
    assert detail["status"] == "waiting" and detail["wake_at"] == "2026-12-14T09:00:00+00:00"  # Monday 10:00
    assert step(detail, "note")["status"] == "succeeded"
    assert step(detail, "post")["status"] == "waiting"
    assert step(detail, "post")["output"] == {"window_opens_at": "2026-12-14T09:00:00+00:00"}
    assert posts(engine) == []

    clock.now = datetime(2026, 12, 14, 8, 59, tzinfo=UTC)
    assert engine.wake_due() == []
    clock.now = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
    assert engine.wake_due() == [run_id]
    assert settled(engine, run_id)["status"] == "succeeded"
    assert posts(engine) == ["Budget 2027: adopted"]


def test_an_embargo_from_the_event_holds_one_step_and_one_in_the_past_publishes_at_once(engine, clock):
    held = run(engine, recipe({"not_before": "{{ trigger.embargo }}"}, where="step"),
               {"what": "adopted", "embargo": "2026-12-12T08:30"})
    assert engine.runs.detail(held)["wake_at"] == "2026-12-12T07:30:00+00:00"  # 08:30 in Brussels
    past = run(engine, recipe({"not_before": "{{ trigger.embargo }}"}, where="step") | {"name": "late"},
               {"what": "late", "embargo": "2026-12-01T08:30"})
    assert engine.runs.detail(past)["status"] == "succeeded"
    assert posts(engine) == ["Budget 2027: late"]


def test_quiet_hours_hold_a_post_written_at_night(engine, clock):
    clock.now = datetime(2026, 12, 11, 22, 30, tzinfo=UTC)  # 23:30 in Brussels
    run_id = run(engine, recipe({"quiet_hours": "22:00-07:00"}))
    assert engine.runs.detail(run_id)["wake_at"] == "2026-12-12T06:00:00+00:00"  # 07:00 in Brussels


def test_a_cancelled_waiting_run_never_publishes(engine, clock):
    run_id = run(engine, recipe({"at": "10:00", "next_day": True}))
    engine.cancel(run_id)
    clock.now = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
    assert engine.wake_due() == []
    assert engine.runs.detail(run_id)["status"] == "cancelled" and posts(engine) == []


def test_a_preview_shows_the_messages_without_waiting(engine):
    data = recipe({"at": "10:00", "next_day": True})
    engine.save_recipe(data)
    result = engine.run_recipe(engine.recipes.get("embargoed")[0], {"what": "adopted"}, dry_run=True)
    assert result["status"] == "succeeded"


def test_an_embargo_that_is_not_a_date_fails_the_step_saying_where(engine):
    run_id = run(engine, recipe({"not_before": "{{ trigger.embargo }}"}, where="step"),
                 {"what": "x", "embargo": "next tuesday"})
    detail = engine.runs.detail(run_id)
    assert detail["status"] == "failed"
    assert step(detail, "post")["error"] == ("steps[1].window.not_before: 'next tuesday' is not a date-time: write it "
                                             "as YYYY-MM-DDTHH:MM, for example 2026-12-10T09:00")


@pytest.mark.parametrize("window, where, message", [
    ({"quiet_hours": "22h-7h"}, "window.quiet_hours", "'22h' is not a time of day"),
    ({"not_before": "{{ steps.post.url }}"}, "window.not_before", "may use the trigger's data, not a step's"),
    ({"not_before": "{{ trigger.when"}, "window.not_before", "template syntax error"),
])
def test_a_bad_window_is_refused_at_save_time_where_it_is(engine, window, where, message):
    from beffroi.recipes import RecipeInvalid

    with pytest.raises(RecipeInvalid) as caught:
        engine.save_recipe(recipe(window))
    assert [p.loc for p in caught.value.problems] == [where]
    assert message in caught.value.problems[0].message


def test_the_run_page_says_when_the_window_opens(make_engine, clock, tmp_path):
    from fastapi.testclient import TestClient

    from beffroi import create_app

    from .ui_helpers import PASSWORD, sign_in

    engine = make_engine(f"sqlite:///{tmp_path / 'ui.db'}", clock=clock)
    engine.users.create("editor@example.org", PASSWORD, role="editor")
    run_id = run(engine, recipe({"working_days": True, "at": "10:00", "next_day": True}))
    for language, said in (("fr", "Attend sa fenêtre de publication : elle s’exécutera le lundi 14 décembre 2026, "
                                  "10:00."),
                           ("en", "Waits for its publish window: it runs on Monday, December 14, 2026, "
                                  "10:00\u202fAM.")):
        client = TestClient(create_app(engine), cookies={"beffroi_lang": language})
        assert sign_in(client, "editor@example.org").status_code == 303
        page = client.get(f"/runs/{run_id}").text
        assert said in page.replace("&nbsp;", "\u00a0"), language


def test_a_held_run_is_rescheduled_earlier_and_the_window_no_longer_holds_it(engine, clock):
    from beffroi.errors import RunConflict

    run_id = run(engine, recipe({"working_days": True, "at": "10:00", "next_day": True}))
    saturday = datetime(2026, 12, 12, 8, 0, tzinfo=UTC)
    engine.reschedule(run_id, saturday, actor="ana@city.be")
    assert engine.runs.detail(run_id)["wake_at"] == "2026-12-12T08:00:00+00:00"
    [entry] = engine.audit.page(action="run.rescheduled")
    assert (entry.actor, entry.target, entry.detail) == ("ana@city.be", run_id, {"at": "2026-12-12T08:00:00+00:00"})
    clock.now = saturday
    assert engine.wake_due() == [run_id]
    assert settled(engine, run_id)["status"] == "succeeded"  # on a Saturday: the person chose it
    with pytest.raises(RunConflict, match="only a run waiting for its publish window"):
        engine.reschedule(run_id, saturday)


def test_rescheduling_to_a_time_past_publishes_at_once(engine, clock):
    run_id = run(engine, recipe({"at": "10:00", "next_day": True}))
    engine.reschedule(run_id, clock.now)
    assert settled(engine, run_id)["status"] == "succeeded" and posts(engine) == ["Budget 2027: adopted"]


def test_the_calendar_shows_what_waits_what_is_planned_and_what_was_published(engine, clock):
    from datetime import timedelta

    held = run(engine, recipe({"working_days": True, "at": "10:00", "next_day": True}))
    published = run(engine, recipe({}) | {"name": "at-once", "title": "At once"})
    engine.connections.create("press-smtp", "smtp", {"host": "127.0.0.1", "from_address": "com@city.be"})
    engine.save_recipe({"name": "monday-mail", "title": "Monday mail", "trigger": {
        "uses": "builtins.schedule", "schedule": "0 9 * * 1"}, "steps": [
        {"id": "mail", "uses": "email.send", "connection": "press-smtp",
         "with": {"to": "press@city.be", "subject": "Week", "text": "Hello"}}]})
    engine.save_recipe({"name": "sync", "trigger": {"uses": "builtins.schedule", "schedule": "0 * * * *"},
                        "steps": [{"id": "x", "uses": "data.set", "with": {"a": 1}}]})  # publishes nothing
    # runs are stamped with the real time, the held one waits by the engine's clock (a Friday in December)
    start, end = datetime.now(UTC) - timedelta(hours=1), clock.now + timedelta(days=7)
    shown = [(e.state, e.recipe, e.channels, e.run_id, e.at.isoformat() if e.state != "published" else "")
             for e in engine.calendar(start, end)]
    assert shown[0] == ("published", "at-once", ("smms",), published, "")
    assert ("planned", "monday-mail", ("email",), None, "2026-12-14T08:00:00+00:00") in shown
    assert ("scheduled", "embargoed", ("smms",), held, "2026-12-14T09:00:00+00:00") in shown
    assert {e.recipe for e in engine.calendar(start, end, channel="email")} == {"monday-mail"}
