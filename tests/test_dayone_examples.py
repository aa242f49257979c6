"""Day-one recipes 2 and 3 as shipped in recipes/, run on the embedded defaults: the sign-up form creates the contact
with their consent, subscribes them and welcomes them (nothing for someone who did not consent); the Monday report
sums up last week's publications in an e-mail to the team."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from beffroi import ContactBook, Services, outbox
from beffroi.recipes import load_file

RECIPES = Path(__file__).parent.parent / "recipes"


def ship(engine, name: str, **changes) -> dict:
    data = {**load_file(RECIPES / name), **changes}
    engine.save_recipe(data, author="editor@example.org")
    return data


def run(engine, name: str, event: dict) -> dict:
    recipe, _ = engine.recipes.get(name)
    done = engine.run_recipe(recipe, event)
    assert done["status"] == "succeeded", [(s["id"], s["error"]) for s in done["steps"]]
    return done


def test_a_citizen_who_consents_is_recorded_subscribed_and_welcomed(engine):
    ship(engine, "signup-webhook.yaml")
    done = run(engine, "signup", {"email": " Nina@Example.org ", "first_name": "Nina", "consent": "yes"})
    contact_id = next(s for s in done["steps"] if s["id"] == "contact")["output"]["id"]
    kept = Services(engine.registry.services).get(ContactBook).export(engine.db, contact_id)
    assert kept["contact"]["email"] == "nina@example.org" and kept["contact"]["consent"] is True
    (consent,) = kept["consents"]
    assert consent["source"] == "website form" and "newsletter" in consent["text"] and consent["at"]
    assert [m["list"] for m in kept["lists"] if m["subscribed"]] == ["newsletter"]
    (mail,), _ = outbox.items(engine.db, channel="email")
    assert mail["payload"]["headers"]["To"] == "nina@example.org"
    assert mail["payload"]["text"].startswith("Hello Nina,")


def test_a_citizen_who_does_not_consent_is_recorded_without_list_or_mail(engine):
    ship(engine, "signup-webhook.yaml")
    done = run(engine, "signup", {"email": "omar@example.org", "consent": "no"})
    assert {s["id"]: s["status"] for s in done["steps"]} == {"contact": "succeeded", "subscribe": "skipped",
                                                            "welcome": "skipped"}
    assert outbox.items(engine.db, channel="email") == ([], 0)


def test_the_monday_report_sums_up_last_week_in_an_e_mail_to_the_team(make_engine):
    monday = datetime.now(UTC).astimezone(ZoneInfo("Europe/Brussels")).date()
    monday += timedelta(days=(7 - monday.weekday()) % 7 or 7)  # the next Monday: today's publication is last week's
    engine = make_engine(clock=lambda: datetime.combine(monday, datetime.min.time(), ZoneInfo("Europe/Brussels"))
                         .replace(hour=9).astimezone(UTC))
    engine.save_recipe({"name": "fete", "trigger": {"uses": "builtins.manual"}, "steps": [
        {"id": "post", "uses": "smms.publish", "with": {"text": "Fête de la musique ce samedi"}},
        {"id": "track", "uses": "analytics.track_event", "with": {"name": "click", "campaign": "fete-2026"}}]},
        author="editor@example.org")
    run(engine, "fete", {})
    ship(engine, "weekly-report.yaml", enabled=True)
    run(engine, "weekly-report", {"scheduled_at": "monday"})
    (mail,), _ = outbox.items(engine.db, channel="email")
    first = (monday - timedelta(days=7)).isoformat()
    assert mail["payload"]["headers"]["Subject"] == f"Last week's publications ({first} to " \
                                                    f"{(monday - timedelta(days=1)).isoformat()})"
    body = mail["payload"]["text"]
    assert body.startswith(f"Publications from {first} to ") and "fete: sent to smms outbox; came back: click 1" in body
    assert "- fete-2026: click 1" in body
