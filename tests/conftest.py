"""Shared fixtures: engines on a fresh SQLite file, or on the PostgreSQL named by BEFFROI_TEST_DATABASE_URL."""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from beffroi.engine import Engine
from beffroi.settings import Settings

from .rq_cluster import Cluster, counting_server

PG_URL = os.environ.get("BEFFROI_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("BEFFROI_TEST_REDIS_URL")


def needs(service: str, variable: str) -> None:
    """Skip with a message; fail instead where the services are promised (CI sets BEFFROI_REQUIRE_SERVICES)."""
    message = f"{service} tests need {variable} (.ci/run sets it)"
    if os.environ.get("BEFFROI_REQUIRE_SERVICES"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def sqlite_url(tmp_path):
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'beffroi.db'}"


@pytest.fixture
def pg_url():
    """A fresh schema in the test PostgreSQL; skipped (with a message) where none is configured."""
    if not PG_URL:
        needs("PostgreSQL", "BEFFROI_TEST_DATABASE_URL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    with admin.begin() as conn:
        # an engine of the test may still hold connections (its teardown can come later): end them first
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                     {"name": schema})
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each test using this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'beffroi.db'}"
    return request.getfixturevalue("pg_url")


def make_settings(tmp_path, url: str, **extra) -> Settings:
    """Settings isolated in tmp_path, ignoring the caller's environment."""
    return Settings(_env_file=None, database_url=url, data_dir=tmp_path / "data", recipes_dir=tmp_path / "recipes",
                    **extra)


@pytest.fixture
def make_engine(tmp_path):
    """Factory for engines that are closed at the end of the test."""
    engines = []

    def factory(url: str | None = None, **kwargs) -> Engine:
        settings = kwargs.pop("settings", None) or make_settings(
            tmp_path, url or f"sqlite:///{tmp_path / 'beffroi.db'}",
            **{k: kwargs.pop(k) for k in list(kwargs) if k in Settings.model_fields})
        engine = Engine(settings, load_entry_points=kwargs.pop("load_entry_points", False), **kwargs)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.close()


@pytest.fixture
def engine(make_engine, database_url):
    """An engine on SQLite and on PostgreSQL."""
    return make_engine(database_url)


@pytest.fixture
def redis_url():
    """The test Redis; skipped (with a message) where none is configured."""
    if not REDIS_URL:
        needs("Redis", "BEFFROI_TEST_REDIS_URL")
    return REDIS_URL


@pytest.fixture
def cluster(tmp_path, pg_url, redis_url, make_engine):
    """An engine queueing to a fresh Redis queue, and `beffroi worker` processes started with cluster.worker()."""
    cluster = Cluster(tmp_path, pg_url, redis_url, make_engine)
    yield cluster
    cluster.close()


@pytest.fixture
def hit_server():
    """A local server counting requests, answering after 20 ms."""
    hits = counting_server(delay=0.02)
    yield hits
    hits.stop()
