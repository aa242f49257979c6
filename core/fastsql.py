"""The fast path for the hot journal writes: SQLAlchemy statements compiled once, run on the DBAPI connection.

SQLAlchemy stays the system of record. Every statement here is a SQLAlchemy Core construct, compiled once
with the engine's own dialect (its SQL text, parameter style and PostgreSQL bind casts), and every value
goes through the column type's own processors (`bind_processor` / `result_processor` of JSON, UTCDateTime,
Boolean…), so a row written here reads back through the models exactly as one written by SQLAlchemy, and
the other way round (tests/test_fastsql.py checks both on SQLite and PostgreSQL).

What is skipped is SQLAlchemy's per-execution machinery (compiled-cache lookup, execution context, result
object, transaction bookkeeping): ~60–100 µs a statement, against ~10–20 µs for the driver itself. Use it
only for a few fixed statements on the hot path (accepting a run, journaling its steps); everything else
goes through SQLAlchemy as usual.

    statement = FastStatement(insert(table), engine.dialect, keys=("id", "name"))
    with FastConnection(engine) as conn:
        conn.write([(statement, {"id": "…", "name": "…"})])   # one committed transaction
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.engine.interfaces import DBAPIModule
from sqlalchemy.pool import PoolProxiedConnection


def _bind_processor(type_, dialect: Dialect):
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _native_placeholders(dialect: Dialect) -> bool:
    """psycopg 3: statements are sent with PostgreSQL's own `$1` placeholders through a RawCursor.

    psycopg otherwise parses every query for its `%(name)s` placeholders, and caches the result only for
    queries under 50 parameters: a multi-row INSERT of accepted runs would be parsed again at each batch.
    """
    return dialect.driver == "psycopg" and dialect.paramstyle == "pyformat"


class FastStatement:
    """One Core statement compiled for one dialect; binds and results use the column types' processors.

    `keys` names the columns an INSERT receives (as SQLAlchemy's `column_keys`); every bound parameter
    must then be given at execution, except those with a value built into the statement.
    """

    def __init__(self, statement, dialect: Dialect, *, keys: Sequence[str] | None = None):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
        if compiled.insert_prefetch or compiled.update_prefetch:
            missing = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"give these columns explicitly (their defaults are computed in Python): {missing}")
        self.sql = compiled.string
        binds = compiled.binds
        names = compiled.positiontup if dialect.positional else list(dict.fromkeys(compiled.bind_names.values()))
        processors = {name: _bind_processor(binds[name].type, dialect) for name in names}
        fixed = {name: value for name, value in compiled.params.items()  # values built into the statement
                 if name in processors and not binds[name].required}
        self.positional = dialect.positional
        if _native_placeholders(dialect):
            index = {name: f"${i}" for i, name in enumerate(names, 1)}
            self.sql = re.sub(r"%\(([^)]+)\)s|%%", lambda m: index[m.group(1)] if m.group(1) else "%", self.sql)
            self.positional = True
        self.names = names
        self.fixed = {name: processors[name](value) if processors[name] else value for name, value in fixed.items()}
        self.order = [(name, processors[name], name in fixed) for name in names]  # a name may repeat (positional)
        columns = list(statement.exported_columns)  # what a SELECT or a RETURNING gives back
        self.columns = [column.key for column in columns]
        self.results = [(column.key, processor) for column in columns
                        if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))]

    def parameters(self, params: dict[str, Any]) -> tuple | dict:
        """The DBAPI parameters for `params` (names as bound in the statement), each processed by its type."""
        fixed = self.fixed
        values = [fixed[name] if is_fixed else proc(params[name]) if proc else params[name]
                  for name, proc, is_fixed in self.order]
        return tuple(values) if self.positional else dict(zip(self.names, values))

    def rows(self, cursor) -> list[dict[str, Any]]:
        """The fetched rows as dicts, each value processed by its column type."""
        rows = [dict(zip(self.columns, row)) for row in cursor.fetchall()]
        for row in rows:
            for key, proc in self.results:
                row[key] = proc(row[key])
        return rows


def without_flush_wait(statement, keys: Sequence[str] | None = None):
    """The same INSERT or UPDATE, committed on PostgreSQL without waiting for its WAL to reach the disk.

    The statement sets `synchronous_commit = off` for its own transaction (`set_config(…, true)`, i.e. SET
    LOCAL; an INSERT becomes INSERT … SELECT to carry it), so it costs no extra round trip and the session
    keeps its setting. The write is visible at once and never torn; only a crash of the database server
    itself, within ~200 ms (wal_writer_delay), can roll it back — with everything committed after it, since
    the WAL is replayed in order — and the next ordinary commit flushes it. For writes that may be done
    again, not for writes a side effect depends on. `keys`: the columns an INSERT receives.
    """
    lazy = func.set_config("synchronous_commit", "off", True).is_not(None)
    if statement.is_insert:
        if keys is None:
            raise TypeError("without_flush_wait() needs the keys an INSERT receives")
        table = statement.table
        values = select(*(bindparam(key, type_=table.c[key].type) for key in keys)).where(lazy)
        return insert(table).from_select(list(keys), values)
    return statement.where(lazy)


class FastInsert:
    """A multi-row INSERT of `keys` into `table`: one statement (one driver call) per `chunk` rows.

    Each row count is compiled once, when first needed; `statements(rows)` gives what FastConnection.write takes.
    """

    def __init__(self, table, keys: Sequence[str], dialect: Dialect, *, chunk: int = 50):
        self.table, self.keys, self.dialect, self.chunk = table, tuple(keys), dialect, chunk
        self._compiled: dict[int, FastStatement] = {}

    def _statement(self, count: int) -> FastStatement:
        statement = self._compiled.get(count)
        if statement is None:
            columns = self.table.c
            rows = [{key: bindparam(f"{key}_{i}", type_=columns[key].type) for key in self.keys} for i in range(count)]
            statement = self._compiled[count] = FastStatement(insert(self.table).values(rows), self.dialect)
        return statement

    def statements(self, rows: Sequence[dict[str, Any]]) -> list[tuple[FastStatement, dict]]:
        """(statement, parameters) pairs inserting every row (none for no rows)."""
        found = []
        for start in range(0, len(rows), self.chunk):
            part = rows[start:start + self.chunk]
            found.append((self._statement(len(part)),
                          {f"{key}_{i}": row[key] for i, row in enumerate(part) for key in self.keys}))
        return found


class FastConnection:
    """One pooled DBAPI connection for a series of fast statements; each `write()` is one committed transaction.

    `lock` serialises this process's writers (SQLite's single writer: see Database.write_lock). DBAPI
    errors are raised as SQLAlchemy's exceptions (IntegrityError…); a lost connection is invalidated.

    On PostgreSQL the connection is in autocommit mode while it is held here: a write of one statement is
    then its own transaction, one round trip instead of two (statement, COMMIT), and a read needs no
    rollback; a write of several statements still runs in one explicit transaction. The connection goes
    back to the pool in its usual mode.
    """

    def __init__(self, engine: Engine, lock=None):
        self.engine = engine
        self.dialect = engine.dialect
        self.lock = lock if lock is not None else nullcontext()
        self.raw: PoolProxiedConnection | None = engine.raw_connection()
        dbapi = self.raw.driver_connection
        assert dbapi is not None  # None only once the pool has invalidated it
        self.dbapi: Any = dbapi  # the driver's own connection (psycopg, sqlite3)
        self.autocommit = self.dialect.name == "postgresql"
        if self.autocommit:
            self.dbapi.autocommit = True
        if _native_placeholders(self.dialect):
            from psycopg import RawCursor

            self.cursor = RawCursor(self.dbapi)
        else:
            self.cursor = self.dbapi.cursor()
        self.broken = False  # invalidated after a lost connection: open a new one

    def __enter__(self) -> FastConnection:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Give the connection back to the pool (rolled back there)."""
        if self.raw is not None:
            try:
                self.cursor.close()
                if self.autocommit and not self.broken:
                    self.dbapi.autocommit = False
            except Exception:  # noqa: BLE001 - an invalidated connection: nothing to close
                pass
            self.raw.close()
            self.raw = None

    def ping(self) -> bool:
        """Is the connection still usable? (One round trip; a dead connection is invalidated.)"""
        try:
            self.cursor.execute("SELECT 1")
            self.cursor.fetchall()
            if not self.autocommit:
                self.dbapi.rollback()
            return True
        except Exception as error:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
            self.broken = True
            if self.raw is not None:
                self.raw.invalidate(error)
            return False

    def write(self, statements: Iterable[tuple[FastStatement, dict]], *, returning: bool = False) -> list[dict]:
        """Run the statements in one transaction and commit; the rows of the last one when `returning`."""
        cursor = self.cursor
        statements = list(statements)
        if not statements:
            return []
        single = self.autocommit and len(statements) == 1  # autocommit: the statement is the transaction
        with self.lock:
            statement, params = None, None
            try:
                if not single and self.autocommit:
                    self.dbapi.autocommit = False
                for statement, params in statements:
                    cursor.execute(statement.sql, statement.parameters(params))
                rows = statements[-1][0].rows(cursor) if returning else []
                if not single:
                    self.dbapi.commit()
                return rows
            except BaseException as error:
                self._failed(error, statement, params, cursor)
                raise  # reached for non-DBAPI errors; _failed raises DBAPI ones in their SQLAlchemy form
            finally:
                if not single and self.autocommit and not self.broken:
                    self._autocommit_again()

    def read(self, statement: FastStatement, params: dict) -> list[dict]:
        """The rows of a query; the read transaction ends at once (SQLite would otherwise keep its snapshot)."""
        cursor = self.cursor
        try:
            cursor.execute(statement.sql, statement.parameters(params))
            rows = statement.rows(cursor)
            if not self.autocommit:
                self.dbapi.rollback()
            return rows
        except BaseException as error:
            self._failed(error, statement, params, cursor)
            raise

    def _failed(self, error: BaseException, statement: FastStatement | None, params: dict | None, cursor) -> None:
        """Roll back; raise a DBAPI error as SQLAlchemy's, invalidating the connection if it is gone."""
        dbapi_error: type[DBAPIModule.Error] | None = getattr(self.dialect.loaded_dbapi, "Error", None)
        if dbapi_error is None or not isinstance(error, dbapi_error):
            self._rollback()
            return
        disconnected = self.dialect.is_disconnect(error, self.dbapi, cursor)
        if disconnected:
            self.broken = True
            if self.raw is not None:
                self.raw.invalidate(error)
        else:
            self._rollback()
        raise sa_exc.DBAPIError.instance(statement.sql if statement else None, params, error, dbapi_error,
                                         connection_invalidated=disconnected,
                                         dialect=self.dialect) from error

    def _autocommit_again(self) -> None:
        try:
            self.dbapi.autocommit = True
        except Exception:  # noqa: BLE001 - still in a transaction that could not be rolled back: the connection is unusable
            self.broken = True
            if self.raw is not None:
                self.raw.invalidate()

    def _rollback(self) -> None:
        try:
            self.dbapi.rollback()
        except Exception:  # noqa: BLE001 - the connection is unusable: the pool will find out
            pass
