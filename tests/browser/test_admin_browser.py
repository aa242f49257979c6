"""Administration in real Chromium, keyboard only, in French and in English: the first account from the one-time
setup link `beffroi serve` prints, then a new person, then an API token read once. axe-core finds no WCAG 2.1 A/AA
violation on the setup page, the people pages (list, new, one person, a one-time password link and its page, delete,
an error) and the token pages (list, the new token, revoke); nothing breaks the Content-Security-Policy."""
from __future__ import annotations

import re

import pytest

from .conftest import axe_violations, problems, screenshot
from .keyboard import PASSWORD

TEXTS = {
    "fr": {"people": "Personnes", "added": "Le compte a été créé.", "tokens": "Jetons d’API",
           "once": "Copiez-le maintenant", "revoked": "Le jeton a été révoqué"},
    "en": {"people": "People", "added": "The account was created.", "tokens": "API tokens",
           "once": "Copy it now", "revoked": "The token was revoked"},
}


def first_admin(served, page, language: str, *, check: bool = False) -> None:
    """Open the setup link serve printed and create the first admin with the keyboard; lands on the people page."""
    link = re.search(r"^\s+(http://127\.0\.0\.1:\d+/setup/\S+)\s*$", served.log, re.MULTILINE)
    assert link, served.log
    page.context.add_cookies([{"name": "beffroi_lang", "value": language, "url": served.url("/")}])
    page.goto(link.group(1))
    assert page.locator("html").get_attribute("lang") == language
    if check:
        assert axe_violations(page) == []
        screenshot(page, f"admin-setup-{language}")
    page.locator("#email").focus()
    page.keyboard.type("maire@ville.example")
    page.keyboard.press("Tab")
    page.keyboard.type("Anne Maire")
    for _ in range(2):
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", level=1).filter(has_text=TEXTS[language]["people"]).wait_for()
    assert page.url == served.url("/admin/users")


def tab_to(page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching `selector` has the focus (what a keyboard user does)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
    raise AssertionError(f"{selector} not reached with Tab")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_first_admin_adds_a_person_with_the_keyboard(served, page, language):
    texts = TEXTS[language]
    first_admin(served, page, language, check=True)
    assert axe_violations(page) == []
    screenshot(page, f"admin-users-{language}")

    tab_to(page, 'a[href="/admin/users/new"]')
    page.keyboard.press("Enter")
    page.locator("#email").wait_for()
    assert axe_violations(page) == []
    screenshot(page, f"admin-user-new-{language}")
    page.locator("#email").focus()
    page.keyboard.type("claire@ville.example")
    page.keyboard.press("Tab")
    page.keyboard.type("Claire")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # from editor, the default, to approver
    assert page.locator("#role").input_value() == "approver"
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type("not the same password")
    page.keyboard.press("Enter")
    summary = page.locator(".error-summary")
    summary.wait_for()
    target = summary.locator("a").first.get_attribute("href")
    assert target == "#password-again" and page.locator(target).get_attribute("aria-invalid") == "true"
    assert page.locator("#email").input_value() == "claire@ville.example"  # what was typed is kept
    assert axe_violations(page) == []
    screenshot(page, f"admin-user-new-error-{language}")
    page.locator("#password").focus()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.locator(".flash").filter(has_text=texts["added"]).wait_for()
    assert "claire@ville.example" in page.locator("table").inner_text()

    page.locator("a[href^='/admin/users/']", has_text="Claire").first.focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", level=1).filter(has_text="Claire").wait_for()
    assert axe_violations(page) == []
    screenshot(page, f"admin-user-{language}")
    person = page.url
    tab_to(page, "form[action$='/password-link'] button")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'link-section'")  # the link, shown once, has the focus
    link = page.locator("#password-link").input_value()
    assert link.startswith(served.url("/choose-password/"))
    assert axe_violations(page) == []
    screenshot(page, f"admin-user-link-{language}")
    page.goto(link)
    page.locator("#password").wait_for()
    assert axe_violations(page) == []
    screenshot(page, f"admin-choose-password-{language}")
    page.goto(person)
    tab_to(page, "a[href$='/delete']")
    page.keyboard.press("Enter")
    page.locator("form[action$='/delete'] button").wait_for()
    assert axe_violations(page) == []
    screenshot(page, f"admin-user-delete-{language}")
    assert [p for p in problems(page) if "status of 400" not in p] == []


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_admin_creates_a_token_and_reads_it_once(served, page, language):
    texts = TEXTS[language]
    first_admin(served, page, language)
    page.goto(served.url("/admin/tokens"))
    page.get_by_role("heading", level=1).filter(has_text=texts["tokens"]).wait_for()
    assert axe_violations(page) == []
    screenshot(page, f"admin-tokens-{language}")

    page.locator("#name").focus()
    page.keyboard.type("site web")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowUp")  # from editor, the default, to viewer
    assert page.locator("#role").input_value() == "viewer"
    page.keyboard.press("Tab")  # to the button: a select does not send its form on Enter
    page.keyboard.press("Enter")
    shown = page.locator("#new-token")
    shown.wait_for()
    assert texts["once"] in page.locator(".new-token").inner_text()
    secret = shown.input_value()
    assert secret.startswith("bfr_")
    page.wait_for_function("() => document.activeElement.id === 'new-token-section'")  # the script focuses it
    assert page.locator("#copy-token").is_visible()  # the script offers a copy button
    assert axe_violations(page) == []
    screenshot(page, f"admin-token-new-{language}")

    page.goto(served.url("/admin/tokens"))  # never again
    assert secret not in page.content() and page.locator("#new-token").count() == 0
    assert "site web" in page.locator("table").inner_text()
    tab_to(page, "a[href$='/revoke']")
    page.keyboard.press("Enter")
    page.locator("form[action$='/revoke'] button").wait_for()
    assert axe_violations(page) == []
    screenshot(page, f"admin-token-revoke-{language}")
    page.locator("form[action$='/revoke'] button").focus()
    page.keyboard.press("Enter")
    page.locator(".flash").filter(has_text=texts["revoked"]).wait_for()
    assert problems(page) == []
