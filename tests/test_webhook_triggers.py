"""A plugin's own webhook trigger: served at /hooks/{name} with the same checks, its `receive` reading the body."""
from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from beffroi import TriggerSpec, WebhookConfig, hookimpl
from beffroi.api import create_app
from beffroi.plugins import PluginHost
from beffroi.recipes import RecipeInvalid
from beffroi.webhooks import sign

from .helpers import RecordingPlugin
from .helpers import all_finished as finished

SECRET = "forms-signing-key-123"


class FormConfig(WebhookConfig):
    """The form service signs with HMAC in X-Form-Signature and numbers deliveries in X-Form-Delivery."""

    check: Literal["hmac-sha256"] = "hmac-sha256"
    signature_header: str = "X-Form-Signature"
    delivery_header: str | None = "X-Form-Delivery"
    form: str = Field(description="which form of the service")


class Submission(BaseModel):
    email: str
    form: str


def receive(delivery: dict[str, Any], config: FormConfig) -> dict[str, Any] | None:
    if delivery.get("kind") == "ping":
        return None
    if delivery.get("kind") == "crash":
        raise KeyError("answers")  # a bug of the plugin
    answers = delivery.get("answers")
    if not isinstance(answers, dict):
        raise ValueError("the delivery has no answers object")
    return Submission(email=answers.get("email"), form=config.form).model_dump()


class FormsPlugin:
    @hookimpl
    def register_triggers(self):
        yield TriggerSpec(key="forms.submitted", title="Form submitted", kind="webhook", config_model=FormConfig,
                          event_model=Submission, sample_event={"email": "someone@example.org", "form": "contact"},
                          receive=receive)


@pytest.fixture
def plugin():
    return RecordingPlugin()


@pytest.fixture
def engine(make_engine, database_url, plugin):
    engine = make_engine(database_url, plugins=[plugin, FormsPlugin()])
    engine.save_recipe({"name": "contact-form", "trigger": {"uses": "forms.submitted",
                                                            "with": {"secret": SECRET, "form": "contact"}},
                        "steps": [{"id": "note", "uses": "test.record",
                                   "with": {"text": "{{ trigger.form }}: {{ trigger.email }}"}}]})
    return engine


@pytest.fixture
def client(engine):
    return TestClient(create_app(engine), raise_server_exceptions=False)


def post(client, body: dict, delivery: str | None = "d-1", secret: str = SECRET):
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Form-Signature": next(iter(sign(secret, data).values()))}
    if delivery:
        headers["X-Form-Delivery"] = delivery
    return client.post("/hooks/contact-form", content=data, headers=headers)


def test_a_signed_delivery_runs_with_the_event_the_trigger_reads(client, engine, plugin):
    answer = post(client, {"kind": "submission", "answers": {"email": "ann@example.org"}})
    assert answer.status_code == 202, answer.text
    [run] = finished(engine, 1)
    assert engine.runs.detail(run["id"])["trigger"] == {"email": "ann@example.org", "form": "contact"}
    assert [c["text"] for c in plugin.calls] == ["contact: ann@example.org"]
    again = post(client, {"kind": "submission", "answers": {"email": "ann@example.org"}})
    assert again.status_code == 200 and again.json() == {"status": "duplicate", "delivery": "d-1"}


def test_the_checks_of_webhookconfig_come_first(client):
    assert post(client, {"answers": {"email": "a@example.org"}}, secret="not-the-key").status_code == 401
    unsigned = client.post("/hooks/contact-form", json={"answers": {"email": "a@example.org"}})
    assert unsigned.status_code == 401 and "X-Form-Signature" in unsigned.json()["detail"]


def test_a_delivery_that_starts_nothing_is_acknowledged(client, engine):
    answer = post(client, {"kind": "ping"}, delivery="d-2")
    assert answer.status_code == 200 and answer.json() == {"status": "ignored"}
    assert engine.runs.list()[1] == 0


def test_a_body_the_trigger_cannot_read_is_a_422_saying_why(client, engine):
    missing = post(client, {"kind": "submission"}, delivery="d-3")
    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "forms.submitted cannot read this delivery: the delivery has no answers object" in missing.json()["detail"]
    wrong = post(client, {"kind": "submission", "answers": {"email": 12}}, delivery="d-4")
    assert wrong.status_code == 422 and "email: Input should be a valid string" in wrong.json()["detail"]
    crash = post(client, {"kind": "crash"}, delivery="d-5")
    assert crash.status_code == 422 and crash.json()["detail"] == "forms.submitted cannot read this delivery (KeyError)"
    assert engine.runs.list()[1] == 0


def test_the_recipe_is_checked_as_a_webhook(engine):
    with pytest.raises(RecipeInvalid) as refused:
        engine.validate({"name": "open", "trigger": {"uses": "forms.submitted", "with": {"form": "contact"}},
                         "steps": [{"id": "a", "uses": "data.set", "with": {"x": 1}}]})
    assert ("trigger.with", "with.secret is required for check hmac-sha256") in \
        [(p.loc, p.message) for p in refused.value.problems]


def test_a_webhook_trigger_must_extend_webhookconfig_and_receive_is_for_webhooks():
    class Loose(BaseModel):
        form: str

    class Broken:
        @hookimpl
        def register_triggers(self):
            yield TriggerSpec(key="forms.loose", title="Loose", kind="webhook", config_model=Loose)

    class Misplaced:
        @hookimpl
        def register_triggers(self):
            yield TriggerSpec(key="forms.polled", title="Polled", kind="poll", receive=receive, poll=lambda *a: None)

    host = PluginHost(extra_plugins=[Broken(), Misplaced()], load_entry_points=False)
    errors = {f.name: f.error for f in host.registry.failures}
    assert "the config_model of a webhook trigger must extend WebhookConfig" in errors["Broken"]
    assert "receive is for webhook triggers; this one is 'poll'" in errors["Misplaced"]
