"""`analytics.report`: the publications of the last days with what went out and came back, events per campaign,
and a ready-made text (day-one recipe 3's weekly summary); the days are calendar days in the step's time zone."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from beffroi.recipes import RecipeInvalid

PUBLISH = {"name": "fete", "trigger": {"uses": "builtins.manual"}, "steps": [
    {"id": "post", "uses": "smms.publish", "with": {"text": "Fête de la musique ce samedi"}},
    {"id": "mail", "uses": "email.send", "with": {"to": "a@example.org, b@example.org", "subject": "Fête",
                                                  "text": "Bonjour"}},
    {"id": "track", "uses": "analytics.track_event", "with": {"name": "click", "campaign": "fete-2026"}}]}


def report_recipe(**given) -> dict:
    return {"name": "weekly", "trigger": {"uses": "builtins.manual"},
            "steps": [{"id": "report", "uses": "analytics.report", "with": given}]}


def tomorrow() -> str:
    return (datetime.now(UTC).astimezone(ZoneInfo("Europe/Brussels")).date() + timedelta(days=1)).isoformat()


def run(engine, data: dict) -> dict:
    engine.save_recipe(data, author="editor@example.org")
    recipe, _ = engine.recipes.get(data["name"])
    done = engine.run_recipe(recipe, {})
    assert done["status"] == "succeeded", done
    return done


def output(engine, run_id: str) -> dict:
    return next(s for s in engine.runs.detail(run_id)["steps"] if s["id"] == "report")["output"]


def test_the_report_lists_what_went_out_and_came_back_in_the_language_asked(engine):
    published = run(engine, PUBLISH)
    done = run(engine, report_recipe(days=7, until=tomorrow(), language="fr"))
    report = output(engine, done["id"])
    assert report["last_day"] == (datetime.fromisoformat(tomorrow()) - timedelta(days=1)).date().isoformat()
    (publication,) = report["publications"]
    assert publication["id"] == published["id"] and publication["recipe"] == "fete"
    assert {(c["channel"], c["count"]) for c in publication["channels"]} == {("smms", 1), ("email", 2)}
    assert publication["results"] == {"click": 1} and report["campaigns"] == {"fete-2026": {"click": 1}}
    assert report["text"].startswith("Publications du ") and ": 1" in report["text"].splitlines()[0]
    assert "fete: envoyée sur smms outbox, email outbox (2); retours: click 1" in report["text"]
    assert "- fete-2026: click 1" in report["text"]


def test_days_before_the_publication_list_nothing_and_a_preview_reads_the_same(engine):
    run(engine, PUBLISH)
    done = run(engine, report_recipe(days=3, until="2026-01-01"))
    report = output(engine, done["id"])
    assert (report["first_day"], report["last_day"]) == ("2025-12-29", "2025-12-31")
    assert report["publications"] == [] and report["text"].endswith("No publication over these days.")
    recipe, _ = engine.recipes.get("weekly")
    preview = engine.run_recipe(recipe, {}, dry_run=True)
    assert preview["status"] == "succeeded"


@pytest.mark.parametrize(("given", "where"), [({"timezone": "Mars/Olympus"}, "timezone"), ({"days": 0}, "days"),
                                              ({"language": "xx"}, "language")])
def test_bad_input_is_refused_with_the_field(engine, given, where):
    with pytest.raises(RecipeInvalid) as refused:
        engine.validate(report_recipe(**given))
    assert f"steps[0].with.{where}" in str(refused.value), str(refused.value)
