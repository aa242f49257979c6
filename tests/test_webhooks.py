"""POST /hooks/{name}: checks, deduplication, limits, and secrets kept out of every answer and record."""
from __future__ import annotations

import json
import re
import time

import pytest
from fastapi.testclient import TestClient

from beffroi.api import create_app
from beffroi.webhooks import sign

from .helpers import RecordingPlugin
from .helpers import all_finished as finished

SECRET = "hook-secret-value-123"


def hook(name="signup", **options):
    return {"name": name, "trigger": {"uses": "builtins.webhook", "with": options},
            "steps": [{"id": "note", "uses": "test.record", "with": {"text": "{{ trigger.email }}"}}]}


@pytest.fixture
def plugin():
    return RecordingPlugin()


@pytest.fixture
def engine(make_engine, database_url, plugin):
    return make_engine(database_url, plugins=[plugin])


@pytest.fixture
def client(engine):
    return TestClient(create_app(engine), raise_server_exceptions=False)


def test_token_in_header_or_query(client, engine, plugin):
    engine.save_recipe(hook(check="token", secret=SECRET))
    assert client.post("/hooks/signup", json={"email": "a@example.org"}).status_code == 401
    wrong = client.post("/hooks/signup", json={"email": "a@example.org"}, headers={"X-Beffroi-Token": "nope"})
    assert wrong.status_code == 401 and SECRET not in wrong.text
    assert client.post("/hooks/signup", json={"email": "a@example.org"},
                       headers={"X-Beffroi-Token": SECRET}).status_code == 202
    assert client.post(f"/hooks/signup?token={SECRET}", data={"email": "b@example.org"}).status_code == 202
    finished(engine, 2)
    assert sorted(c["text"] for c in plugin.calls) == ["a@example.org", "b@example.org"]


def test_github_style_hmac_signature(client, engine):
    engine.save_recipe(hook(check="hmac-sha256", secret=SECRET))
    body = json.dumps({"email": "c@example.org"}).encode()
    good = {"Content-Type": "application/json", **sign(SECRET, body)}
    assert client.post("/hooks/signup", content=body, headers=good).status_code == 202
    tampered = client.post("/hooks/signup", content=body + b" ", headers=good)
    assert tampered.status_code == 401
    assert client.post("/hooks/signup", content=body, headers={"Content-Type": "application/json"}).status_code == 401


def test_timestamped_signature_window(client, engine):
    engine.save_recipe(hook(check="hmac-sha256-timestamped", secret=SECRET))
    body = b'{"email": "d@example.org"}'
    fresh = {"Content-Type": "application/json", **sign(SECRET, body, int(time.time()))}
    assert client.post("/hooks/signup", content=body, headers=fresh).status_code == 202
    stale = {"Content-Type": "application/json", **sign(SECRET, body, int(time.time()) - 400)}
    answer = client.post("/hooks/signup", content=body, headers=stale)
    assert answer.status_code in (400, 401) and "300" in answer.json()["detail"]


def test_same_delivery_twice_starts_one_run(client, engine, plugin):
    engine.save_recipe(hook(check="token", secret=SECRET, delivery_header="X-GitHub-Delivery"))
    headers = {"X-Beffroi-Token": SECRET, "X-GitHub-Delivery": "d-1"}
    first = client.post("/hooks/signup", json={"email": "e@example.org"}, headers=headers)
    second = client.post("/hooks/signup", json={"email": "e@example.org"}, headers=headers)
    assert first.status_code == 202 and second.status_code == 200 and second.json()["status"] == "duplicate"
    finished(engine, 1)
    assert engine.runs.list()[1] == 1 and len(plugin.calls) == 1


def test_limits_and_content_types(client, engine):
    engine.save_recipe(hook(check="token", secret=SECRET))
    auth = {"X-Beffroi-Token": SECRET}
    big = client.post("/hooks/signup", content=b"x" * (1024 * 1024 + 1),
                      headers={**auth, "Content-Type": "application/json"})
    assert big.status_code == 413
    assert client.post("/hooks/signup", content=b"<a/>",
                       headers={**auth, "Content-Type": "text/xml"}).status_code == 415
    bad = client.post("/hooks/signup", content=b"{nope", headers={**auth, "Content-Type": "application/json"})
    assert bad.status_code == 400 and "malformed JSON" in bad.json()["detail"]
    assert client.post("/hooks/nothing", json={}).status_code == 404
    assert engine.runs.list()[1] == 0


def test_a_webhook_needs_a_check_unless_public(client, engine):
    from beffroi.recipes import RecipeInvalid

    with pytest.raises(RecipeInvalid, match="needs a check"):
        engine.save_recipe(hook(check="none"))
    with pytest.raises(RecipeInvalid, match=re.escape("with.secret is required")):
        engine.save_recipe(hook(check="token"))
    engine.save_recipe(hook(check="none", public=True))
    assert client.post("/hooks/signup", json={"email": "f@example.org"}).status_code == 202
    engine.save_recipe(hook(public=True))  # public: true alone means no check, as documented
    assert client.post("/hooks/signup", json={"email": "g@example.org"}).status_code == 202
    with pytest.raises(RecipeInvalid, match=r"required for check token \(or leave check out: public: true alone"):
        engine.save_recipe(hook(check="token", public=True))  # a check asked for needs its secret


def test_saving_a_masked_definition_keeps_the_stored_secret(client, engine):
    """The pages edit what the API shows (the secret as `***`): saving it back through the engine keeps the secret;
    a new recipe has no stored secret to keep, and `***` is then the secret it was given."""
    engine.save_recipe(hook(check="token", secret=SECRET))
    shown = engine.recipes.get_row("signup")["definition"]
    from beffroi.recipes import mask_secrets

    engine.save_recipe({**mask_secrets(shown), "title": "Sign-up"}, author="editor@example.org")
    assert client.post("/hooks/signup", json={}, headers={"X-Beffroi-Token": SECRET}).status_code == 202
    left_out = mask_secrets(shown)
    del left_out["trigger"]["with"]["secret"]
    engine.save_recipe(left_out)
    assert client.post("/hooks/signup", json={}, headers={"X-Beffroi-Token": SECRET}).status_code == 202


def test_disabled_or_other_trigger_is_not_a_webhook(client, engine):
    engine.save_recipe({**hook(check="token", secret=SECRET), "enabled": False})
    assert client.post("/hooks/signup", json={}, headers={"X-Beffroi-Token": SECRET}).status_code == 404
    engine.save_recipe({"name": "manual", "trigger": {"uses": "builtins.manual"},
                        "steps": [{"id": "a", "uses": "data.set"}]})
    assert client.post("/hooks/manual", json={}).status_code == 404


def test_the_secret_never_leaves(client, engine):
    token = engine.tokens.create("ed", "editor")[1]
    api = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/recipes", json=hook(check="token", secret=SECRET), headers=api)
    assert created.status_code == 201 and SECRET not in created.text
    assert created.json()["definition"]["trigger"]["with"]["secret"] == "***"
    # an update sending back the masked value keeps the secret
    definition = created.json()["definition"]
    assert client.put("/api/recipes/signup", json={**definition, "title": "Sign-up"}, headers=api).status_code == 200
    assert client.post("/hooks/signup", json={"email": "g@example.org"},
                       headers={"X-Beffroi-Token": SECRET}).status_code == 202
    finished(engine, 1)
    for path in ("/api/recipes", "/api/recipes/signup", "/api/recipes/signup/versions", "/api/runs"):
        assert SECRET not in client.get(path, headers=api).text
    run_id = engine.runs.list()[0][0]["id"]
    assert SECRET not in client.get(f"/api/runs/{run_id}", headers=api).text
    from sqlalchemy import text

    with engine.db.engine.connect() as conn:
        assert SECRET not in repr(conn.execute(text("SELECT * FROM runs")).all())
