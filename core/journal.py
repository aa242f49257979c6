"""The durable run journal: every write is committed before the call returns.

The hot writes (accepting runs; claiming, journaling and finishing them) use the fast path of fastsql.py:
these SQLAlchemy Core statements, compiled once per engine, run on the DBAPI connection. Reads for the
API and recovery go through SQLAlchemy as usual. Two writes share a transaction on purpose: the runs of
one `create_runs()` call (group commit), and a run's last step with its finish (see RunWriter).
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .fastsql import FastConnection, FastInsert, FastStatement, without_flush_wait
from .store import Database
from .store.models import RunRow, StepItemRow, StepRunRow, TriggerSeenRow, utcnow

RUNS = RunRow.__table__
STEPS = StepRunRow.__table__
ITEMS = StepItemRow.__table__
SEEN = TriggerSeenRow.__table__

RUN_STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")
STEP_STATUSES = ("pending", "running", "waiting", "succeeded", "failed", "skipped")

_RUN_COLUMNS = ("id", "recipe_name", "recipe_version", "definition", "status", "dry_run", "trigger_event",
                "trigger_key", "created_at", "started_by")
_SEEN_COLUMNS = ("recipe_name", "key", "run_id", "created_at")
_STEP_COLUMNS = ("position", "status", "input", "output", "error", "attempts", "started_at", "finished_at")
_ITEM_COLUMNS = ("status", "input", "output", "error", "attempts")
_NOW = bindparam("k_now", type_=RUNS.c.started_at.type)
_CLAIMED = (RUNS.c.id, RUNS.c.recipe_name, RUNS.c.recipe_version, RUNS.c.definition, RUNS.c.dry_run,
            RUNS.c.trigger_event, RUNS.c.started_at)


def _claim(statuses: tuple[str, ...]):
    return update(RUNS).where(RUNS.c.id == bindparam("k_run"), or_(*(RUNS.c.status == s for s in statuses))) \
        .values(status="running", claimed_by=bindparam("k_worker"), heartbeat_at=_NOW,
                started_at=func.coalesce(RUNS.c.started_at, _NOW)).returning(*_CLAIMED)


class JournalSQL:
    """The hot statements, compiled once for one engine's dialect."""

    def __init__(self, dialect):
        self.dialect = dialect
        self.postgres = dialect.name == "postgresql"
        # PostgreSQL: each journal write's twin committed without waiting for the disk (RunWriter's `durable=False`).
        self.lazy: dict[FastStatement, FastStatement] = {}
        self.insert_runs = FastInsert(RUNS, _RUN_COLUMNS, dialect)
        self.insert_seen = FastInsert(SEEN, _SEEN_COLUMNS, dialect)
        self.seen = FastStatement(select(SEEN.c.run_id).where(SEEN.c.recipe_name == bindparam("k_recipe"),
                                                              SEEN.c.key == bindparam("k_key")), dialect)
        self.claims: dict[tuple[str, ...], FastStatement] = {}  # by the statuses a claim accepts
        finish = update(RUNS).where(RUNS.c.id == bindparam("k_run"), RUNS.c.status != "cancelled") \
            .values(status=bindparam("status"), error=bindparam("error"), finished_at=bindparam("finished_at"),
                    claimed_by=None)
        self.finish = FastStatement(finish, dialect)
        # A parked run leaves its worker: `waiting` until woken (a decision, or the scheduler at wake_at). A wake-up
        # time set while it was still running (a decision that came in meanwhile, see Journal.wake) is kept if sooner.
        park = update(RUNS).where(RUNS.c.id == bindparam("k_run"), RUNS.c.status == "running")
        wake = bindparam("wake_at", type_=RUNS.c.wake_at.type)
        self.park_until = FastStatement(park.values(status="waiting", claimed_by=None, wake_at=case(
            ((RUNS.c.wake_at.is_not(None)) & (RUNS.c.wake_at < wake), RUNS.c.wake_at), else_=wake)), dialect)
        self.park = FastStatement(park.values(status="waiting", claimed_by=None), dialect)
        step_keys = ("run_id", "step_id", *_STEP_COLUMNS)
        self.insert_step = self._write(insert(STEPS), step_keys)
        update_step = update(STEPS).where(STEPS.c.run_id == bindparam("k_run"), STEPS.c.step_id == bindparam("k_step"))
        self.update_step = self._write(update_step.values({c: bindparam(c) for c in _STEP_COLUMNS}))
        # PostgreSQL: a run's last step and its finish in one statement (a data-modifying WITH), one round
        # trip; the step's values are bound as s_<column>. SQLite has no DML in WITH: two statements there.
        self.step_and_finish: dict[FastStatement, FastStatement] = {}
        if self.postgres:
            step_values = {c: bindparam(f"s_{c}", type_=STEPS.c[c].type) for c in step_keys}
            self.step_and_finish = {
                self.insert_step: FastStatement(finish.add_cte(insert(STEPS).values(step_values).cte("step")), dialect),
                self.update_step: FastStatement(finish.add_cte(
                    update_step.values({c: step_values[c] for c in _STEP_COLUMNS}).cte("step")), dialect),
            }
        self.steps = FastStatement(select(STEPS.c.step_id, STEPS.c.status, STEPS.c.output, STEPS.c.error,
                                          STEPS.c.attempts, STEPS.c.started_at)
                                   .where(STEPS.c.run_id == bindparam("k_run")), dialect)
        self.insert_item = self._write(insert(ITEMS), ("run_id", "step_id", "idx", *_ITEM_COLUMNS))
        self.update_item = self._write(
            update(ITEMS).where(ITEMS.c.run_id == bindparam("k_run"), ITEMS.c.step_id == bindparam("k_step"),
                                ITEMS.c.idx == bindparam("k_idx")).values({c: bindparam(c) for c in _ITEM_COLUMNS}))
        self.items = FastStatement(select(ITEMS.c.idx, ITEMS.c.status, ITEMS.c.output, ITEMS.c.error,
                                          ITEMS.c.attempts)
                                   .where(ITEMS.c.run_id == bindparam("k_run"), ITEMS.c.step_id == bindparam("k_step")),
                                   dialect)

    def _write(self, statement, keys: tuple[str, ...] | None = None) -> FastStatement:
        """Compile a journal write and, on PostgreSQL, its twin in `lazy` (see fastsql.without_flush_wait)."""
        compiled = FastStatement(statement, self.dialect, keys=keys)
        if self.postgres:
            self.lazy[compiled] = FastStatement(without_flush_wait(statement, keys), self.dialect)
        return compiled

    def claim(self, statuses: tuple[str, ...]) -> FastStatement:
        """The compare-and-set that marks a run running if its status is one of `statuses`."""
        statement = self.claims.get(statuses)
        if statement is None:
            statement = self.claims[statuses] = self._write(_claim(statuses))
        return statement


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

    PING_AFTER = 10.0  # seconds: a pinned connection idle this long is checked before it is used again

    def __init__(self, db: Database):
        self.db = db
        self.sql = JournalSQL(db.engine.dialect)
        self._local = threading.local()
        self._pins: set[Pin] = set()
        self._pins_lock = threading.Lock()

    def connect(self) -> FastConnection:
        """A fast-path connection from the pool (writes serialised by the database's write lock)."""
        return FastConnection(self.db.engine, self.db.write_lock)

    def pin(self) -> Pin | None:
        """Keep one connection for the journal writes of the calling thread, until unpin() or close().

        For threads that write all the time (a worker's runner threads, the thread that stores webhook
        deliveries): on a server database it saves a pool checkout per run or per batch, and with it the
        pool's liveness ping and its rollback on return. Not on SQLite (nothing is pinned): a connection
        there is a file handle, and one per thread would make each re-read the pages the others wrote.
        """
        if self.db.is_sqlite:
            return None
        self.unpin()  # a thread keeps one pin at most
        pin = self._local.pin = Pin(self)
        with self._pins_lock:
            self._pins.add(pin)
        return pin

    def unpin(self) -> None:
        """Give the calling thread's pinned connection back to the pool."""
        pin, self._local.pin = getattr(self._local, "pin", None), None
        if pin is not None:
            with self._pins_lock:
                self._pins.discard(pin)
            pin.close()

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """pin() for the duration of the block (a worker thread's loop)."""
        self.pin()
        try:
            yield
        finally:
            self.unpin()

    def close(self) -> None:
        """Give every pinned connection back (the engine closes)."""
        with self._pins_lock:
            pins, self._pins = list(self._pins), set()
        for pin in pins:
            pin.close()

    def _connection(self):
        """The calling thread's pinned connection, or one from the pool for this use only (a context manager)."""
        pin = getattr(self._local, "pin", None)
        return pin.use() if pin is not None else self.connect()

    def create_run(self, *, recipe_name: str, definition: dict, event: Any, dry_run: bool = False,
                   version: int | None = None, trigger_key: str | None = None,
                   started_by: str | None = None) -> str | None:
        """Store a queued run; with a trigger key already seen for this recipe, store nothing and return None."""
        return self.create_runs([{"recipe_name": recipe_name, "definition": definition, "event": event,
                                  "dry_run": dry_run, "version": version, "trigger_key": trigger_key,
                                  "started_by": started_by}])[0]

    def create_runs(self, requests: list[dict]) -> list[str | None]:
        """Store several queued runs in one transaction (group commit); each as create_run() would.

        Their creation times follow the order of `requests`, a microsecond apart, so that lists ordered by
        creation time show the runs of one batch in the order they arrived.
        """
        now = utcnow()
        results: list[str | None] = []
        runs: list[dict[str, Any]] = []
        seen: list[dict[str, Any]] = []
        keys: set[tuple[str, str]] = set()
        with self._connection() as conn:
            for request in requests:
                name, key = request["recipe_name"], request.get("trigger_key")
                if key is not None:
                    if (name, key) in keys or conn.read(self.sql.seen, {"k_recipe": name, "k_key": key}):
                        results.append(None)
                        continue
                    keys.add((name, key))
                run_id = uuid.uuid4().hex
                runs.append({"id": run_id, "recipe_name": name, "recipe_version": request.get("version"),
                             "definition": request["definition"], "status": "queued",
                             "dry_run": request.get("dry_run", False), "trigger_event": request.get("event"),
                             "trigger_key": key, "created_at": now + timedelta(microseconds=len(runs)),
                             "started_by": request.get("started_by")})
                if key is not None:
                    seen.append({"recipe_name": name, "key": key, "run_id": run_id, "created_at": now})
                results.append(run_id)
            try:
                conn.write([*self.sql.insert_seen.statements(seen), *self.sql.insert_runs.statements(runs)])
            except IntegrityError:
                if len(requests) > 1:  # one of the keys was recorded meanwhile by another process: one at a time
                    return [self.create_runs([request])[0] for request in requests]
                if not keys:
                    raise
                return [None]  # the same key was recorded a moment ago by a concurrent caller
        return results

    def run_status(self, run_id: str) -> str | None:
        """The current status of a run, or None if it does not exist."""
        with self.db.engine.connect() as conn:
            return conn.execute(select(RUNS.c.status).where(RUNS.c.id == run_id)).scalar()

    def finish_run(self, run_id: str, status: str, error: str | None) -> None:
        """Record the final status of a run (a cancelled run stays cancelled)."""
        with self.db.writing() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status != "cancelled").values(
                status=status, error=error, finished_at=utcnow(), claimed_by=None))

    def requeue(self, run_id: str) -> bool:
        """Put a failed or cancelled run back in the queue (its finished steps are kept); False if it changed."""
        with self.db.writing() as conn:
            return conn.execute(update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status.in_(("failed", "cancelled")))
                                .values(status="queued", error=None, finished_at=None)).rowcount == 1

    def release(self, run_id: str, *, owner: str | None, heartbeat: Any = ...) -> bool:
        """Compare-and-set a `running` run claimed by `owner` (and, if given, with that heartbeat) back to `queued`.

        True for the one caller that changed it; a run whose owner finished it, or beat in between, is left alone.
        """
        statement = update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status == "running",
                                       RUNS.c.claimed_by.is_(None) if owner is None else RUNS.c.claimed_by == owner)
        if heartbeat is not ...:
            statement = statement.where(RUNS.c.heartbeat_at.is_(None) if heartbeat is None
                                        else RUNS.c.heartbeat_at == heartbeat)
        with self.db.writing() as conn:
            return conn.execute(statement.values(status="queued", claimed_by=None)).rowcount == 1

    def cancel(self, run_id: str) -> None:
        """Mark an unfinished run cancelled (a runner stops before its next step)."""
        with self.db.writing() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status.in_(("queued", "running", "waiting")))
                         .values(status="cancelled"))

    def wake(self, run_id: str) -> bool:
        """Queue a `waiting` run again (a compare-and-set: True for the one caller that did it, who submits it).

        A run still `running` (about to park) gets its wake-up time set to now instead: its park keeps it, and the
        scheduler's next tick wakes it. False then, and for a run that ended.
        """
        now = utcnow()
        with self.db.writing() as conn:
            if conn.execute(update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status == "waiting")
                            .values(status="queued", wake_at=None)).rowcount == 1:
                return True
            conn.execute(update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status.in_(("queued", "running")))
                         .values(wake_at=now))
            return False

    def reschedule(self, run_id: str, at: datetime) -> bool:
        """Move a run held by its publish window to `at` (UTC), whatever the window says; False when the run is not
        waiting for a window (a run waiting for approval, running, finished)."""
        with self.db.writing() as conn:
            held = conn.execute(select(STEPS.c.step_id, STEPS.c.output).where(
                STEPS.c.run_id == run_id, STEPS.c.status == "waiting")).first()
            if held is None or not isinstance(held.output, dict) or "window_opens_at" not in held.output:
                return False
            chosen = at.isoformat()
            if conn.execute(update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status == "waiting")
                            .values(wake_at=at)).rowcount != 1:
                return False
            conn.execute(update(STEPS).where(STEPS.c.run_id == run_id, STEPS.c.step_id == held.step_id)
                         .values(output={"window_opens_at": chosen, "publish_at": chosen}))
            return True

    def due(self, now: datetime, limit: int = 500) -> list[str]:
        """Waiting runs whose wake-up time has come, soonest first (read through the index on wake_at)."""
        with self.db.engine.connect() as conn:
            return list(conn.scalars(select(RUNS.c.id).where(RUNS.c.wake_at <= now, RUNS.c.status == "waiting")
                                     .order_by(RUNS.c.wake_at).limit(limit)))

    @contextmanager
    def writer(self, run_id: str) -> Iterator[RunWriter]:
        """A writer holding one connection for the whole run (no pool checkout per step)."""
        with self._connection() as conn:
            writer = RunWriter(conn, self.sql, run_id)
            try:
                yield writer
            finally:
                writer.flush()

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


class Pin:
    """A connection kept by one thread (Journal.pin): checked before use after PING_AFTER idle, replaced when lost."""

    def __init__(self, journal: Journal):
        self.journal = journal
        self.conn: FastConnection | None = None
        self.used = time.monotonic()

    @contextmanager
    def use(self) -> Iterator[FastConnection]:
        conn = self.conn
        if conn is None or conn.broken or (time.monotonic() - self.used > self.journal.PING_AFTER and not conn.ping()):
            self.close()
            conn = self.conn = self.journal.connect()
        try:
            yield conn
        finally:
            self.used = time.monotonic()

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()


class RunWriter:
    """Claims, journals and finishes one run on a single connection; each write commits before it returns.

    The one exception is a write made with `defer=True` (the runner's last step): it is committed with the
    next write, the run's finish, in one transaction (or when the writer closes), saving a commit per run.

    Durability. The finish, and every write that a side effect depends on (`durable=True`, the default: the
    journal entry before an action with side effects starts, and its outcome), is on disk when the call
    returns. The claim and the entries of pure work (`durable=False`: a `data.set`, a skipped step) are
    committed — visible to every process, never lost when a worker dies — without waiting for the disk: on
    PostgreSQL a crash of the database server itself may roll such a write back, with everything after it,
    until the next durable write (at most ~200 ms later, or at the run's end). The run then resumes from its
    last durable state and does that pure work again, which is harmless by definition.
    """

    def __init__(self, conn: FastConnection, sql: JournalSQL, run_id: str):
        self.conn = conn
        self.sql = sql
        self.run_id = run_id
        self.pending: list[tuple[FastStatement, dict]] = []
        self.pending_durable = False
        self.clock: Callable[[], datetime] = utcnow  # when a step ends (the runner's: the engine's clock)

    def claim(self, worker: str, from_statuses: tuple[str, ...]) -> dict | None:
        """Compare-and-set the run to running for this worker; its row (with `fresh` when it never ran) or None."""
        now = utcnow()
        claim = self.sql.claim(tuple(from_statuses))
        claim = self.sql.lazy.get(claim, claim)  # not durable: a claim lost with the database only re-queues the run
        rows = self.conn.write([(claim, {"k_run": self.run_id, "k_worker": worker, "k_now": now})], returning=True)
        if not rows:
            return None
        row = rows[0]
        row["fresh"] = row["started_at"] == now
        return row

    def steps(self) -> dict[str, StepRecord]:
        """The journal of every step of this run that has started."""
        rows = self.conn.read(self.sql.steps, {"k_run": self.run_id})
        return {r["step_id"]: StepRecord(r["status"], r["output"], r["error"], r["attempts"], r["started_at"])
                for r in rows}

    def items(self, step_id: str) -> dict[int, StepRecord]:
        """The journal of a loop step's items."""
        rows = self.conn.read(self.sql.items, {"k_run": self.run_id, "k_step": step_id})
        return {r["idx"]: StepRecord(r["status"], r["output"], r["error"], r["attempts"]) for r in rows}

    def finish(self, status: str, error: str | None) -> None:
        """Record the final status (a run cancelled meanwhile stays cancelled), with a deferred last step."""
        params = {"k_run": self.run_id, "status": status, "error": error, "finished_at": utcnow()}
        if len(self.pending) == 1 and self.pending[0][0] in self.sql.step_and_finish:
            step, step_params = self.pending.pop()
            params.update({f"s_{key}": value for key, value in step_params.items() if not key.startswith("k_")})
            if "k_step" in step_params:
                params["k_step"] = step_params["k_step"]
            step = self.sql.step_and_finish[step]
            self._commit(step, params)
            return
        self._commit(self.sql.finish, params)

    def park(self, wake_at: datetime | None) -> None:
        """Leave the run `waiting` (no worker holds it) until it is woken: by Journal.wake, or at `wake_at`."""
        if wake_at is None:
            self._commit(self.sql.park, {"k_run": self.run_id})
        else:
            self._commit(self.sql.park_until, {"k_run": self.run_id, "wake_at": wake_at})

    def flush(self) -> None:
        """Commit a deferred write now."""
        if self.pending:
            pending, durable, self.pending, self.pending_durable = self.pending, self.pending_durable, [], False
            if not durable and len(pending) == 1:
                statement, params = pending[0]
                pending = [(self.sql.lazy.get(statement, statement), params)]
            self.conn.write(pending)

    def _commit(self, statement: FastStatement, params: dict, defer: bool = False, durable: bool = True) -> None:
        self.pending.append((statement, params))
        self.pending_durable = self.pending_durable or durable
        if not defer:
            self.flush()

    def write_step(self, step_id: str, *, exists: bool, position: int, status: str, input: Any = None,
                   output: Any = None, error: str | None = None, attempts: int = 0,
                   started_at: datetime | None = None, finished: bool = False, defer: bool = False,
                   durable: bool = True) -> None:
        """Insert or update one step's journal entry (`defer`: commit it with the next write)."""
        values = {"position": position, "status": status, "input": input, "output": output, "error": error,
                  "attempts": attempts, "started_at": started_at, "finished_at": self.clock() if finished else None}
        if exists:
            self._commit(self.sql.update_step, {"k_run": self.run_id, "k_step": step_id, **values}, defer, durable)
        else:
            self._commit(self.sql.insert_step, {"run_id": self.run_id, "step_id": step_id, **values}, defer, durable)

    def write_item(self, step_id: str, idx: int, *, exists: bool, status: str, input: Any = None,
                   output: Any = None, error: str | None = None, attempts: int = 0, durable: bool = True) -> None:
        """Insert or update one loop item's journal entry."""
        values = {"status": status, "input": input, "output": output, "error": error, "attempts": attempts}
        if exists:
            self._commit(self.sql.update_item, {"k_run": self.run_id, "k_step": step_id, "k_idx": idx, **values},
                         durable=durable)
        else:
            self._commit(self.sql.insert_item, {"run_id": self.run_id, "step_id": step_id, "idx": idx, **values},
                         durable=durable)
