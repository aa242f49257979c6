"""The durable run journal: each write is its own committed transaction, in SQLAlchemy Core for speed."""
from __future__ import annotations

import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from .store import Database
from .store.models import RunRow, StepItemRow, StepRunRow, TriggerSeenRow, utcnow

RUNS = RunRow.__table__
STEPS = StepRunRow.__table__
ITEMS = StepItemRow.__table__
SEEN = TriggerSeenRow.__table__

RUN_STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")
STEP_STATUSES = ("pending", "running", "succeeded", "failed", "skipped")

# Statements built once with bound parameters: SQLAlchemy then reuses their compiled form, which
# keeps a durable step write close to the cost of the SQL itself.
_STEP_COLUMNS = ("position", "status", "input", "output", "error", "attempts", "started_at", "finished_at")
_ITEM_COLUMNS = ("status", "input", "output", "error", "attempts")
INSERT_RUN = insert(RUNS)
INSERT_SEEN = insert(SEEN)
SEEN_KEY = select(SEEN.c.run_id).where(SEEN.c.recipe_name == bindparam("k_recipe"), SEEN.c.key == bindparam("k_key"))
INSERT_STEP = insert(STEPS)
UPDATE_STEP = update(STEPS).where(STEPS.c.run_id == bindparam("k_run"), STEPS.c.step_id == bindparam("k_step")) \
    .values({c: bindparam(c) for c in _STEP_COLUMNS})
INSERT_ITEM = insert(ITEMS)
UPDATE_ITEM = update(ITEMS).where(ITEMS.c.run_id == bindparam("k_run"), ITEMS.c.step_id == bindparam("k_step"),
                                  ITEMS.c.idx == bindparam("k_idx")).values({c: bindparam(c) for c in _ITEM_COLUMNS})


@dataclass
class StepRecord:
    """What the journal holds for one step (or one loop item)."""

    status: str
    output: Any = None
    error: str | None = None
    attempts: int = 0
    started_at: datetime | None = None


class Journal:
    """Reads and writes runs, steps and loop items; every method commits before it returns."""

    def __init__(self, db: Database):
        self.db = db

    def create_run(self, *, recipe_name: str, definition: dict, event: Any, dry_run: bool = False,
                   version: int | None = None, trigger_key: str | None = None) -> str | None:
        """Store a queued run; with a trigger key already seen for this recipe, store nothing and return None."""
        run_id = uuid.uuid4().hex
        now = utcnow()
        try:
            with self.db.writing() as conn:
                if trigger_key is not None:
                    if conn.execute(SEEN_KEY, {"k_recipe": recipe_name, "k_key": trigger_key}).first() is not None:
                        return None
                    conn.execute(INSERT_SEEN, {"recipe_name": recipe_name, "key": trigger_key, "run_id": run_id,
                                               "created_at": now})
                conn.execute(INSERT_RUN, {"id": run_id, "recipe_name": recipe_name, "recipe_version": version,
                                          "definition": definition, "status": "queued", "dry_run": dry_run,
                                          "trigger_event": event, "trigger_key": trigger_key, "created_at": now})
        except IntegrityError:
            if trigger_key is None:
                raise
            return None  # the same key was recorded a moment ago by a concurrent caller
        return run_id

    def claim(self, run_id: str, worker: str, *, from_statuses: tuple[str, ...] = ("queued",)) -> dict | None:
        """Mark a run running for this worker if it is in one of `from_statuses`; return its row or None."""
        now = utcnow()
        with self.db.writing() as conn:
            result = conn.execute(update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status.in_(from_statuses)).values(
                status="running", claimed_by=worker, heartbeat_at=now))
            if result.rowcount != 1:
                return None
            conn.execute(update(RUNS).where(RUNS.c.id == run_id, RUNS.c.started_at.is_(None)).values(started_at=now))
            row = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).mappings().first()
        return dict(row)

    def run_status(self, run_id: str) -> str | None:
        """The current status of a run, or None if it does not exist."""
        with self.db.engine.connect() as conn:
            return conn.execute(select(RUNS.c.status).where(RUNS.c.id == run_id)).scalar()

    def finish_run(self, run_id: str, status: str, error: str | None) -> None:
        """Record the final status of a run (a cancelled run stays cancelled)."""
        with self.db.writing() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status != "cancelled").values(
                status=status, error=error, finished_at=utcnow(), claimed_by=None))

    def release(self, run_id: str, status: str = "queued") -> None:
        """Give a claimed, unfinished run back (e.g. on shutdown) so it is resumed later."""
        with self.db.writing() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status == "running").values(
                status=status, claimed_by=None))

    def steps(self, run_id: str) -> dict[str, StepRecord]:
        """The journal of every step of a run that has started."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(select(STEPS.c.step_id, STEPS.c.status, STEPS.c.output, STEPS.c.error,
                                       STEPS.c.attempts, STEPS.c.started_at).where(STEPS.c.run_id == run_id))
            return {r.step_id: StepRecord(r.status, r.output, r.error, r.attempts, r.started_at) for r in rows}

    def items(self, run_id: str, step_id: str) -> dict[int, StepRecord]:
        """The journal of a loop step's items."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(select(ITEMS.c.idx, ITEMS.c.status, ITEMS.c.output, ITEMS.c.error, ITEMS.c.attempts)
                                .where(ITEMS.c.run_id == run_id, ITEMS.c.step_id == step_id))
            return {r.idx: StepRecord(r.status, r.output, r.error, r.attempts) for r in rows}

    @contextmanager
    def writer(self, run_id: str) -> Iterator["RunWriter"]:
        """A writer holding one connection for the whole run (no pool checkout per step)."""
        with self.db.engine.connect() as conn:
            yield RunWriter(conn, run_id, self.db.write_lock)

    def heartbeat(self, worker: str) -> None:
        """Refresh the heartbeat of every run this worker is executing."""
        with self.db.writing() as conn:
            conn.execute(update(RUNS).where(RUNS.c.claimed_by == worker, RUNS.c.status == "running")
                         .values(heartbeat_at=utcnow()))

    def unfinished(self) -> list[dict]:
        """Runs queued or running (candidates for resumption), oldest first."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(select(RUNS.c.id, RUNS.c.status, RUNS.c.claimed_by, RUNS.c.heartbeat_at)
                                .where(RUNS.c.status.in_(("queued", "running"))).order_by(RUNS.c.created_at))
            return [dict(r._mapping) for r in rows]


CLAIM = update(RUNS).where(RUNS.c.id == bindparam("k_run"), RUNS.c.status.in_(bindparam("k_from", expanding=True))) \
    .values(status="running", claimed_by=bindparam("k_worker"), heartbeat_at=bindparam("k_now"),
            started_at=func.coalesce(RUNS.c.started_at, bindparam("k_now"))) \
    .returning(RUNS.c.id, RUNS.c.recipe_name, RUNS.c.recipe_version, RUNS.c.definition, RUNS.c.dry_run,
               RUNS.c.trigger_event, RUNS.c.started_at)
FINISH = update(RUNS).where(RUNS.c.id == bindparam("k_run"), RUNS.c.status != "cancelled") \
    .values(status=bindparam("status"), error=bindparam("error"), finished_at=bindparam("finished_at"), claimed_by=None)
STEPS_OF_RUN = select(STEPS.c.step_id, STEPS.c.status, STEPS.c.output, STEPS.c.error, STEPS.c.attempts,
                      STEPS.c.started_at).where(STEPS.c.run_id == bindparam("k_run"))


class RunWriter:
    """Claims, journals and finishes one run on a single connection; each write commits before it returns."""

    def __init__(self, conn: Connection, run_id: str, lock=None):
        self.conn = conn
        self.run_id = run_id
        self.lock = lock if lock is not None else nullcontext()

    def claim(self, worker: str, from_statuses: tuple[str, ...]) -> dict | None:
        """Compare-and-set the run to running for this worker; its row (with `fresh` when it never ran) or None."""
        now = utcnow()
        with self.lock, self.conn.begin():
            row = self.conn.execute(CLAIM, {"k_run": self.run_id, "k_from": list(from_statuses), "k_worker": worker,
                                            "k_now": now}).mappings().first()
        if row is None:
            return None
        return {**row, "fresh": row["started_at"] == now}

    def steps(self) -> dict[str, StepRecord]:
        """The journal of every step of this run that has started."""
        rows = self.conn.execute(STEPS_OF_RUN, {"k_run": self.run_id})
        result = {r.step_id: StepRecord(r.status, r.output, r.error, r.attempts, r.started_at) for r in rows}
        self.conn.rollback()  # end the read transaction: SQLite would otherwise hold its snapshot
        return result

    def finish(self, status: str, error: str | None) -> None:
        """Record the final status (a run cancelled meanwhile stays cancelled)."""
        self._commit(FINISH, {"k_run": self.run_id, "status": status, "error": error, "finished_at": utcnow()})

    def _commit(self, statement, params: dict) -> None:
        with self.lock, self.conn.begin():
            self.conn.execute(statement, params)

    def write_step(self, step_id: str, *, exists: bool, position: int, status: str, input: Any = None,
                   output: Any = None, error: str | None = None, attempts: int = 0,
                   started_at: datetime | None = None, finished: bool = False) -> None:
        """Insert or update one step's journal entry."""
        values = dict(position=position, status=status, input=input, output=output, error=error, attempts=attempts,
                      started_at=started_at, finished_at=utcnow() if finished else None)
        if exists:
            self._commit(UPDATE_STEP, {"k_run": self.run_id, "k_step": step_id, **values})
        else:
            self._commit(INSERT_STEP, {"run_id": self.run_id, "step_id": step_id, **values})

    def write_item(self, step_id: str, idx: int, *, exists: bool, status: str, input: Any = None,
                   output: Any = None, error: str | None = None, attempts: int = 0) -> None:
        """Insert or update one loop item's journal entry."""
        values = dict(status=status, input=input, output=output, error=error, attempts=attempts)
        if exists:
            self._commit(UPDATE_ITEM, {"k_run": self.run_id, "k_step": step_id, "k_idx": idx, **values})
        else:
            self._commit(INSERT_ITEM, {"run_id": self.run_id, "step_id": step_id, "idx": idx, **values})
