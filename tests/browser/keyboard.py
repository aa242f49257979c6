"""What browser tests do as a person at a keyboard: create an account, sign in, type into a field, press a control.

Each step focuses an element (as Tab would reach it) and uses keys, never a mouse click.
"""
from __future__ import annotations

import subprocess

from .conftest import BIN, environment

PASSWORD = "correct horse battery staple"


def create_account(served, email: str, role: str = "editor") -> None:
    """`beffroi user create` against the served installation (its own folder and database)."""
    done = subprocess.run([str(BIN), "user", "create", email, "--role", role], input=PASSWORD + "\n",
                          cwd=served.folder, env=environment(served.folder), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def by_id(page, element_id: str):
    """An element by its id (ids such as `config.port` or `steps[0].id` would be misread by a `#…` selector)."""
    return page.locator(f'[id="{element_id}"]')


def sign_in(page, served, email: str, *, language: str | None = None, then: str = "/") -> None:
    """Sign in with the keyboard (in `language` when given, as the language switch would set it); waits for the
    page the sign-in leads to."""
    if language:
        page.context.add_cookies([{"name": "beffroi_lang", "value": language, "url": served.url("/")}])
    page.goto(served.url("/login" if then == "/" else f"/login?next={then}"))
    by_id(page, "email").focus()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(served.url(then))


def type_into(page, element_id: str, text: str) -> None:
    """Focus a field by its id, select what it holds and type over it."""
    by_id(page, element_id).focus()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(text)


def press(page, selector: str) -> None:
    """Focus a link or button (as Tab would reach it) and activate it with Enter."""
    page.locator(selector).focus()
    page.keyboard.press("Enter")
