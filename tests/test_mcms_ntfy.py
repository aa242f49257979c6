"""`mcms.push` through an ntfy connection, against a local ntfy server: the JSON publish, the token, once per step."""
from __future__ import annotations

import pytest

from beffroi import ActionContext

from .helpers import recipe
from .servers.ntfy import NtfyServer

TOKEN = "tk_0123456789abcdefghijklmnopqrs"


@pytest.fixture
def engine(make_engine, database_url):
    return make_engine(database_url, allowed_networks=["127.0.0.0/8"], public_url="https://beffroi.ville.example")


@pytest.fixture
def ntfy(engine):
    with NtfyServer(token=TOKEN) as server:
        engine.connections.save("city-ntfy", "ntfy", {"base_url": server.url, "token": TOKEN,
                                                      "topic_prefix": "namur-"})
        yield server


def push(engine, dry_run=False, **fields):
    step = {"id": "push", "uses": "mcms.push", "connection": "city-ntfy",
            "with": {"topic": "works", "title": "Rue Haute fermée", "body": "Travaux lundi.", "urgency": "high",
                     "url": "https://www.ville.example/travaux", **fields}}
    return engine.run_recipe(engine.validate(recipe(step)), {}, dry_run=dry_run)


def test_publishes_to_the_prefixed_topic_with_the_token(engine, ntfy):
    run = push(engine)
    assert run["status"] == "succeeded", run
    out = run["steps"][0]["output"]
    assert (out["channel"], out["connection"], out["sent"]) == ("ntfy", "city-ntfy", 1)
    [message] = ntfy.published
    assert message["topic"] == "namur-works" and message["title"] == "Rue Haute fermée"
    assert message["message"] == "Travaux lundi." and message["priority"] == 4
    assert message["click"].startswith("https://beffroi.ville.example/push/c/")
    assert ntfy.authorizations == [f"Bearer {TOKEN}"]
    assert TOKEN not in str(run)


def run_twice(engine, connection_name):
    """The push step's action run twice in the same step context, as a retry after a lost answer would."""
    spec = engine.registry.actions["mcms.push"]
    [connection] = engine.connections.resolve([connection_name], None)
    ctx = ActionContext(run_id="r1", step_id="push", idempotency_key="r1:push", recipe="t", db=engine.db,
                        connections=[connection], http=engine.http, signer=engine.signer)
    note = spec.input_model.model_validate({"topic": "works", "title": "Une fois", "body": "seulement"})
    return spec.run(note, ctx), spec.run(note, ctx)


def test_a_retried_step_publishes_once(engine, ntfy):
    first, second = run_twice(engine, "city-ntfy")
    assert (first["sent"], second["sent"], second["already_sent"]) == (1, 0, 1)
    assert len(ntfy.published) == 1


def test_a_wrong_token_is_a_clear_error(engine, ntfy):
    engine.connections.save("city-ntfy", "ntfy", {"base_url": ntfy.url, "token": "tk_wrong"})
    run = push(engine)
    assert run["status"] == "failed"
    assert "refused the connection 'city-ntfy' (401)" in run["steps"][0]["error"]
    assert "tk_wrong" not in str(run)


def test_dry_run_shows_the_request_and_sends_nothing(engine, ntfy):
    out = push(engine, dry_run=True)["steps"][0]["output"]
    assert out["request"]["json"]["topic"] == "namur-works" and out["would_send"]["to"] == 1
    assert ntfy.published == []


def test_the_connection_checks_report_in_plain_words(engine, ntfy):
    assert engine.connections.test("city-ntfy", engine.http) == {
        "ok": True, "message": f"the ntfy server at {ntfy.url} is up"}
    engine.connections.save("city-push", "webpush", {"subject": "mailto:web@ville.example"})
    checked = engine.connections.test("city-push", engine.http)
    assert checked["ok"] is True and "/push/subscribe" in checked["message"]
