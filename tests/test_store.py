"""The schema: migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from beffroi.store import Base, Database


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
