"""`mcms.push` over Web Push against a local push service that verifies the VAPID signature and decrypts each
message with the subscriber's own keys; the public subscribe endpoints; gone subscriptions; resuming."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from beffroi.api import create_app
from beffroi_plugins.analytics.tables import AnalyticsEventRow

from .helpers import finished, recipe
from .servers.webpush import PushService

NOTE = {"topic": "works", "title": "Rue Haute fermée", "body": "Travaux lundi de 8 h à 17 h.",
        "url": "https://www.ville.example/travaux?id=4"}


@pytest.fixture
def engine(make_engine, database_url):
    return make_engine(database_url, allowed_networks=["127.0.0.0/8"], public_url="https://beffroi.ville.example")


@pytest.fixture
def client(engine):
    return TestClient(create_app(engine), base_url="http://beffroi.test", raise_server_exceptions=False)


@pytest.fixture
def service():
    with PushService() as server:
        yield server


def subscribe(client, service, name, topic="works"):
    browser = service.browser(name)
    response = client.post("/push/subscribe", json={"topic": topic, "subscription": browser.subscription()})
    assert response.status_code == 201, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    return browser


def push_recipe(engine, **fields):
    return engine.validate(recipe({"id": "push", "uses": "mcms.push", "with": {**NOTE, **fields}}))


def output(run):
    return run["steps"][0]["output"]


def test_each_subscriber_gets_the_message_encrypted_for_them_and_signed(engine, client, service):
    for name in ("ann", "bob", "cat"):
        subscribe(client, service, name)
    subscribe(client, service, "dan", topic="news")
    run = engine.run_recipe(push_recipe(engine), {})
    assert run["status"] == "succeeded", run
    out = output(run)
    assert (out["recipients"], out["sent"], out["failed"], out["removed"]) == (3, 3, 0, 0)
    assert out["channel"] == "webpush" and out["connection"] == "webpush"
    progress = run["steps"][0]["progress"]  # what the run's page shows: sent of the topic's subscribers
    assert (progress["done"], progress["total"]) == (3, 3)
    assert sorted(r.name for r in service.received) == ["ann", "bob", "cat"] and service.refused == []
    key = client.get("/push/key").json()["public_key"]
    for received in service.received:
        assert received.payload["title"] == "Rue Haute fermée" and received.payload["topic"] == "works"
        assert received.payload["body"] == "Travaux lundi de 8 h à 17 h."
        assert received.claims["k"] == key and received.claims["sub"] == "https://beffroi.ville.example"
        assert received.headers["TTL"] == "86400" and received.headers["Urgency"] == "normal"
    assert len({r.payload["tag"] for r in service.received}) == 1

    link = service.received[0].payload["url"]
    assert link.startswith("https://beffroi.ville.example/push/c/")
    tapped = client.get(urlsplit(link).path, follow_redirects=False)
    assert tapped.status_code == 303
    target = urlsplit(tapped.headers["location"])
    assert target.netloc == "www.ville.example" and target.path == "/travaux"
    assert parse_qs(target.query) == {"id": ["4"], "utm_source": ["app"], "utm_medium": ["push"],
                                      "utm_campaign": ["test-recipe"]}
    assert client.get("/push/c/forged.token", follow_redirects=False).status_code == 404
    events = {e.name: e for e in analytics_events(engine)}  # the metric store counted the push and the tap
    assert events["push_sent"].campaign == "test-recipe" and events["push_sent"].properties["sent"] == 3
    assert events["push_sent"].properties["topic"] == "works"
    assert events["push_clicked"].properties == {"topic": "works", "url": tapped.headers["location"]}


def analytics_events(engine):
    with engine.db.session() as session:
        return session.scalars(select(AnalyticsEventRow).order_by(AnalyticsEventRow.id)).all()


def test_a_gone_subscription_is_removed(engine, client, service):
    for name in ("ann", "bob"):
        subscribe(client, service, name)
    service.gone.add("bob")
    out = output(engine.run_recipe(push_recipe(engine), {}))
    assert (out["sent"], out["removed"]) == (1, 1)
    again = output(engine.run_recipe(push_recipe(engine), {}))
    assert (again["recipients"], again["sent"], again["removed"]) == (1, 1, 0)


def test_a_retried_campaign_notifies_nobody_twice(engine, client, service):
    for name in ("ann", "bob", "cat", "dan"):
        subscribe(client, service, name)
    service.busy.add("cat")
    run = engine.run_recipe(push_recipe(engine), {})
    assert run["status"] == "failed" and "refused for now" in run["steps"][0]["error"]
    assert sorted(r.name for r in service.received) == ["ann", "bob", "dan"]
    service.busy.clear()
    engine.retry(run["id"])
    [done] = finished(engine, [run["id"]])
    assert done["status"] == "succeeded", done
    out = output(done)
    assert (out["sent"], out["already_sent"], out["recipients"]) == (1, 3, 4)
    assert sorted(r.name for r in service.received) == ["ann", "bob", "cat", "dan"]


def test_unsubscribe_and_bad_subscriptions(engine, client, service):
    browser = subscribe(client, service, "ann")
    assert client.post("/push/subscribe", json={"topic": "works", "subscription": browser.subscription()}
                       ).status_code == 200  # again: renewed, not doubled
    gone = client.post("/push/unsubscribe", json={"topic": "works", "endpoint": browser.endpoint})
    assert gone.status_code == 200 and gone.json() == {"topic": "works", "subscribed": False}
    assert output(engine.run_recipe(push_recipe(engine), {}))["recipients"] == 0
    bad_key = {**browser.subscription(), "keys": {"p256dh": "AAAA", "auth": browser.subscription()["keys"]["auth"]}}
    for body, where in [({"topic": "works", "subscription": bad_key}, "subscription.keys.p256dh"),
                        ({"topic": "Works!", "subscription": browser.subscription()}, "topic"),
                        ({"topic": "works", "subscription": {"endpoint": "ftp://x"}}, "subscription.endpoint")]:
        response = client.post("/push/subscribe", json=body)
        assert response.status_code == 400 and where in response.json()["detail"]
    assert client.post("/push/subscribe", content=b"not json").status_code == 400
    assert client.post("/push/subscribe", content=b"x" * 9000).status_code == 413
    assert client.options("/push/subscribe").status_code == 204


def test_preview_counts_subscribers_and_measures_lengths_without_sending(engine, client, service):
    for name in ("ann", "bob"):
        subscribe(client, service, name)
    long_title = "Fermeture exceptionnelle de la rue Haute et de la place du Marché"
    run = engine.run_recipe(push_recipe(engine, title=long_title), {}, dry_run=True)
    out = output(run)
    assert out["would_send"]["to"] == 2 and out["recipients"] == 2
    assert out["would_send"]["message"]["title"] == long_title
    by_platform = {row["platform"]: row for row in out["lengths"]}
    assert by_platform["ios"]["title_length"] == len(long_title) and by_platform["ios"]["fits"] is False
    assert by_platform["android"]["fits"] is True
    assert any("cut on" in w and "ios" in w for w in out["warnings"])
    assert service.received == []


def test_the_service_worker_and_the_subscribe_script_are_served(client):
    worker = client.get("/static/push-sw.js")
    assert worker.status_code == 200 and "javascript" in worker.headers["content-type"]
    assert 'addEventListener("push"' in worker.text and "showNotification" in worker.text
    script = client.get("/static/push-subscribe.js")
    assert script.status_code == 200 and "/push/subscribe" in script.text and "/push/key" in script.text


def test_the_key_is_made_once_and_unreadable_under_another_link_secret(engine, client, make_engine, database_url):
    first = client.get("/push/key").json()["public_key"]
    assert client.get("/push/key").json()["public_key"] == first
    other = make_engine(database_url, link_secret="another-secret-of-32-characters-at-least")
    stranger = TestClient(create_app(other), base_url="http://beffroi.test", raise_server_exceptions=False)
    refused = stranger.get("/push/key")
    assert refused.status_code == 503 and refused.json()["detail"] == "Web Push is not available on this server for now"


def test_the_subscribe_endpoints_limit_each_client_address_with_a_clear_429(engine, service):
    from beffroi_plugins.mcms.push_routes import SUBSCRIBE_LIMIT

    app = create_app(engine)
    website = TestClient(app, base_url="http://beffroi.test", client=("203.0.113.7", 50000))
    for number in range(SUBSCRIBE_LIMIT - 1):
        answer = website.post("/push/subscribe", json={"topic": "news",
                                                       "subscription": service.browser(f"b{number}").subscription()})
        assert answer.status_code == 201, answer.text
    assert website.post("/push/unsubscribe", json={"topic": "news", "endpoint": "https://x"}).status_code == 200
    refused = website.post("/push/subscribe", json={"topic": "news",
                                                    "subscription": service.browser("late").subscription()})
    assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
    assert 0 < int(refused.headers["retry-after"]) <= 600 and refused.headers["access-control-allow-origin"] == "*"
    assert refused.json()["detail"].startswith("too many subscription requests from this address")
    assert website.post("/push/unsubscribe", json={"topic": "news", "endpoint": "https://x"}).status_code == 429
    other = TestClient(app, base_url="http://beffroi.test", client=("198.51.100.9", 50000))
    assert other.post("/push/subscribe", json={"topic": "news", "subscription": service.browser("c").subscription()}
                      ).status_code == 201  # another address is not held back
    preview = engine.run_recipe(push_recipe(engine, topic="news"), {}, dry_run=True)
    assert output(preview)["recipients"] == SUBSCRIBE_LIMIT  # the refused one was not stored
