"""The database handle of one engine: the SQLAlchemy engine, SQLite tuning, migrations on start."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ..errors import SetupError

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseUnavailable(SetupError):
    """The configured database cannot be used (bad URL, missing driver, unreachable): said in one line."""


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _tune_sqlite(dbapi_connection, _record) -> None:
    # WAL lets readers (the API) work while a run writes; NORMAL sync is durable across process
    # crashes (the case we care about) and cheap enough for a commit per step.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """Owns the SQLAlchemy engine and the session factory; `migrate()` brings the schema to head."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {"echo": echo}
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        try:
            self.engine: SAEngine = create_engine(url, **kwargs)
        except sa_exc.NoSuchModuleError:  # (an ArgumentError too)
            raise DatabaseUnavailable(f"BEFFROI_DATABASE_URL {shown_url(url)}: unknown kind of database; Beffroi "
                                      "runs on sqlite:///path/to/file.db or postgresql+psycopg://user@host/db"
                                      ) from None
        except sa_exc.ArgumentError:
            raise DatabaseUnavailable("BEFFROI_DATABASE_URL is not a database URL: use sqlite:///path/to/file.db "
                                      "or postgresql+psycopg://user@host/db") from None
        except ImportError as exc:
            extra = " (install it with: pip install -e '.[postgres]')" if url.startswith("postgresql") else ""
            raise DatabaseUnavailable(f"{shown_url(url)}: the database driver {exc.name!r} is not installed"
                                      f"{extra}") from None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _tune_sqlite)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time and its busy handler sleeps for milliseconds when a write
        # finds the file locked; queueing this process's writers on a lock instead keeps commits at µs.
        self.write_lock: threading.Lock | nullcontext = threading.Lock() if self.is_sqlite else nullcontext()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on exit (serialised per process on SQLite)."""
        with self.write_lock, self.engine.begin() as conn:
            yield conn

    def migrate(self) -> None:
        """Apply every Alembic migration not yet applied (safe to call on each start, by many processes at once)."""
        from alembic import command  # imported here: alembic is a fifth of the start-up time
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            connection = self.engine.connect()
        except sa_exc.OperationalError as exc:  # the first connection of a start: say where and why, in one line
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
            raise DatabaseUnavailable(f"cannot connect to the database {shown_url(self.url)}: {reason}") from None
        with connection, self._migration_lock(), connection.begin():
            if self.engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(7264031)"))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """Serialise migrations of one SQLite file between processes (PostgreSQL uses an advisory lock)."""
        path = self.url.split("///", 1)[-1] if self.is_sqlite else ""
        if not path or path == ":memory:":
            yield
            return
        import fcntl

        with open(f"{path}.migrate-lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            yield

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self.sessions() as session:
            with session.begin():
                yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
