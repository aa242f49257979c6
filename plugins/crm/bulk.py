"""Multi-row writes on a session's own connection, for a CSV import's batches: no ORM object, no bound parameter
built per value by SQLAlchemy, a few statements per table and batch.

SQLite (in-process, no round-trip to save): the driver's executemany. PostgreSQL: COPY, straight into the table, or
into a temporary table that one UPDATE … FROM or INSERT … SELECT … ON CONFLICT DO NOTHING then reads. Values are
converted by each column type's own bind processor, so they are stored exactly as SQLAlchemy stores them. A value
the database refuses raises SQLAlchemy's DBAPIError, as a statement through SQLAlchemy would.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError


class Bulk:
    """The raw connection under a session's transaction, and what writes many rows through it."""

    def __init__(self, session):
        connection = session.connection()
        self.dialect = connection.dialect
        self.sqlite = self.dialect.name == "sqlite"
        self.raw = connection.connection.dbapi_connection
        self.temporary = 0

    def insert(self, table: Table, columns: Sequence[str], rows: list[tuple], *, skip_existing: bool = False) -> None:
        """Insert the rows (values in `columns` order); `skip_existing`: a row whose key is taken is left out."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.sqlite:
            self._run(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))})"
                      f"{' ON CONFLICT DO NOTHING' if skip_existing else ''}", self._values(table, columns, rows))
        elif not skip_existing:
            self._copy(table.name, columns, self._values(table, columns, rows))
        else:
            staged = self._stage(table, columns, rows)
            self._run(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staged} ON CONFLICT DO NOTHING")

    def update(self, table: Table, key: str, columns: Sequence[str], rows: list[tuple]) -> None:
        """Set `columns` of the rows whose `key` is each row's first value (the others in `columns` order)."""
        if not rows:
            return
        if self.sqlite:
            values = self._values(table, [key, *columns], rows)
            self._run(f"UPDATE {table.name} SET {', '.join(f'{c} = ?' for c in columns)} WHERE {key} = ?",
                      [(*row[1:], row[0]) for row in values])
        else:
            staged = self._stage(table, [key, *columns], rows)
            self._run(f"UPDATE {table.name} AS t SET {', '.join(f'{c} = s.{c}' for c in columns)} "
                      f"FROM {staged} AS s WHERE t.{key} = s.{key}")

    def _values(self, table: Table, columns: Sequence[str], rows: Iterable[tuple]) -> list[tuple]:
        """The rows with each value as the column's type binds it (JSON as text, SQLite's dates as text…)."""
        processors = [(i, p) for i, p in enumerate(table.c[name].type._cached_bind_processor(self.dialect)
                                                   for name in columns) if p is not None]
        if not processors:
            return list(rows)
        converted = []
        last: dict[int, tuple[Any, Any]] = {}  # per column, the value converted last: rows share their dates
        for row in rows:
            values = list(row)
            for i, process in processors:
                value = values[i]
                seen = last.get(i)
                if seen is None or seen[0] is not value:
                    seen = last[i] = (value, process(value))
                values[i] = seen[1]
            converted.append(tuple(values))
        return converted

    def _stage(self, table: Table, columns: Sequence[str], rows: list[tuple]) -> str:
        """A temporary table (dropped at commit) with the columns' types, holding the rows; its name."""
        self.temporary += 1
        name = f"bulk_{table.name}_{self.temporary}"
        names = ", ".join(columns)
        self._run(f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS SELECT {names} FROM {table.name} WITH NO DATA")
        self._copy(name, columns, self._values(table, columns, rows))
        return name

    def _copy(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        try:
            with self.raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError(statement, None, exc) from exc

    def _run(self, statement: str, rows: list[tuple] | None = None) -> Any:
        cursor = self.raw.cursor()
        try:
            if rows is None:
                cursor.execute(statement)
            else:
                cursor.executemany(statement, rows)
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError(statement, None, exc) from exc
        finally:
            cursor.close()
