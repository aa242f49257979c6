"""Every change to recipes, connections, people and tokens is in the audit log, whoever makes it: a person in the
web UI (their e-mail), a program through the API (`token:<name>`), the command line (`cli`); never a secret."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from beffroi import Engine, Settings, create_app

from .ui_helpers import PASSWORD, token_of, ui  # noqa: F401  (the `ui` fixture)

SECRET = "hunter2-secret-password"
NEW_PASSWORD = "a brand new long password"
BEFFROI = Path(sys.executable).with_name("beffroi")


def _recipe(name: str) -> dict:
    return {"name": name, "enabled": False, "trigger": {"uses": "builtins.manual"},
            "steps": [{"id": "note", "uses": "data.set", "with": {"values": {"a": 1}}}]}


def _smtp(**extra) -> dict:
    return {"host": "127.0.0.1", "port": 2525, "from_address": "press@example.org", "username": "press",
            "password": SECRET, **extra}


def _log(engine) -> list[tuple[str, str, str, str]]:
    """(actor, action, target_type, target) oldest first, and a check that no secret is in any entry."""
    entries = engine.audit.page(limit=500)[::-1]
    for entry in entries:
        assert SECRET not in repr(entry) and NEW_PASSWORD not in repr(entry) and "bfr_" not in repr(entry)
    return [(e.actor, e.action, e.target_type, e.target) for e in entries]


def test_changes_through_the_api_are_recorded_under_the_token(make_engine, database_url):
    engine = make_engine(database_url)
    _, admin_secret = engine.tokens.create("deploy-bot", "admin")
    api = TestClient(create_app(engine), headers={"Authorization": f"Bearer {admin_secret}"})
    assert api.post("/api/recipes", json=_recipe("weekly")).status_code == 201
    assert api.post("/api/recipes/weekly/enable").status_code == 200
    assert api.delete("/api/recipes/weekly").status_code == 204
    created = api.post("/api/connections", json={"name": "press-smtp", "type": "smtp", "config": _smtp()})
    assert created.status_code == 201
    assert api.patch("/api/connections/press-smtp", json={"config": {"port": 2526}}).status_code == 200
    refused = api.post("/api/connections", json={"name": "bad-smtp", "type": "smtp", "config": {"host": "x"}})
    assert refused.status_code == 422 and "config.from_address" in refused.json()["detail"]
    assert api.delete("/api/connections/press-smtp").status_code == 204
    assert api.delete("/api/connections/press-smtp").status_code == 404
    minted = api.post("/api/tokens", json={"name": "newsletter-site", "role": "viewer"}).json()
    assert api.delete(f"/api/tokens/{minted['id']}").status_code == 204
    actor = "token:deploy-bot"
    assert _log(engine) == [
        (actor, "recipe.saved", "recipe", "weekly"), (actor, "recipe.enabled", "recipe", "weekly"),
        (actor, "recipe.deleted", "recipe", "weekly"),
        (actor, "connection.created", "connection", "press-smtp"),
        (actor, "connection.changed", "connection", "press-smtp"),
        (actor, "connection.deleted", "connection", "press-smtp"),
        (actor, "token.created", "token", "newsletter-site"), (actor, "token.revoked", "token", "newsletter-site"),
    ]
    created = engine.audit.page(action="token.created")[0]
    assert created.detail == {"role": "viewer", "id": minted["id"]}
    assert minted["token"] not in repr(engine.audit.page(limit=500))
    assert engine.audit.page(action="connection.created")[0].detail == {"type": "smtp"}


def _post(browser, form_page: str, action: str, **fields):
    return browser.post(action, data={"csrf": token_of(browser.get(form_page)), **fields}, follow_redirects=False)


def test_changes_in_the_web_ui_are_recorded_under_the_persons_address(ui):
    engine = ui.engine
    admin = ui.client(signed_in="admin@example.org")
    editor = ui.client(signed_in="editor@example.org")
    assert _post(admin, "/admin/users/new", "/admin/users/new", email="dora@example.org", name="Dora",
                 role="viewer", password=SECRET, **{"password-again": SECRET}).status_code == 303
    dora = engine.users.get("dora@example.org")
    assert dora is not None
    page = f"/admin/users/{dora.id}"
    assert _post(admin, page, f"{page}/role", role="approver").status_code == 303
    assert _post(admin, page, f"{page}/role", role="approver").status_code == 303  # no change: no entry
    assert _post(admin, page, f"{page}/password", password=NEW_PASSWORD,
                 **{"password-again": NEW_PASSWORD}).status_code == 303
    link = _post(admin, page, f"{page}/password-link")
    assert link.status_code == 201
    secret = re.search(r"/choose-password/([A-Za-z0-9_-]{20,})", link.text)
    assert secret is not None
    assert _post(admin, f"{page}/delete", f"{page}/delete").status_code == 303
    minted = _post(admin, "/admin/tokens", "/admin/tokens", name="site-form", role="editor")
    assert minted.status_code == 201
    [token] = [t for t in engine.tokens.list() if t["name"] == "site-form"]
    assert _post(admin, f"/admin/tokens/{token['id']}/revoke", f"/admin/tokens/{token['id']}/revoke").status_code == 303
    engine.save_recipe(_recipe("old-news"), author="editor@example.org")
    assert _post(editor, "/recipes/old-news/delete", "/recipes/old-news/delete").status_code == 303
    engine.connections.create("press-smtp", "smtp", _smtp())
    assert _post(admin, "/connections/press-smtp/delete", "/connections/press-smtp/delete").status_code == 303
    ana, ed = "admin@example.org", "editor@example.org"
    assert _log(engine) == [
        (ana, "user.created", "user", "dora@example.org"), (ana, "user.role_changed", "user", "dora@example.org"),
        (ana, "user.password_reset", "user", "dora@example.org"),
        (ana, "user.password_link", "user", "dora@example.org"), (ana, "user.deleted", "user", "dora@example.org"),
        (ana, "token.created", "token", "site-form"), (ana, "token.revoked", "token", "site-form"),
        (ed, "recipe.saved", "recipe", "old-news"), (ed, "recipe.deleted", "recipe", "old-news"),
        (ana, "connection.deleted", "connection", "press-smtp"),
    ]
    assert engine.audit.page(action="user.role_changed")[0].detail == {"from": "viewer", "role": "approver"}
    assert engine.audit.page(action="user.created")[0].detail == {"role": "viewer"}
    assert secret.group(1) not in repr(engine.audit.page(limit=500))


@pytest.fixture
def command(tmp_path):
    """`command(*args, stdin=…)` runs `beffroi ARGS…` on a SQLite file; `.engine()` opens that database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
    env.update(BEFFROI_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", BEFFROI_DATA_DIR=str(tmp_path / "data"),
               PYTHONIOENCODING="utf-8")

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        result = subprocess.run([str(BEFFROI), *args], cwd=tmp_path, env=env, input=stdin, text=True,
                                capture_output=True, timeout=60, encoding="utf-8")
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        return result

    run.engine = lambda: Engine(Settings(_env_file=None, database_url=env["BEFFROI_DATABASE_URL"],
                                         data_dir=tmp_path / "data"), load_entry_points=False)
    return run


def test_changes_from_the_command_line_are_recorded_as_cli(command):
    command("user", "create", "ann@example.org", "--role", "editor", stdin=PASSWORD + "\n")
    command("user", "password", "ann@example.org", stdin=NEW_PASSWORD + "\n")
    command("user", "delete", "ann@example.org", "--yes")
    secret = command("token", "create", "backup-job", "--role", "viewer").stdout.strip()
    [token] = command("token", "list").stdout.split()[:1]
    command("token", "revoke", token)
    command("connection", "create", "press-smtp", "--type", "smtp", "--field", "host=127.0.0.1",
            "--field", "from_address=press@example.org", "--field", "username=press", "--secret", "password",
            stdin=SECRET + "\n")
    command("connection", "delete", "press-smtp", "--yes")
    engine = command.engine()
    try:
        assert _log(engine) == [
            ("cli", "user.created", "user", "ann@example.org"),
            ("cli", "user.password_reset", "user", "ann@example.org"),
            ("cli", "user.deleted", "user", "ann@example.org"), ("cli", "token.created", "token", "backup-job"),
            ("cli", "token.revoked", "token", "backup-job"),
            ("cli", "connection.created", "connection", "press-smtp"),
            ("cli", "connection.deleted", "connection", "press-smtp"),
        ]
        assert secret not in repr(engine.audit.page(limit=500))
    finally:
        engine.close()
