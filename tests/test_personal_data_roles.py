"""A viewer token sees counts and campaigns, never a contact's personal data; every route of the app is tried."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from beffroi.api import create_app

EMAIL, FIRST, LAST, ORG = "anne.dubois@lesoir.be", "Annabelle", "Dubois-Lefèvre", "Le Soir Namur"
PRIVATE = (EMAIL, FIRST, LAST, ORG, "lesoir.be")
DENIED = "this needs the editor role; your token is a viewer token"


@pytest.fixture
def seeded(engine):
    """An app whose base holds one contact on the press list, in a run, an analytics event and the outbox."""
    app = create_app(engine)
    tokens = {role: engine.tokens.create(f"{role}-token", role)[1] for role in ("viewer", "editor")}

    def client(role):
        return TestClient(app, base_url="http://beffroi.test", headers={"Authorization": f"Bearer {tokens[role]}"},
                          raise_server_exceptions=False)

    editor = client("editor")
    contact = editor.post("/api/crm/contacts", json={"email": EMAIL, "first_name": FIRST, "last_name": LAST,
                                                     "organisation": ORG, "consent": True,
                                                     "custom": {"phone": "+32 81 00 00 00"}}).json()
    assert editor.post("/api/crm/lists/press/members", json={"email": EMAIL}).status_code == 200
    steps = [{"id": "upsert", "uses": "crm.upsert_contact", "with": {"email": "{{ trigger.email }}",
                                                                       "first_name": "{{ trigger.name }}"}},
             {"id": "track", "uses": "analytics.track_event",
              "with": {"name": "subscribed", "campaign": "spring", "properties": {"who": "{{ trigger.email }}"}}},
             {"id": "news", "uses": "email.send_campaign", "with": {"list": "press", "subject": "News",
                                                                   "text": "Hello [[ contact.first_name ]]"}}]
    recipe = {"name": "subscribe", "trigger": {"uses": "builtins.manual"}, "steps": steps}
    assert editor.post("/api/recipes", json=recipe).status_code == 201
    watch = {"name": "welcome", "trigger": {"uses": "crm.contact_created", "every": "5m"},
             "steps": [{"id": "track", "uses": "analytics.track_event", "with": {"name": "welcomed"}}]}
    assert editor.post("/api/recipes", json=watch).status_code == 201
    run = editor.post("/api/recipes/subscribe/runs?wait=true", json={"email": EMAIL, "name": FIRST}).json()
    assert run["status"] == "succeeded", run
    failed = editor.post("/api/recipes/subscribe/runs?wait=true",
                         json={"email": f"{FIRST} <{EMAIL}>", "name": FIRST}).json()
    assert failed["status"] == "failed" and EMAIL in failed["error"], failed  # an error may name the person
    ids = {"contact_id": contact["id"], "run_id": run["id"], "name": "subscribe", "token_id": "nothing",
           "token": "not-a-signed-link"}
    return client, ids


def every_route(app):
    """(path, methods, is an API route) of every route, those of included routers too (FastAPI includes lazily); the
    web UI's pages are FastAPI routes left out of the OpenAPI document, not API routes (they answer with pages)."""
    for route in app.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for context in contexts:
            inner = getattr(context, "starlette_route", None) or context
            methods = getattr(inner, "methods", None) or getattr(context, "methods", None) or {"GET"}
            yield context.path, methods, hasattr(context, "dependant") and getattr(context, "include_in_schema", True)


def viewer_requests(app, ids):
    """(method, path, is an API route) for every route, path parameters filled with the seeded things' ids."""
    for path, methods, api in every_route(app):
        for param in re.findall(r"{(\w+)(?::\w+)?}", path):
            value = "press" if path.startswith("/api/crm/lists") else ids.get(param, "x")
            path = re.sub(rf"{{{param}(?::\w+)?}}", value, path)
        for method in sorted(set(methods) - {"HEAD"}):
            yield method, path, api


def test_no_route_shows_a_viewer_a_contacts_personal_data(seeded):
    client, ids = seeded
    viewer = client("viewer")
    editor_seen = client("editor").get(f"/api/runs/{ids['run_id']}").text
    assert EMAIL in editor_seen  # the seeded run does hold the address: the check below can fail
    requests = sorted(viewer_requests(viewer.app, ids), key=lambda r: r[0] != "GET")  # reads before any write
    tried = set()
    for method, path, api in requests:
        answer = viewer.request(method, path, json={} if method in ("POST", "PUT", "PATCH") else None)
        tried.add((method, path))
        text = answer.text.lower()
        leaked = [word for word in PRIVATE if word.lower() in text]
        assert not leaked, f"{method} {path} ({answer.status_code}) shows a viewer {leaked}"
        if api and answer.status_code == 403:
            assert answer.json()["detail"] in (DENIED, DENIED.replace("editor", "admin", 1)), (method, path)
    assert {("GET", "/api/crm/contacts"), ("GET", f"/api/crm/contacts/{ids['contact_id']}"), ("GET", "/api/outbox"),
            ("GET", f"/api/runs/{ids['run_id']}"), ("GET", "/api/analytics/events"), ("GET", "/api/runs"),
            ("GET", "/api/recipes/subscribe/sample"), ("POST", "/api/crm/contacts/import"),
            ("DELETE", "/api/crm/lists/press/members"), ("POST", "/hooks/subscribe")} <= tried


@pytest.mark.parametrize("path", ["/api/crm/contacts", "/api/crm/contacts/{contact_id}", "/api/outbox",
                                  "/api/runs/{run_id}", "/api/analytics/events",
                                  "/api/recipes/welcome/sample?live=true"])
def test_personal_data_needs_the_editor_role(seeded, path):
    client, ids = seeded
    path = path.format(**ids)
    denied = client("viewer").get(path)
    assert denied.status_code == 403, denied.text
    assert denied.headers["content-type"] == "application/problem+json"
    assert denied.json()["detail"] == DENIED
    shown = client("editor").get(path)
    assert shown.status_code == 200 and EMAIL in shown.text


def test_viewers_keep_the_counts_and_campaigns(seeded):
    client, _ids = seeded
    viewer = client("viewer")
    lists = viewer.get("/api/crm/lists").json()
    assert [(lst["name"], lst["members"]["subscribed"]) for lst in lists] == [("press", 1)]
    summary = viewer.get("/api/analytics/summary").json()
    assert summary["campaigns"] == [{"campaign": "spring", "count": 1}]
    runs = viewer.get("/api/runs").json()
    assert [(r["recipe"], r["status"]) for r in runs["items"]] == [("subscribe", "failed"), ("subscribe", "succeeded")]
    assert runs["items"][0]["error"] == "hidden: a step's error may name a contact (an editor token shows it)"
    assert EMAIL in client("editor").get("/api/runs").json()["items"][0]["error"]
