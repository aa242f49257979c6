"""The approvals API: list, read, approve with edited texts, reject; problem+json errors; runs started through the
API record their token, which may then not approve them."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from beffroi.api import create_app

from .approval_helpers import AUTHOR, Clock, held_recipe, people, settled, start, step


@pytest.fixture
def engine(make_engine, database_url):
    engine = make_engine(database_url, clock=Clock())
    people(engine)
    return engine


@pytest.fixture
def client(engine):
    app = create_app(engine)

    def make(role: str = "admin", name: str | None = None) -> TestClient:
        _, token = engine.tokens.create(name or role, role)
        return TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {token}"})
    return make


def test_list_read_and_approve_with_an_edited_text(engine, client):
    run_id = start(engine, held_recipe())
    admin = client()
    page = admin.get("/api/approvals").json()
    (item,) = page["items"]
    assert item["run_id"] == run_id and item["status"] == "pending" and page["next"] is None
    assert item["page"] == f"/approvals/{item['id']}"
    shown = admin.get(f"/api/approvals/{item['id']}").json()
    assert [c["step_id"] for c in shown["channels"]] == ["publish", "mail"]
    assert {(t["step_id"], t["key"]) for t in shown["texts"]} == {("publish", "texts.outbox"), ("mail", "subject"),
                                                                  ("mail", "text")}
    answer = admin.post(f"/api/approvals/{item['id']}/approve",
                        json={"texts": {"publish": {"texts.outbox": "Edited by the API"}}, "note": "ok"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "approved" and answer.json()["decisions"][0]["by"] == "token:admin"
    run = settled(engine, run_id)
    assert step(run, "publish")["output"]["results"][0]["text"] == "Edited by the API"
    again = admin.post(f"/api/approvals/{item['id']}/approve",
                       json={"texts": {"publish": {"texts.outbox": "Edited by the API"}}, "note": "ok"})
    assert again.status_code == 200 and len(again.json()["decisions"]) == 1  # a double click changes nothing
    late = admin.post(f"/api/approvals/{item['id']}/reject", json={"reason": "too late"})
    assert late.status_code == 409 and late.headers["content-type"] == "application/problem+json"
    assert "already approved" in late.json()["detail"]
    assert admin.get("/api/approvals").json()["items"] == []
    assert len(admin.get("/api/approvals?status=all").json()["items"]) == 1


def test_refusals_are_problems_that_say_why(engine, client):
    run_id = start(engine, held_recipe())
    admin, editor = client(), client("editor")
    (item,) = admin.get("/api/approvals").json()["items"]
    url = f"/api/approvals/{item['id']}"
    refused = editor.post(f"{url}/approve", json={})
    assert refused.status_code == 403 and "approver role" in refused.json()["detail"]
    assert client("viewer", "viewer").get(url).status_code == 403
    assert admin.get("/api/approvals/nothing").status_code == 404
    too_long = admin.post(f"{url}/approve", json={"texts": {"mail": {"subject": "x" * 999}, "nope": {"a": "b"}}})
    assert too_long.status_code == 422
    assert {e["loc"] for e in too_long.json()["errors"]} == {"texts.mail.subject", "texts.nope.a"}
    no_reason = admin.post(f"{url}/reject", json={"reason": " "})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["loc"] == "reason"
    assert admin.get("/api/approvals?status=odd").status_code == 422
    assert admin.get("/api/approvals?before=odd").status_code == 422
    rejected = admin.post(f"{url}/reject", json={"reason": "wrong date", "note": "call me"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    run = settled(engine, run_id)
    assert run["status"] == "failed" and "wrong date" in run["error"]
    assert editor.get(url).json()["decisions"][0]["note"] is None  # the private note: admin tokens only
    assert admin.get(url).json()["decisions"][0]["note"] == "call me"


def test_a_token_may_not_approve_the_run_it_started(engine, client):
    engine.save_recipe(held_recipe(), author=AUTHOR)
    admin = client(name="robot")
    started = admin.post("/api/recipes/announce/runs", json={"where": "Parc"})
    assert started.status_code == 202
    run_id = started.json()["id"]
    settled(engine, run_id)
    (item,) = admin.get("/api/approvals").json()["items"]
    refused = admin.post(f"/api/approvals/{item['id']}/approve", json={})
    assert refused.status_code == 403 and "no self-approval" in refused.json()["detail"]
    assert client(name="other").post(f"/api/approvals/{item['id']}/approve", json={}).status_code == 200
    assert settled(engine, run_id)["status"] == "succeeded"


def test_pages_of_approvals(engine, client):
    for _ in range(3):
        start(engine, held_recipe())
    admin = client()
    first = admin.get("/api/approvals?limit=2").json()
    second = admin.get("/api/approvals", params={"limit": 2, "before": first["next"]}).json()
    assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next"] is None
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(set(ids)) == 3
