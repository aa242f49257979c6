"""The metric store's API: /api/analytics/events and /summary — filters, pagination, UTC days, roles, errors."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from beffroi.api import create_app
from beffroi_plugins.analytics import store
from beffroi_plugins.analytics.tables import AnalyticsEventRow

from .servers.matomo import MatomoServer
from .servers.plausible import PlausibleServer
from .test_analytics import TOKEN, rows

# (name, campaign, recipe, when in UTC)
EVENTS = [
    ("post_published", "spring-fair", "blog-to-social", "2024-05-01T08:00:00"),
    ("post_published", "spring-fair", "blog-to-social", "2024-05-01T23:30:00"),
    ("signup", None, "signup-webhook", "2024-05-02T00:30:00"),
    ("post_published", "budget", "blog-to-social", "2024-05-02T12:00:00"),
    ("signup", "spring-fair", "signup-webhook", "2024-05-03T09:00:00"),
]


@pytest.fixture
def engine(make_engine, database_url):
    return make_engine(database_url, allowed_networks=["127.0.0.0/8"])


@pytest.fixture
def client(engine):
    app = create_app(engine)
    tokens = {role: engine.tokens.create(f"{role}-token", role)[1] for role in ("viewer", "editor", "admin")}

    def make(role="editor"):
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        return TestClient(app, base_url="http://beffroi.test", headers=headers, raise_server_exceptions=False)

    return make


@pytest.fixture
def seeded(engine):
    """The EVENTS, stored at their times; returns their ids in the same order."""
    ids = []
    for i, (name, campaign, recipe, when) in enumerate(EVENTS):
        event = store.record(engine.db, key=f"run{i}:track", name=name, campaign=campaign, properties={"i": i},
                             recipe=recipe, run_id=f"run{i}")
        with engine.db.session() as session:
            session.execute(update(AnalyticsEventRow).where(AnalyticsEventRow.id == event.id).values(
                occurred_at=datetime.fromisoformat(when).replace(tzinfo=UTC)))
        ids.append(event.id)
    return ids


def test_events_newest_first_with_total_and_pages(client, seeded):
    api = client()
    page = api.get("/api/analytics/events", params={"limit": 2}).json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 0)
    assert [e["id"] for e in page["items"]] == [seeded[4], seeded[3]]
    assert page["items"][0] == {"id": seeded[4], "name": "signup", "campaign": "spring-fair",
                                "recipe": "signup-webhook", "run_id": "run4", "properties": {"i": 4},
                                "occurred_at": "2024-05-03T09:00:00+00:00"}
    rest = api.get("/api/analytics/events", params={"limit": 2, "offset": 2}).json()
    last = api.get("/api/analytics/events", params={"limit": 2, "offset": 4}).json()
    assert [e["id"] for e in rest["items"] + last["items"]] == [seeded[2], seeded[1], seeded[0]]
    assert api.get("/api/analytics/events", params={"offset": 9}).json()["items"] == []


@pytest.mark.parametrize("params, expected", [
    ({"name": "signup"}, [4, 2]),
    ({"campaign": "spring-fair"}, [4, 1, 0]),
    ({"recipe": "blog-to-social", "campaign": "spring-fair"}, [1, 0]),
    ({"since": "2024-05-02"}, [4, 3, 2]),  # a bare date is midnight UTC, and since is inclusive
    ({"until": "2024-05-02T00:30:00Z"}, [1, 0]),  # until is exclusive
    ({"since": "2024-05-02T01:30:00+02:00", "until": "2024-05-02T14:00:00+02:00"}, [2, 1]),  # 23:30–12:00 UTC
    ({"name": "nothing"}, []),
])
def test_event_filters(client, seeded, params, expected):
    answer = client().get("/api/analytics/events", params=params).json()
    assert [e["id"] for e in answer["items"]] == [seeded[i] for i in expected]
    assert answer["total"] == len(expected)


def test_summary_counts_per_utc_day_and_campaign(client, seeded):
    summary = client().get("/api/analytics/summary").json()
    assert summary == {"total": 5, "timezone": "UTC",
                       "days": [{"day": "2024-05-01", "count": 2}, {"day": "2024-05-02", "count": 2},
                                {"day": "2024-05-03", "count": 1}],
                       "campaigns": [{"campaign": "spring-fair", "count": 3}, {"campaign": "budget", "count": 1},
                                     {"campaign": None, "count": 1}]}


def test_summary_takes_the_same_filters(client, seeded):
    summary = client().get("/api/analytics/summary", params={"name": "post_published",
                                                              "until": "2024-05-02T00:00:00+00:00"}).json()
    assert summary["total"] == 2
    assert summary["days"] == [{"day": "2024-05-01", "count": 2}]  # 23:30 UTC is still May 1st
    assert summary["campaigns"] == [{"campaign": "spring-fair", "count": 2}]


BAD_FILTERS = [({"since": "yesterday"}, "query.since"), ({"until": "2024-13-01"}, "query.until"),
               ({"since": "2024-05-02", "until": "2024-05-01"}, "query.until"), ({"name": "x" * 201}, "query.name")]
BAD_PAGES = [({"limit": 0}, "query.limit"), ({"limit": 501}, "query.limit"), ({"offset": -1}, "query.offset")]


def test_bad_filters_and_pages_are_422_naming_the_field(client):
    api = client()
    cases = [(path, params, field) for path in ("/api/analytics/events", "/api/analytics/summary")
             for params, field in BAD_FILTERS] + [("/api/analytics/events", p, f) for p, f in BAD_PAGES]
    for path, params, field in cases:
        answer = api.get(path, params=params)
        assert answer.status_code == 422, (path, params)
        assert [p["loc"] for p in answer.json()["errors"]] == [field], (path, params)
        assert answer.json()["detail"].startswith(f"{field}: ")


def test_viewers_read_the_summary_editors_the_events_and_anonymous_callers_nothing(client, seeded):
    for path in ("/api/analytics/events", "/api/analytics/summary"):
        assert client(None).get(path).status_code == 401
        for role in ("editor", "admin"):
            assert client(role).get(path).status_code == 200
    assert client("viewer").get("/api/analytics/summary").status_code == 200
    assert client("viewer").get("/api/analytics/events").status_code == 403  # properties may hold an address


def wait_finished(api, run_id, limit=20.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        run = api.get(f"/api/runs/{run_id}").json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish")


def test_a_run_retried_after_a_partial_failure_sends_only_what_is_missing(client, engine):
    """Through the API: connections and recipe created, a run fails half-way, `retry` completes it."""
    matomo, plausible = MatomoServer(tokens=(TOKEN,)).start(), PlausibleServer().start()
    try:
        admin, editor = client("admin"), client("editor")
        for body in ({"name": "city-matomo", "type": "matomo",
                      "config": {"base_url": matomo.url, "site_id": 1, "token_auth": TOKEN}},
                     {"name": "city-plausible", "type": "plausible",
                      "config": {"base_url": plausible.url, "domain": "www.example.org"}}):
            assert admin.post("/api/connections", json=body).status_code == 201
        assert editor.post("/api/recipes", json={
            "name": "publication", "trigger": {"uses": "builtins.manual"},
            "steps": [{"id": "track", "uses": "analytics.track_event", "connection": ["city-matomo", "city-plausible"],
                       "with": {"name": "post_published", "campaign": "spring-fair", "url": "{{ trigger.url }}"}}]
        }).status_code == 201
        plausible.reply_next(503, times=1, headers={"Retry-After": "0"})  # a POST is sent once
        failed = editor.post("/api/recipes/publication/runs", params={"wait": "true"},
                             json={"url": "https://www.example.org/news/1"}).json()
        assert failed["status"] == "failed"
        assert "Plausible answered HTTP 503" in failed["steps"][0]["error"]
        assert len(matomo.tracked) == 1 and plausible.events == []

        assert editor.post(f"/api/runs/{failed['id']}/retry").status_code == 202
        done = wait_finished(editor, failed["id"])
        assert done["status"] == "succeeded", done
        assert done["steps"][0]["output"]["sent"] == [
            {"connection": "city-matomo", "type": "matomo", "status": "already_sent"},
            {"connection": "city-plausible", "type": "plausible", "status": "sent"}]
        assert len(matomo.tracked) == 1 and len(plausible.events) == 1
        [row] = rows(engine)
        assert done["steps"][0]["output"]["event_id"] == row.id
        assert client().get("/api/analytics/summary").json()["total"] == 1
    finally:
        matomo.stop()
        plausible.stop()
