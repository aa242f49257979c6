"""The Matomo and Plausible connectors against local servers speaking their APIs: requests, errors, tests."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from beffroi import ActionContext
from beffroi.api import create_app
from beffroi_plugins.analytics import matomo as matomo_connector
from beffroi_plugins.analytics.connector import deliver
from beffroi_plugins.analytics.store import Event

from .helpers import recipe
from .servers.matomo import MatomoServer
from .servers.plausible import PlausibleServer
from .test_analytics import TOKEN, rows, step

LINK = "https://www.example.org/news/fete?utm_campaign=spring"


@pytest.fixture
def engine(make_engine, sqlite_url):
    return make_engine(sqlite_url, allowed_networks=["127.0.0.0/8"], http_timeout=0.3)


@pytest.fixture
def matomo():
    server = MatomoServer(tokens=(TOKEN,), reject_bad_tokens=True).start()
    yield server
    server.stop()


@pytest.fixture
def plausible():
    server = PlausibleServer().start()
    yield server
    server.stop()


def connect(engine, server, name="stats", **config):
    """Store a connection to a local server: Matomo (site 1, the good token) unless `domain` is given."""
    if isinstance(server, PlausibleServer):
        engine.connections.save(name, "plausible", {"base_url": server.url, "domain": "www.example.org", **config})
    else:
        engine.connections.save(name, "matomo", {"base_url": server.url, "site_id": 1, "token_auth": TOKEN, **config})
    return name


def track(engine, connection, retry=None, **with_):
    data = {"id": "track", "uses": "analytics.track_event", "connection": connection,
            "with": {"name": "post_published", **with_}}
    if retry:
        data["retry"] = {"attempts": retry, "backoff": "10ms"}
    return engine.run_recipe(engine.validate(recipe(data)), {})


def test_matomo_gets_one_event_with_category_action_name_and_value(engine, matomo):
    result = track(engine, connect(engine, matomo), campaign="spring-fair", url=LINK,
                   properties={"value": 3, "toot": "https://social.example/@city/1"})
    assert result["status"] == "succeeded", result
    assert step(result)["output"]["sent"] == [{"connection": "stats", "type": "matomo", "status": "sent"}]
    [request] = matomo.requests
    assert (request.method, request.path) == ("POST", "/matomo.php")  # the token travels in the body, never the URL
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "idempotency-key" not in request.headers  # Matomo ignores it: it would promise what it does not do
    [event] = matomo.tracked
    [row] = rows(engine)
    assert {k: event[k] for k in ("idsite", "rec", "apiv", "ca", "send_image", "e_c", "e_a", "e_n", "e_v", "url")} == {
        "idsite": "1", "rec": "1", "apiv": "1", "ca": "1", "send_image": "0", "e_c": "spring-fair",
        "e_a": "post_published", "e_n": LINK, "e_v": "3", "url": LINK}
    assert re.fullmatch(r"[0-9a-f]{16}", event["_id"])
    assert event["authenticated"] is True
    assert event["cdt"] == str(int(row.occurred_at.timestamp()))  # counted when Beffroi stored it


def test_matomo_event_without_campaign_or_link_uses_the_recipe(engine, matomo):
    result = track(engine, connect(engine, matomo, token_auth=None))
    assert result["status"] == "succeeded", result
    [event] = matomo.tracked
    assert (event["e_c"], event["e_a"]) == ("test-recipe", "post_published")
    assert "e_n" not in event and "e_v" not in event
    assert event["url"] == "http://127.0.0.1:8000/recipes/test-recipe"
    assert event["authenticated"] is False and "cdt" in event  # a fresh event needs no token for its time


def test_an_event_sent_days_later_keeps_its_time_only_with_a_token(engine, matomo):
    """A step resumed two days late: Matomo needs token_auth to backdate, so cdt goes only with one."""
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    event = Event(id=1, name="post_published", campaign=None, recipe="rec", run_id="run1", occurred_at=two_days_ago)
    ctx = ActionContext(run_id="run1", step_id="track", idempotency_key="run1:track", recipe="rec", http=engine.http)
    with_token = matomo_connector.MatomoConfig(base_url=matomo.url, site_id=1, token_auth=TOKEN)
    without = matomo_connector.MatomoConfig(base_url=matomo.url, site_id=1)
    assert deliver(matomo_connector, event, with_token, ctx) == {"status_code": 204}
    assert deliver(matomo_connector, event, without, ctx) == {"status_code": 204}
    backdated, now = matomo.tracked
    assert backdated["cdt"] == str(int(two_days_ago.timestamp())) and backdated["authenticated"] is True
    assert backdated["tracked_at"] < now["tracked_at"] - timedelta(days=1)
    assert "cdt" not in now  # Matomo would refuse it without a token; counted when sent instead


def test_plausible_gets_the_event_with_props_and_visitor_headers(engine, plausible):
    result = track(engine, connect(engine, plausible), campaign="spring-fair", url=LINK,
                   properties={"value": 3, "tags": ["agenda", "fête"], "empty": None})
    assert result["status"] == "succeeded", result
    [request] = plausible.requests
    assert (request.method, request.path) == ("POST", "/api/event")
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {
        "name": "post_published", "url": LINK, "domain": "www.example.org",
        "props": {"recipe": "test-recipe", "campaign": "spring-fair", "value": 3, "tags": '["agenda", "fête"]'}}
    [event] = plausible.events
    assert event["ip"] == "192.0.2.1" and event["user_agent"].startswith("Beffroi")


def test_bad_token_auth_fails_the_step_saying_the_credentials_were_refused(engine, matomo):
    result = track(engine, connect(engine, matomo, token_auth="ffffffffffffffffffffffffffffffff"), retry=3)
    assert result["status"] == "failed"
    error = step(result)["error"]
    assert "Matomo refused the credentials (HTTP 401)" in error and "token_auth" in error
    assert "ffffffffffffffff" not in json.dumps(result)
    assert step(result)["attempts"] == 1  # credentials do not fix themselves: no retry
    assert matomo.tracked == []
    assert len(rows(engine)) == 1  # Beffroi's own store has it; a later retry sends it to Matomo only


def test_429_waits_for_retry_after_before_asking_again(engine, matomo):
    matomo.rate_limit(1)
    result = track(engine, connect(engine, matomo))
    assert result["status"] == "succeeded", result
    assert [r.path for r in matomo.requests] == ["/matomo.php", "/matomo.php"]
    assert matomo.early == []  # the server refuses (and notes) any request that comes back sooner
    assert len(matomo.tracked) == 1


def test_5xx_is_not_replayed_within_an_attempt_the_steps_retry_sends_it_again(engine, plausible):
    plausible.reply_next(502)  # Plausible does not deduplicate: a replayed event that did land counts twice
    plausible.reply_next(500)
    result = track(engine, connect(engine, plausible), retry=3)
    assert result["status"] == "succeeded", result
    assert step(result)["attempts"] == 3
    assert len(plausible.requests) == 3 and len(plausible.events) == 1


def test_5xx_that_lasts_fails_the_step_as_retryable(engine, matomo):
    matomo.reply_next(503, times=8, headers={"Retry-After": "0"})
    result = track(engine, connect(engine, matomo), retry=2)
    assert result["status"] == "failed"
    assert "Matomo answered HTTP 503 (a server error)" in step(result)["error"]
    assert step(result)["attempts"] == 2  # the step's own retry tried again
    assert len(matomo.requests) == 2  # one request per attempt: the outbound client does not replay it


def test_a_timeout_is_reported_as_such(engine, matomo):
    matomo.reply_next(204, times=4, delay=2.0)
    result = track(engine, connect(engine, matomo))
    assert result["status"] == "failed"
    assert "Matomo did not answer in time" in step(result)["error"]
    assert "read timeout after 0.3 s" in step(result)["error"]


def test_a_refused_event_is_not_retried_and_says_why(engine, matomo, plausible):
    plausible.reply_next(400, headers={"Content-Type": "application/json"},
                         body=b'{"errors": {"domain": ["can\'t be blank"]}}')
    result = track(engine, [connect(engine, matomo, site_id=7), connect(engine, plausible, name="pl")], retry=3)
    assert result["status"] == "failed" and step(result)["attempts"] == 1
    error = step(result)["error"]
    assert "stats: Matomo refused the event (HTTP 400): check the connection's site_id" in error
    assert "pl: Plausible refused the event (HTTP 400): domain: can't be blank" in error


@pytest.fixture
def admin(engine):
    token = engine.tokens.create("admin-token", "admin")[1]
    return TestClient(create_app(engine), base_url="http://beffroi.test", headers={"Authorization": f"Bearer {token}"})


def test_connection_tests(engine, admin, matomo, plausible):
    connect(engine, matomo, name="good")
    connect(engine, matomo, name="bad-token", token_auth="ffffffffffffffffffffffffffffffff")
    connect(engine, matomo, name="no-token", token_auth=None)
    connect(engine, matomo, name="no-site", site_id=9)
    connect(engine, plausible, name="plausible")
    engine.connections.save("not-plausible", "plausible", {"base_url": matomo.url, "domain": "www.example.org"})

    def test(name):
        return admin.post(f"/api/connections/{name}/test").json()

    assert test("good") == {"ok": True, "message": "Matomo accepts the token_auth for site 1 (City of Example)"}
    bad = test("bad-token")
    assert bad["ok"] is False and "Matomo refused the credentials (HTTP 401)" in bad["message"]
    assert "ffffffff" not in bad["message"]
    assert test("no-token")["ok"] is True
    assert test("no-site") == {"ok": False, "message": "Matomo refused site 9: An unexpected website was found in the "
                                                       "request: website id was set to '9' ."}
    assert test("plausible")["ok"] is True
    assert test("not-plausible")["ok"] is False
    assert matomo.tracked == [] and plausible.events == []  # testing a connection records nothing
