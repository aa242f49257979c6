"""The schema: migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import String, cast, insert, inspect, select

from beffroi.store import Base, Database
from beffroi.store.models import RunRow

# the crm, analytics and mcms plugins declare their tables on Base; core's migrations create them
from beffroi_plugins.analytics import tables as _analytics  # noqa: F401
from beffroi_plugins.crm import tables as _crm  # noqa: F401
from beffroi_plugins.mcms import tables as _mcms  # noqa: F401


def test_migrations_match_the_models(database_url):
    db = Database(database_url)
    db.migrate()
    db.migrate()  # applying again is a no-op
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    db.dispose()


def test_sqlite_runs_in_wal_mode(sqlite_url):
    db = Database(sqlite_url)
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert {"runs", "step_runs", "step_items", "recipes", "recipe_versions", "connections", "trigger_state",
            "trigger_seen", "api_tokens"} <= set(inspect(db.engine).get_table_names())
    db.dispose()


def test_times_are_stored_as_utc_instants(database_url):
    """An aware time in any zone reads back as the same instant, in UTC; SQLite keeps SQLAlchemy's own text."""
    db = Database(database_url)
    db.migrate()
    paris = timezone(timedelta(hours=1))
    moments = {"naive": datetime(2026, 3, 3, 18, 30),  # naive times are UTC
               "paris": datetime(2026, 3, 3, 19, 30, 0, 250, tzinfo=paris),
               "utc": datetime(2026, 3, 3, 18, 30, 0, 500, tzinfo=UTC)}
    runs = RunRow.__table__
    with db.engine.begin() as conn:
        for key, moment in moments.items():
            conn.execute(insert(runs).values(id=key, recipe_name="r", definition={}, status="queued",
                                             created_at=moment))
    with db.engine.connect() as conn:
        stored = dict(conn.execute(select(runs.c.id, runs.c.created_at)).all())
        earlier = conn.execute(select(runs.c.id).where(runs.c.created_at < moments["paris"])).scalars().all()
        if db.is_sqlite:
            text = conn.execute(select(cast(runs.c.created_at, String)).where(runs.c.id == "paris")).scalar()
            assert text == "2026-03-03 18:30:00.000250"
    assert stored["naive"] == datetime(2026, 3, 3, 18, 30, tzinfo=UTC)
    assert stored["paris"] == moments["paris"] and stored["paris"].utcoffset() == timedelta(0)
    assert stored["utc"] == moments["utc"]
    assert earlier == ["naive"]  # compared as instants, not as wall-clock text
    db.dispose()
