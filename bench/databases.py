"""The databases a benchmark runs on: a fresh SQLite file, and a fresh schema in the test PostgreSQL when one is set;
the CPU time PostgreSQL's server processes spent for a benchmark, when they run on this machine."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

POSTGRES_ENV = "BEFFROI_TEST_DATABASE_URL"
TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def fresh_schema(base_url: str) -> Iterator[str]:
    """The URL of a new, empty schema in the PostgreSQL at `base_url`, dropped (with what it holds) afterwards.

    Its connections carry the schema's name as application_name (see ServerCPU)."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                         {"name": schema})
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


class ServerCPU:
    """The CPU time (user + system) of the PostgreSQL server processes serving a benchmark's connections, read from
    /proc: `seconds()` since the last call. None on SQLite, or when the server is not a process of this machine."""

    def __init__(self, url: str):
        self.url = url
        self.name = url.rsplit("application_name=", 1)[-1] if "application_name=" in url else None
        self.seen: dict[int, float] = {}
        self.seconds()

    def _processes(self) -> dict[int, float]:
        if self.name is None:
            return {}
        admin = create_engine(self.url.split("?", 1)[0])
        try:
            with admin.connect() as conn:
                pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                                    {"name": self.name}).scalars().all()
        finally:
            admin.dispose()
        times = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            times[pid] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        return times

    def seconds(self) -> float | None:
        """Server CPU seconds since the last call (a process that ended meanwhile is not counted)."""
        now = self._processes()
        if not now:
            self.seen = {}
            return None
        spent = sum(t - self.seen.get(pid, 0.0) for pid, t in now.items())
        self.seen = now
        return spent


def add_arguments(parser) -> None:
    """--databases (sqlite, postgresql or both) and --postgresql-url (default: $BEFFROI_TEST_DATABASE_URL)."""
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default: both)")
    parser.add_argument("--postgresql-url", default=os.environ.get(POSTGRES_ENV),
                        help=f"PostgreSQL to bench in a fresh schema (default: ${POSTGRES_ENV})")


def each_database(args, tmp: Path, name: str) -> Iterator[str]:
    """The URLs asked for by --databases, one after the other (a PostgreSQL schema is dropped once its turn ends)."""
    for kind in (kind.strip() for kind in args.databases.split(",") if kind.strip()):
        if kind == "sqlite":
            yield f"sqlite:///{tmp / f'{name}.db'}"
        elif kind == "postgresql" and not args.postgresql_url:
            print(f"postgresql: skipped (set {POSTGRES_ENV} or pass --postgresql-url)")
        elif kind == "postgresql":
            with fresh_schema(args.postgresql_url) as url:
                yield url
        else:
            raise SystemExit(f"--databases: unknown kind {kind!r} (sqlite, postgresql)")
