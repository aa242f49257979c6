"""Signing in to the web UI in real Chromium, with the keyboard only, in French and in English: axe-core finds no
WCAG 2.1 A/AA violation on the pages met, a wrong password is announced in the error summary and beside its
field, and nothing breaks the Content-Security-Policy."""
from __future__ import annotations

import pytest

from .conftest import axe_violations, problems, screenshot
from .keyboard import PASSWORD, create_account


@pytest.mark.parametrize("language, wrong, welcome", [
    ("fr", "L’adresse e-mail ou le mot de passe n’est pas correct.", "Recettes"),
    ("en", "The e-mail address or the password is not right.", "Recipes"),
])
def test_sign_in_with_the_keyboard_only(served, page, language, wrong, welcome):
    create_account(served, "anne@ville.example")
    # the person's choice of language, as the switch of every page sets it
    page.context.add_cookies([{"name": "beffroi_lang", "value": language, "url": served.url("/")}])
    page.goto(served.url("/"))
    assert page.url.startswith(served.url("/login"))
    assert page.locator("html").get_attribute("lang") == language
    assert axe_violations(page) == []
    screenshot(page, f"sign-in-{language}")

    page.keyboard.press("Tab")  # the skip link first
    assert page.evaluate("document.activeElement.classList.contains('skip-link')") or \
        page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    page.locator("#email").focus()
    page.keyboard.type("anne@ville.example")
    page.keyboard.press("Tab")
    page.keyboard.type("not the password")
    page.keyboard.press("Enter")
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert wrong.lower() in summary.inner_text().lower()
    target = summary.locator("a").first.get_attribute("href")  # the summary links to the field concerned
    field = page.locator(target)
    assert field.get_attribute("aria-invalid") == "true"
    assert f"{target[1:]}-error" in field.get_attribute("aria-describedby")
    assert axe_violations(page) == []
    screenshot(page, f"sign-in-error-{language}")

    page.locator("#password").focus()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", level=1).filter(has_text=welcome).wait_for()
    assert page.url == served.url("/")
    assert axe_violations(page) == []
    # the refused sign-in is answered 400 with the form again, which Chromium logs; nothing else may be logged
    assert [p for p in problems(page) if "status of 400" not in p] == []
    screenshot(page, f"home-{language}")
