"""The recipes pages in real Chromium, in French and in English: searching, duplicating and deleting (after its
confirmation) with the keyboard; axe-core finds no WCAG 2.1 A/AA violation on the home, a recipe's overview, the
delete confirmation, the versions and a diff; screenshots of each."""
from __future__ import annotations

import httpx
import pytest

from .conftest import axe_violations, problems, screenshot
from .keyboard import create_account, sign_in

STEP = {"id": "greet", "uses": "data.set", "with": {"text": "Hello"}}
TEXTS = {
    "fr": {"home": "Recettes", "duplicate": "Dupliquer", "delete": "Supprimer", "enable": "Activer",
           "confirm": "Oui, supprimer cette recette", "deleted": "La recette a été supprimée",
           "compare": "Voir les changements", "added": "ajoutée"},
    "en": {"home": "Recipes", "duplicate": "Duplicate", "delete": "Delete", "enable": "Enable",
           "confirm": "Yes, delete this recipe", "deleted": "The recipe was deleted",
           "compare": "Show the changes", "added": "added"},
}


def seed(served) -> None:
    """Recipes saved through the API with the admin token: a news recipe saved twice, a weekly schedule."""
    api = httpx.Client(base_url=served.base_url, headers={"authorization": f"Bearer {served.token}"}, trust_env=False)
    news = {"name": "news", "title": "City news", "trigger": {"uses": "builtins.manual"}, "steps": [STEP]}
    assert api.post("/api/recipes", json=news).status_code == 201
    changed = {**news, "description": "Announces the news of the week",
               "steps": [STEP, {"id": "again", "uses": "data.set", "with": {"text": "Bye"}}]}
    assert api.put("/api/recipes/news", json=changed).status_code == 200
    weekly = {"name": "weekly", "title": "Monday mail", "steps": [STEP],
              "trigger": {"uses": "builtins.schedule", "schedule": "0 9 * * 1"}}
    assert api.post("/api/recipes", json=weekly).status_code == 201
    waiting = {"name": "waiting", "title": "Waits for its account", "enabled": False,
               "trigger": {"uses": "builtins.manual"},
               "steps": [{"id": "post", "uses": "smms.publish", "connection": "city-mastodon", "with": {"text": "Hi"}}]}
    assert api.post("/api/recipes", json=waiting).status_code == 201
    api.close()


def checked(page, name: str) -> None:
    """No WCAG 2.1 A/AA violation on the page as it is; its screenshot."""
    assert axe_violations(page) == [], page.url
    screenshot(page, name)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_search_duplicate_delete_and_versions_with_the_keyboard(served, page, language):
    texts = TEXTS[language]
    create_account(served, "anne@ville.example")
    seed(served)
    sign_in(page, served, "anne@ville.example", language=language)
    page.get_by_role("heading", level=1).filter(has_text=texts["home"]).wait_for()
    assert page.locator("table tbody tr").count() == 3
    checked(page, f"recipes-home-{language}")

    # search: type in the field, Enter
    page.locator("#q").focus()
    page.keyboard.type("MONDAY")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=MONDAY")
    assert page.locator("table tbody tr").count() == 1
    assert "weekly" in page.locator("table tbody th").inner_text()
    checked(page, f"recipes-search-{language}")

    # duplicate: its button reached with the keyboard, Enter; the copy's overview follows
    page.goto(served.url("/"))
    page.get_by_role("button", name=f"{texts['duplicate']} news").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/recipes/news-copy")
    assert page.locator(".flash").count() == 1
    checked(page, f"recipes-overview-{language}")

    # delete: the link asks first; the confirmation's button deletes
    page.get_by_role("link", name=f"{texts['delete']} news-copy").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/recipes/news-copy/delete")
    checked(page, f"recipes-delete-{language}")
    page.get_by_role("button", name=texts["confirm"]).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(served.url("/"))
    assert texts["deleted"] in page.locator(".flash").inner_text()
    assert page.locator("table tbody tr").count() == 3

    # enabling a recipe whose account does not exist yet: refused, saying why
    page.get_by_role("button", name=f"{texts['enable']} waiting").focus()
    page.keyboard.press("Enter")
    page.locator(".error-summary").wait_for()
    assert "city-mastodon" in page.locator(".error-summary").inner_text()
    checked(page, f"recipes-enable-refused-{language}")

    # versions: two chosen in the form, the diff marks the added lines in text
    page.goto(served.url("/recipes/news/versions"))
    checked(page, f"recipes-versions-{language}")
    page.locator("#from").select_option("1")
    page.locator("#to").select_option("2")
    page.get_by_role("button", name=texts["compare"]).focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/versions/diff?from=1&to=2")
    assert page.locator("tr.diff-added").count() >= 3
    assert texts["added"] in page.locator("tr.diff-added").first.inner_text()
    checked(page, f"recipes-diff-{language}")
    # the refused enabling is answered 422 with its page, which Chromium logs; nothing else may be logged
    assert [p for p in problems(page) if "status of 422" not in p] == []
