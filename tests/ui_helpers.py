"""Shared by the web UI's tests: an engine with its app under TestClient, people, and signing in as a form does."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


def token_of(page) -> str:
    """The CSRF token in a page's forms."""
    match = TOKEN.search(page.text)
    assert match, page.text
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next: str = "/", **headers):
    """Post the sign-in form as a browser does (its CSRF token from the page); the answer is not followed."""
    token = token_of(client.get("/login"))
    return client.post("/login", data={"csrf": token, "email": email, "password": password, "next": next},
                       headers=headers, follow_redirects=False)


@pytest.fixture
def ui(make_engine):
    """An engine with three people (viewer, editor, admin) and a factory of browsers (`ui.client()`)."""
    from beffroi import create_app

    engine = make_engine()
    for role in ("viewer", "editor", "admin"):
        engine.users.create(f"{role}@example.org", PASSWORD, role=role, name=role.title())
    app = create_app(engine)

    class UI:
        def __init__(self):
            self.engine, self.app = engine, app

        def client(self, *, signed_in: str | None = None, **kwargs) -> TestClient:
            browser = TestClient(app, **kwargs)
            if signed_in:
                assert sign_in(browser, signed_in).status_code == 303
            return browser

    return UI()
