"""The fast path (fastsql.py): rows it writes are stored and read back exactly as SQLAlchemy's, on SQLite and
PostgreSQL."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from beffroi.fastsql import FastConnection, FastInsert, FastStatement, without_flush_wait
from beffroi.journal import RUNS, STEPS, Journal
from beffroi.store import Database
from beffroi.store.models import RunRow, StepRunRow

EVENT = {"title": "Fête de la Musique — 21 juin", "tags": ["été", "agenda"], "count": 3, "ratio": 0.5,
         "nested": {"empty": [], "none": None, "yes": True}}
DEFINITION = {"name": "r", "trigger": {"uses": "builtins.manual"}, "steps": [{"id": "a", "uses": "data.set"}]}
WHEN = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def run_values(run_id: str, **changes) -> dict:
    values = {"id": run_id, "recipe_name": "r", "recipe_version": 2, "definition": DEFINITION, "status": "queued",
              "dry_run": False, "trigger_event": EVENT, "trigger_key": None, "created_at": WHEN}
    return {**values, **changes}


def stored(db: Database, table, key_column, key) -> tuple:
    """A row as the driver returns it, without any SQLAlchemy type processing."""
    with db.engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT * FROM {table.name} WHERE {key_column.name} = :key"),
                                  {"key": key}).one())


@pytest.mark.parametrize("event", [EVENT, None, [1, "deux"], "text"])
def test_a_fast_insert_stores_what_sqlalchemy_stores(db, event):
    keys = tuple(run_values("x"))
    with FastConnection(db.engine) as conn:
        conn.write([(FastStatement(insert(RUNS), db.engine.dialect, keys=keys),
                     run_values("fast", trigger_event=event))])
    with db.engine.begin() as conn:
        conn.execute(insert(RUNS), run_values("orm", trigger_event=event))
    fast, orm = stored(db, RUNS, RUNS.c.id, "fast"), stored(db, RUNS, RUNS.c.id, "orm")
    assert fast[1:] == orm[1:]  # same JSON text, same datetime text (SQLite), same values (PostgreSQL)
    with db.session() as session:
        row = session.get(RunRow, "fast")
        assert (row.definition, row.trigger_event, row.created_at, row.dry_run) == (DEFINITION, event, WHEN, False)
        assert row.created_at.tzinfo is not None


def test_a_multi_row_insert_and_a_returning_update_go_through_the_column_types(db):
    inserts = FastInsert(RUNS, tuple(run_values("x")), db.engine.dialect, chunk=2)
    rows = [run_values(f"r{i}", dry_run=i % 2 == 1, created_at=WHEN + timedelta(seconds=i)) for i in range(5)]
    with FastConnection(db.engine) as conn:
        conn.write(inserts.statements(rows))  # three statements: 2 + 2 + 1 rows
        claim = FastStatement(RUNS.update().where(RUNS.c.id == "r3").values(status="running")
                              .returning(RUNS.c.definition, RUNS.c.dry_run, RUNS.c.created_at, RUNS.c.trigger_event),
                              db.engine.dialect)
        (row,) = conn.write([(claim, {})], returning=True)
    assert row == {"definition": DEFINITION, "dry_run": True, "created_at": WHEN + timedelta(seconds=3),
                   "trigger_event": EVENT}
    with db.session() as session:
        assert [(r.id, r.dry_run, r.created_at, r.status)
                for r in session.scalars(select(RunRow).order_by(RunRow.id))] \
            == [(f"r{i}", i % 2 == 1, WHEN + timedelta(seconds=i), "running" if i == 3 else "queued") for i in range(5)]


def test_journal_writes_read_back_through_the_models(db):
    journal = Journal(db)
    run_id = journal.create_run(recipe_name="r", definition=DEFINITION, event=EVENT, version=3)
    with journal.writer(run_id) as writer:
        claimed = writer.claim("me", ("queued",))
        assert claimed["fresh"] and claimed["definition"] == DEFINITION and claimed["trigger_event"] == EVENT
        assert claimed["dry_run"] is False and claimed["started_at"].tzinfo is not None
        assert writer.claim("other", ("queued",)) is None  # compare-and-set
        writer.write_step("a", exists=False, position=0, status="running", input={"x": "é"}, attempts=1,
                          started_at=WHEN)
        writer.write_step("a", exists=True, position=0, status="succeeded", input={"x": "é"}, output=[1, None],
                          attempts=1, started_at=WHEN, finished=True)
        writer.write_step("b", exists=False, position=1, status="skipped", started_at=WHEN, finished=True, defer=True)
        writer.finish("succeeded", None)
        assert set(writer.steps()) == {"a", "b"}
    with db.session() as session:
        run = session.get(RunRow, run_id)
        assert (run.status, run.claimed_by, run.recipe_version, run.trigger_event) == ("succeeded", None, 3, EVENT)
        assert run.started_at.tzinfo is not None and run.finished_at >= run.started_at
        a, b = session.get(StepRunRow, (run_id, "a")), session.get(StepRunRow, (run_id, "b"))
        assert (a.status, a.input, a.output, a.attempts, a.started_at) == ("succeeded", {"x": "é"}, [1, None], 1, WHEN)
        assert a.finished_at.tzinfo is not None
        assert (b.status, b.input, b.output, b.error) == ("skipped", None, None, None)


def test_group_commit_deduplicates_trigger_keys(db):
    journal = Journal(db)
    request = {"recipe_name": "r", "definition": DEFINITION, "event": EVENT}
    first, duplicate, plain = journal.create_runs([{**request, "trigger_key": "k"}, {**request, "trigger_key": "k"},
                                                   request])
    assert first and plain and duplicate is None
    assert journal.create_runs([{**request, "trigger_key": "k"}]) == [None]
    with db.session() as session:
        assert {r.id for r in session.scalars(select(RunRow))} == {first, plain}


def test_driver_errors_are_sqlalchemy_errors_and_the_connection_stays_usable(db):
    statement = FastStatement(insert(RUNS), db.engine.dialect, keys=tuple(run_values("x")))
    with FastConnection(db.engine) as conn:
        conn.write([(statement, run_values("same"))])
        with pytest.raises(IntegrityError):
            conn.write([(statement, run_values("other")), (statement, run_values("same"))])
        conn.write([(statement, run_values("next"))])
    with db.session() as session:
        assert {r.id for r in session.scalars(select(RunRow))} == {"same", "next"}  # "other" was rolled back


def test_insert_needs_columns_with_python_defaults(db):
    with pytest.raises(ValueError, match="attempts"):
        FastStatement(insert(STEPS), db.engine.dialect, keys=("run_id", "step_id", "position", "status"))


@pytest.mark.parametrize("exists", [False, True])
def test_the_last_step_is_written_with_the_finish_and_a_cancelled_run_stays_cancelled(db, exists):
    journal = Journal(db)
    for status in ("succeeded", "cancelled"):
        run_id = journal.create_run(recipe_name="r", definition=DEFINITION, event=EVENT)
        with journal.writer(run_id) as writer:
            writer.claim("me", ("queued",))
            if exists:
                writer.write_step("a", exists=False, position=0, status="running", attempts=1, started_at=WHEN)
            if status == "cancelled":
                journal.cancel(run_id)  # another process cancels it while the last step runs
            writer.write_step("a", exists=exists, position=0, status="succeeded", output={"n": 1}, attempts=1,
                              started_at=WHEN, finished=True, defer=True)
            writer.finish("succeeded", None)
        with db.session() as session:
            assert session.get(RunRow, run_id).status == status
            step = session.get(StepRunRow, (run_id, "a"))
            assert (step.status, step.output, step.attempts, step.started_at) == ("succeeded", {"n": 1}, 1, WHEN)
            assert step.finished_at is not None


def test_the_pool_gets_the_connection_back_in_its_usual_mode(db):
    statement = FastStatement(insert(RUNS), db.engine.dialect, keys=tuple(run_values("x")))
    with FastConnection(db.engine) as conn:
        conn.write([(statement, run_values("one"))])
        with db.engine.connect() as other:  # a single-statement write is committed when write() returns
            assert other.execute(select(RUNS.c.id)).scalars().all() == ["one"]
        conn.write([(statement, run_values("two")), (statement, run_values("three"))])
    with db.engine.begin() as conn:  # the same pooled connection, in a SQLAlchemy transaction again
        conn.execute(RUNS.delete().where(RUNS.c.id == "one"))
        conn.rollback()
    with db.engine.connect() as conn:
        assert sorted(conn.execute(select(RUNS.c.id)).scalars()) == ["one", "three", "two"]


def test_a_pinned_connection_that_was_lost_is_replaced(pg_url):
    db = Database(pg_url)
    db.migrate()
    journal = Journal(db)
    admin = Database(pg_url)
    try:
        with journal.pinned():
            first = journal.create_run(recipe_name="r", definition=DEFINITION, event=EVENT)
            with journal.writer(first) as writer:
                writer.claim("me", ("queued",))
                backend = writer.conn.dbapi.info.backend_pid
            with admin.engine.begin() as conn:  # PostgreSQL restarted, or an idle connection cut by a proxy
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            journal.PING_AFTER = 0  # it has been idle: checked before use, and replaced
            second = journal.create_run(recipe_name="r", definition=DEFINITION, event=EVENT)
            with journal.writer(second) as writer:
                assert writer.claim("me", ("queued",)) is not None
                assert writer.conn.dbapi.info.backend_pid != backend
        with db.engine.connect() as conn:
            assert conn.execute(select(RUNS.c.status).where(RUNS.c.id == second)).scalar() == "running"
    finally:
        admin.dispose()
        db.dispose()


def test_writes_that_need_not_wait_for_the_disk_store_the_same_and_leave_the_session_durable(pg_url):
    db = Database(pg_url)  # PostgreSQL only: on SQLite every write is durable (its WAL file, synchronous=NORMAL)
    db.migrate()
    keys = tuple(run_values("x"))
    lazy = FastStatement(without_flush_wait(insert(RUNS), keys), db.engine.dialect)
    claim = FastStatement(without_flush_wait(RUNS.update().where(RUNS.c.id == "lazy").values(status="running")),
                          db.engine.dialect)
    with FastConnection(db.engine) as conn:
        conn.write([(lazy, run_values("lazy"))])
        conn.write([(claim, {})])
        conn.cursor.execute("SHOW synchronous_commit")
        assert conn.cursor.fetchall() == [("on",)]  # the setting was the statement's own transaction's
    with db.session() as session:
        row = session.get(RunRow, "lazy")
        assert (row.status, row.definition, row.trigger_event, row.created_at) == ("running", DEFINITION, EVENT, WHEN)
    db.dispose()
