"""The results pages in real Chromium against `beffroi serve`, in French and in English, with the keyboard only: the
dashboard shows a publication with its channels and what came back, its charts with their tables (the period changed
from the form); the outbox shows the recorded post and e-mail, filtered by channel, and leads to the run; the audit
log shows who changed what, filtered by family. axe-core finds no WCAG 2.1 A/AA violation on any of them, and
nothing breaks the Content-Security-Policy."""
from __future__ import annotations

import pytest

from .conftest import axe_violations, problems, screenshot
from .keyboard import create_account, sign_in
from .keyboard import press as press_on
from .test_admin_browser import tab_to
from .test_runs_browser import api

FETE = {"name": "fete", "title": "Fête de la musique", "trigger": {"uses": "builtins.manual"}, "steps": [
    {"id": "announce", "uses": "smms.publish", "with": {"text": "Fête de la musique ce samedi, tout le programme"}},
    {"id": "mail", "uses": "email.send", "with": {"to": "a@example.org, b@example.org", "subject": "Fête",
                                                  "text": "Bonjour, la fête commence samedi."}},
    {"id": "track", "uses": "analytics.track_event", "with": {"name": "click", "campaign": "fete-2026"}}]}
COUNT = {"name": "count-event", "trigger": {"uses": "builtins.manual"}, "steps": [
    {"id": "track", "uses": "analytics.track_event",
     "with": {"name": "{{ trigger.name }}", "campaign": "{{ trigger.campaign }}"}}]}
TEXTS = {
    "fr": {"results": "Résultats", "outbox": "Boîte d’envoi", "audit": "Journal d’audit", "clicks": "Clics : 1",
           "week": "semaine du", "deleted": "Recette supprimée", "post": "Publication sur outbox"},
    "en": {"results": "Results", "outbox": "Outbox", "audit": "Audit log", "clicks": "Clicks: 1",
           "week": "week of", "deleted": "Recipe deleted", "post": "Post on outbox"},
}


def choose(page, selector: str, value: str) -> None:
    """Pick an option of a closed <select> with the arrow keys, as a keyboard user does."""
    page.locator(selector).focus()
    for _ in range(10):
        if page.locator(selector).input_value() == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{value} not reached in {selector}")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_results_outbox_and_audit_log_with_the_keyboard(served, page, language):
    texts = TEXTS[language]
    create_account(served, "anne@ville.example", role="admin")
    for recipe in (FETE, COUNT, {**COUNT, "name": "old-news"}):
        assert api(served, "POST", "/api/recipes", json=recipe).status_code == 201
    run = api(served, "POST", "/api/recipes/fete/runs?wait=true", json={}).json()
    assert run["status"] == "succeeded", run
    for name in ("visit", "visit", "open"):
        done = api(served, "POST", "/api/recipes/count-event/runs?wait=true",
                   json={"name": name, "campaign": "fete-2026"}).json()
        assert done["status"] == "succeeded", done
    assert api(served, "DELETE", "/api/recipes/old-news").status_code == 204
    page.context.add_cookies([{"name": "beffroi_lang", "value": language, "url": served.url("/")}])
    sign_in(page, served, "anne@ville.example")

    tab_to(page, 'nav a[href="/results"]')
    page.keyboard.press("Enter")
    page.wait_for_url(served.url("/results"))
    assert page.get_by_role("heading", level=1).inner_text() == texts["results"]
    row = page.locator(f'tr:has(a[href="/runs/{run["id"]}"])')
    assert texts["clicks"] in row.inner_text()
    assert page.locator("svg.chart").count() == 2 and page.locator("table.numbers caption").count() == 2
    assert axe_violations(page) == []
    screenshot(page, f"results-dashboard-{language}")
    choose(page, "#period", "week")
    press_on(page, ".run-filters button[type=submit]")
    page.wait_for_url(lambda url: "period=week" in url)
    assert texts["week"] in page.locator("#periods-caption ~ tbody, table.numbers").first.inner_text()
    assert axe_violations(page) == []

    tab_to(page, 'nav a[href="/outbox"]')
    page.keyboard.press("Enter")
    page.wait_for_url(served.url("/outbox"))
    assert page.locator("article.outbox-item").count() == 2
    assert texts["post"] in page.locator("article.outbox-item h2").nth(1).inner_text()
    assert axe_violations(page) == []
    screenshot(page, f"results-outbox-{language}")
    choose(page, "#channel", "email")
    press_on(page, ".run-filters button[type=submit]")
    page.wait_for_url(lambda url: "channel=email" in url)
    assert page.locator("article.outbox-item").count() == 1
    assert axe_violations(page) == []
    press_on(page, f'article.outbox-item a[href="/runs/{run["id"]}"]')
    page.wait_for_url(served.url(f"/runs/{run['id']}"))

    tab_to(page, 'nav a[href="/audit"]')
    page.keyboard.press("Enter")
    page.wait_for_url(served.url("/audit"))
    assert page.get_by_role("heading", level=1).inner_text() == texts["audit"]
    assert axe_violations(page) == []
    screenshot(page, f"results-audit-{language}")
    choose(page, "#what", "recipe")
    press_on(page, ".run-filters button[type=submit]")
    page.wait_for_url(lambda url: "what=recipe" in url)
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 4 and texts["deleted"] in rows.first.inner_text()
    assert axe_violations(page) == []
    assert problems(page) == []
