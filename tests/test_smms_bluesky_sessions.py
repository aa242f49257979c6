"""Bluesky sessions against the local PDS: one createSession per connection, refreshSession when the token expires.

The PDS allows 30 sign-ins per 5 minutes, so counting them is the point: the server logs every XRPC call.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from beffroi import ActionContext, Post

from .helpers import recipe
from .test_smms import bluesky  # noqa: F401  (the local PDS fixture)

SIGN_IN, REFRESH = "com.atproto.server.createSession", "com.atproto.server.refreshSession"
CREATE = "com.atproto.repo.createRecord"


@pytest.fixture
def engine(make_engine, sqlite_url, bluesky):
    engine = make_engine(sqlite_url, allowed_networks=["127.0.0.0/8"])
    connect(engine, bluesky, "app-pass-1234")
    return engine


def connect(engine, bluesky, password):
    engine.connections.save("city-bluesky", "bluesky", {"service": bluesky.url, "handle": "city.bsky.social",
                                                        "app_password": password})


def publish(engine, text="Fête à Liège #Liège"):
    """One run of a recipe publishing on city-bluesky; returns the step."""
    step = {"id": "announce", "uses": "smms.publish", "connection": "city-bluesky", "with": {"text": text}}
    run = engine.run_recipe(engine.validate(recipe(step)), {})
    assert run["status"] == "succeeded", run["steps"][0]["error"]
    return run["steps"][0]


def publish_directly(engine, n):
    """Publish through the connection's channel as a runner thread does (its own step context)."""
    [connection] = engine.connections.resolve(["city-bluesky"], None)
    ctx = ActionContext(run_id=f"run-{n}", step_id="announce", idempotency_key=f"run-{n}:announce",
                        recipe="threads", http=engine.http, started_at=datetime.now(UTC))
    return connection.config.channel("city-bluesky").publish(Post(f"Post {n}"), ctx)


def test_fifty_publishes_sign_in_once(engine, bluesky):
    for n in range(50):
        publish(engine, f"Post {n}")
    assert len(bluesky.posts()) == 50
    assert len(bluesky.calls(SIGN_IN)) == 1 and bluesky.calls(REFRESH) == []


def test_threads_publishing_at_once_share_one_sign_in(engine, bluesky):
    bluesky.sessions_open.clear()  # the first sign-in is held until every thread has started
    start = threading.Barrier(8)

    def worker(n):
        start.wait()
        return [publish_directly(engine, n * 10 + i) for i in range(3)]

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(worker, n) for n in range(8)]
        assert bluesky.session_asked.wait(10)
        bluesky.sessions_open.set()
        results = [r for f in futures for r in f.result()]
    assert len({r["id"] for r in results}) == 24 and len(bluesky.posts()) == 24
    assert len(bluesky.calls(SIGN_IN)) == 1


def test_an_expired_access_token_is_refreshed_once_and_the_post_goes_out(engine, bluesky):
    publish(engine, "Before")
    bluesky.expire_access_tokens()
    publish(engine, "After")
    publish(engine, "Later")  # the refreshed session is kept
    assert [p["text"] for p in bluesky.posts()] == ["Before", "After", "Later"]
    assert len(bluesky.calls(SIGN_IN)) == 1 and len(bluesky.calls(REFRESH)) == 1
    assert len(bluesky.calls(CREATE)) == 4  # "After" was refused as ExpiredToken, then sent with the new token


def test_threads_finding_the_token_expired_refresh_it_once(engine, bluesky):
    publish(engine, "First")
    bluesky.expire_access_tokens()
    start = threading.Barrier(6)

    def worker(n):
        start.wait()
        return publish_directly(engine, n)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(worker, range(6)))
    assert len(results) == 6 and len(bluesky.posts()) == 7
    assert len(bluesky.calls(SIGN_IN)) == 1 and len(bluesky.calls(REFRESH)) == 1


def test_a_refused_refresh_falls_back_to_one_new_sign_in(engine, bluesky):
    publish(engine, "Before")
    bluesky.expire_access_tokens()
    bluesky.revoke_refresh_tokens()
    publish(engine, "After")
    publish(engine, "Later")
    assert [p["text"] for p in bluesky.posts()] == ["Before", "After", "Later"]
    assert len(bluesky.calls(REFRESH)) == 1 and len(bluesky.calls(SIGN_IN)) == 2


def test_a_changed_app_password_starts_a_new_session(engine, bluesky):
    publish(engine, "Before")
    bluesky.accounts["city.bsky.social"] = "app-pass-5678"
    connect(engine, bluesky, "app-pass-5678")
    publish(engine, "After")
    publish(engine, "Later")
    assert len(bluesky.calls(SIGN_IN)) == 2
    assert [p["text"] for p in bluesky.posts()] == ["Before", "After", "Later"]
