"""The HTTP API in-process through httpx: auth and roles, recipes with versions, connections, runs, errors."""
from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from beffroi.api import create_app

from .helpers import RecordingPlugin, recipe

HELLO = recipe({"id": "greet", "uses": "data.set", "with": {"text": "Hello {{ trigger.name }}"}}, name="hello")


@pytest.fixture
def plugin():
    return RecordingPlugin()


@pytest.fixture
def engine(make_engine, database_url, plugin):
    return make_engine(database_url, plugins=[plugin], workers=2)


@pytest.fixture
def tokens(engine):
    return {role: engine.tokens.create(f"{role}-token", role)[1] for role in ("viewer", "editor", "admin")}


@pytest.fixture
def client(engine, tokens):
    app = create_app(engine)

    def make(role="admin"):
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        return TestClient(app, base_url="http://beffroi.test", headers=headers, raise_server_exceptions=False)

    return make


def wait_finished(api, run_id, limit=10.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        run = api.get(f"/api/runs/{run_id}").json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish: {run}")


def test_health_needs_no_token_and_everything_else_does(client):
    anonymous = client(None)
    assert anonymous.get("/api/health").json()["status"] == "ok"
    answer = anonymous.get("/api/recipes")
    assert answer.status_code == 401 and "bearer token" in answer.json()["detail"]
    bad = client(None).get("/api/recipes", headers={"Authorization": "Bearer bfr_nope"})
    assert bad.status_code == 401 and bad.json()["detail"] == "invalid or revoked token"


def test_roles(client):
    viewer, editor = client("viewer"), client("editor")
    assert viewer.get("/api/recipes").status_code == 200
    denied = viewer.post("/api/recipes", json=HELLO)
    assert denied.status_code == 403 and "editor role" in denied.json()["detail"]
    assert editor.post("/api/recipes", json=HELLO).status_code == 201
    assert editor.post("/api/connections", json={"name": "x", "type": "testapi", "config": {}}).status_code == 403


def test_unknown_route_is_a_json_404(client):
    answer = client().get("/api/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "there is nothing at this address; the API is described at /docs"
    assert "nothing-here" not in answer.text


def test_recipe_crud_with_versions(client):
    api = client("editor")
    created = api.post("/api/recipes", json=HELLO)
    assert created.status_code == 201 and created.json()["version"] == 1
    assert api.post("/api/recipes", json=HELLO).status_code == 409
    changed = {**HELLO, "title": "Say hello"}
    assert api.put("/api/recipes/hello", json=changed).json()["version"] == 2
    assert api.post("/api/recipes/hello/disable").json()["enabled"] is False
    assert api.post("/api/recipes/hello/enable").json()["enabled"] is True
    versions = api.get("/api/recipes/hello/versions").json()
    assert [v["version"] for v in versions] == [4, 3, 2, 1]
    assert versions[-1]["author"] == "token:editor-token"
    assert [r["name"] for r in api.get("/api/recipes").json()] == ["hello"]
    assert api.delete("/api/recipes/hello").status_code == 204
    assert api.get("/api/recipes/hello").status_code == 404


def test_invalid_recipe_gets_422_with_every_problem_and_nothing_is_stored(client):
    api = client("editor")
    bad = recipe({"id": "a", "uses": "data.sett"}, {"id": "b", "uses": "test.record", "with": {"txt": 1}}, name="bad")
    answer = api.post("/api/recipes", json=bad)
    assert answer.status_code == 422
    locs = {p["loc"] for p in answer.json()["errors"]}
    assert {"steps[0].uses", "steps[1].with.txt"} <= locs
    assert api.get("/api/recipes/bad").status_code == 404
    api.post("/api/recipes", json=HELLO)
    answer = api.put("/api/recipes/hello", json={**HELLO, "steps": []})
    assert answer.status_code == 422
    assert api.get("/api/recipes/hello").json()["version"] == 1  # the accepted version is untouched


def test_bad_json_body_is_a_clear_4xx(client):
    api = client("editor")
    answer = api.post("/api/recipes", content=b"{nope", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("the body is not valid JSON: ")
    assert "at character 1" in answer.json()["detail"]
    answer = api.post("/api/recipes/hello/runs", content=b'{"a": 1,, }', headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "JSON" in answer.json()["detail"]


def test_connection_secrets_are_write_only(client, engine):
    api = client("admin")
    answer = api.post("/api/connections", json={"name": "acct", "type": "testapi",
                                                "config": {"base_url": "https://s.example",
                                                           "token": "tok-VERY-SECRET"}})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["secrets"] == {"token": True} and "tok-VERY-SECRET" not in answer.text
    assert body["created_at"] == body["updated_at"]
    assert "tok-VERY-SECRET" not in api.get("/api/connections").text
    updated = api.patch("/api/connections/acct", json={"config": {"base_url": "https://other.example"}})
    assert updated.json()["config"] == {"base_url": "https://other.example"}
    assert updated.json()["created_at"] == body["created_at"] < updated.json()["updated_at"]
    resolved = engine.connections.resolve(["acct"], None)[0]
    assert resolved.config.token.get_secret_value() == "tok-VERY-SECRET"  # kept
    with engine.db.engine.connect() as conn:
        stored = conn.execute(text("SELECT config, secrets FROM connections")).one()
    assert b"tok-VERY-SECRET" not in bytes(stored.secrets) and "tok-VERY-SECRET" not in str(stored.config)
    invalid = api.post("/api/connections", json={"name": "bad", "type": "testapi", "config": {"base_url": "x"}})
    assert invalid.status_code == 422 and "config.token" in invalid.json()["detail"]
    assert api.post("/api/connections", json={"name": "n", "type": "nope", "config": {}}).status_code == 422
    assert api.post("/api/connections/acct/test").json()["ok"] is None
    assert api.delete("/api/connections/acct").status_code == 204


def test_start_run_wait_and_async(client):
    api = client("editor")
    api.post("/api/recipes", json=HELLO)
    done = api.post("/api/recipes/hello/runs?wait=true", json={"name": "Ann"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "succeeded"
    assert done.json()["steps"][0]["output"] == {"text": "Hello Ann"}
    accepted = api.post("/api/recipes/hello/runs", json={"name": "Bob"})
    assert accepted.status_code == 202 and accepted.headers["Location"] == accepted.json()["url"]
    run = wait_finished(api, accepted.json()["id"])
    assert run["steps"][0]["output"] == {"text": "Hello Bob"} and run["trigger"] == {"name": "Bob"}
    dry = api.post("/api/recipes/hello/runs?wait=true&dry_run=true", json={"name": "Cyd"}).json()
    assert dry["dry_run"] is True and dry["status"] == "succeeded"
    page = api.get("/api/runs?recipe=hello&limit=2").json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert api.get("/api/runs?status=failed").json()["total"] == 0
    assert api.get("/api/runs?status=bogus").status_code == 422
    assert api.post("/api/recipes/nope/runs", json={}).status_code == 404


def test_runs_filter_by_one_or_several_statuses_and_by_recipe(client):
    api = client("editor")
    api.post("/api/recipes", json=HELLO)
    api.post("/api/recipes", json=recipe({"id": "post", "uses": "test.record", "with": {"fail_times": 1}},
                                         name="broken"))
    ok = api.post("/api/recipes/hello/runs?wait=true", json={"name": "Ann"}).json()
    bad = api.post("/api/recipes/broken/runs?wait=true", json={}).json()
    assert (ok["status"], bad["status"]) == ("succeeded", "failed")

    def ids(query):
        answer = api.get(f"/api/runs?{query}")
        assert answer.status_code == 200, answer.text
        return [run["id"] for run in answer.json()["items"]]

    assert ids("status=failed") == [bad["id"]]
    assert ids("status=failed&status=succeeded") == ids("status=failed,succeeded") == [bad["id"], ok["id"]]
    assert ids("status=failed&recipe=hello") == [] and ids("recipe=hello") == [ok["id"]]
    assert api.get("/api/runs?status=failed").json()["items"][0]["error"] == "step 'post' failed: remote refused ''"
    wrong = api.get("/api/runs?status=failed&status=broken")
    assert wrong.status_code == 422
    assert wrong.json()["detail"] == ("query.status: unknown status 'broken'; "
                                      "use one or more of: queued, running, waiting, succeeded, failed, cancelled")


def test_retry_resumes_from_the_failed_step(client, plugin):
    api = client("editor")
    flaky = recipe({"id": "one", "uses": "test.record", "with": {"text": "one"}},
                   {"id": "two", "uses": "test.record", "with": {"text": "two", "fail_times": 1}}, name="flaky")
    api.post("/api/recipes", json=flaky)
    run = api.post("/api/recipes/flaky/runs?wait=true", json={}).json()
    assert run["status"] == "failed" and run["error"] == "step 'two' failed: remote refused 'two'"
    assert api.post(f"/api/runs/{run['id']}/retry").status_code == 202
    again = wait_finished(api, run["id"])
    assert again["status"] == "succeeded"
    assert [c["text"] for c in plugin.calls] == ["one", "two"]  # step one was not executed twice
    assert api.post(f"/api/runs/{run['id']}/retry").status_code == 409


def test_cancel_stops_a_run_between_steps(client, plugin):
    api = client("editor")
    slow = recipe({"id": "one", "uses": "test.record", "with": {"text": "one", "sleep": 0.5}},
                  {"id": "two", "uses": "test.record", "with": {"text": "two"}}, name="slow")
    api.post("/api/recipes", json=slow)
    run_id = api.post("/api/recipes/slow/runs", json={}).json()["id"]
    deadline = time.monotonic() + 5
    while api.get(f"/api/runs/{run_id}").json()["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert api.post(f"/api/runs/{run_id}/cancel").json()["status"] == "cancelled"
    run = wait_finished(api, run_id)
    time.sleep(0.6)
    assert run["status"] == "cancelled"
    assert [c["text"] for c in plugin.calls] == ["one"]
    assert api.post(f"/api/runs/{run_id}/cancel").status_code == 409


def test_catalog_exposes_json_schemas(client):
    catalog = client("viewer").get("/api/plugins").json()
    actions = {a["key"]: a for a in catalog["actions"]}
    assert actions["http.request"]["input_schema"]["properties"]["method"]["default"] == "GET"
    assert "test.record" in actions and actions["test.record"]["plugin"] == "RecordingPlugin"
    types = {c["key"]: c for c in catalog["connection_types"]}
    assert types["testapi"]["config_schema"]["properties"]["token"]["writeOnly"] is True
    assert {t["key"] for t in catalog["triggers"]} >= {"builtins.manual", "builtins.webhook", "builtins.schedule"}
    assert {"wcms", "smms", "email", "crm", "analytics", "ecm", "mcms"} <= set(catalog["tool_types"])
    assert catalog["failures"] == []


def test_admin_manages_tokens(client):
    admin = client("admin")
    created = admin.post("/api/tokens", json={"name": "ci", "role": "viewer"})
    assert created.status_code == 201 and created.json()["token"].startswith("bfr_")
    fresh = created.json()["token"]
    assert client(None).get("/api/runs", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    listed = admin.get("/api/tokens").json()
    assert {t["name"] for t in listed} >= {"ci", "admin-token"} and all("token" not in t for t in listed)
    assert fresh not in admin.get("/api/tokens").text
    assert client("editor").get("/api/tokens").status_code == 403
    assert admin.delete(f"/api/tokens/{created.json()['id']}").status_code == 204
    assert client(None).get("/api/runs", headers={"Authorization": f"Bearer {fresh}"}).status_code == 401
    assert admin.delete("/api/tokens/nope").status_code == 404
    assert admin.post("/api/tokens", json={"name": "x", "role": "root"}).status_code == 422
