"""`mcms.push` through Firebase Cloud Messaging HTTP v1, against a local server implementing the documented token
endpoint (JWT bearer grant) and `messages:send`."""
from __future__ import annotations

import json

import pytest

from .helpers import recipe
from .servers.fcm import EMAIL, SCOPE, FcmServer
from .test_mcms_ntfy import run_twice


@pytest.fixture
def engine(make_engine, database_url):
    return make_engine(database_url, allowed_networks=["127.0.0.0/8"], public_url="https://beffroi.ville.example")


@pytest.fixture
def fcm(engine):
    with FcmServer() as server:
        engine.connections.save("city-app", "fcm", {"service_account": json.dumps(server.service_account()),
                                                    "api_url": server.url})
        yield server


def push(engine, dry_run=False):
    step = {"id": "push", "uses": "mcms.push", "connection": "city-app",
            "with": {"topic": "works", "title": "Rue Haute fermée", "body": "Travaux lundi.", "urgency": "high",
                     "url": "https://www.ville.example/travaux"}}
    return engine.run_recipe(engine.validate(recipe(step)), {}, dry_run=dry_run)


def test_signs_in_with_the_service_account_and_sends_to_the_topic(engine, fcm):
    run = push(engine)
    assert run["status"] == "succeeded", run
    out = run["steps"][0]["output"]
    assert (out["channel"], out["sent"]) == ("fcm", 1)
    [grant] = fcm.grants
    assert grant["iss"] == EMAIL and grant["scope"] == SCOPE
    [message] = fcm.sent
    assert message["topic"] == "works"
    assert message["notification"] == {"title": "Rue Haute fermée", "body": "Travaux lundi."}
    assert message["android"]["priority"] == "high" and message["android"]["ttl"] == "86400s"
    assert message["webpush"]["fcm_options"]["link"].startswith("https://beffroi.ville.example/push/c/")
    assert message["data"]["url"] == message["webpush"]["fcm_options"]["link"]
    assert "PRIVATE KEY" not in str(run)


def test_a_retried_step_sends_once(engine, fcm):
    first, second = run_twice(engine, "city-app")
    assert (first["sent"], second["already_sent"]) == (1, 1) and len(fcm.sent) == 1


def test_a_key_of_another_account_is_refused_in_plain_words(engine, fcm):
    other = FcmServer().service_account()  # a key the server does not know, pointing at its token endpoint
    other["token_uri"] = fcm.service_account()["token_uri"]
    engine.connections.save("city-app", "fcm", {"service_account": json.dumps(other), "api_url": fcm.url})
    run = push(engine)
    assert run["status"] == "failed" and "token endpoint refused" in run["steps"][0]["error"]
    assert fcm.sent == []


def test_a_file_that_is_not_a_key_is_refused_when_saved(engine, fcm):
    from beffroi.connections import ConnectionProblem
    with pytest.raises(ConnectionProblem) as caught:
        engine.connections.save("bad", "fcm", {"service_account": '{"project_id": "x"}'})
    assert "private_key" in str(caught.value)


def test_dry_run_and_the_connection_check(engine, fcm):
    out = push(engine, dry_run=True)["steps"][0]["output"]
    assert out["request"]["json"]["message"]["topic"] == "works" and fcm.sent == [] and fcm.grants == []
    checked = engine.connections.test("city-app", engine.http)
    assert checked == {"ok": True, "message": f"signed in to Firebase project ville-app as {EMAIL}"}
