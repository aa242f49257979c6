"""Migration 0013 counts the events recorded before it (per UTC day, name and campaign) as the store counts new ones."""
from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config

from beffroi import MetricCounts, Services
from beffroi.store.database import MIGRATIONS

from .helpers import recipe


def _alembic(engine, verb: str, target: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.db.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        getattr(command, verb)(config, target)


def test_events_stored_before_the_migration_are_counted_once(engine):
    checked = engine.validate(recipe({"id": "track", "uses": "analytics.track_event",
                                      "with": {"name": "{{ trigger.name }}", "campaign": "{{ trigger.campaign }}"}}))
    for event in ({"name": "click", "campaign": "fete"}, {"name": "click", "campaign": "fete"},
                  {"name": "visit", "campaign": "rentree"}):
        assert engine.run_recipe(checked, event)["status"] == "succeeded"
    counts = Services(engine.registry.services).get(MetricCounts)
    today = datetime.now(UTC).date()
    before = sorted(counts.per_campaign(engine.db, first=today, last=today))
    assert before == [("fete", "click", 2), ("rentree", "visit", 1)]
    _alembic(engine, "downgrade", "0013-1")
    _alembic(engine, "upgrade", "head")
    assert sorted(counts.per_campaign(engine.db, first=today, last=today)) == before
    assert counts.per_day(engine.db, first=today, last=today, campaign="fete") == [(today, "click", 2)]
