"""The runs' pages in real Chromium against `beffroi serve` (its in-process worker, the embedded defaults), in French
and in English: with the keyboard only, a recipe is run now (a wrong payload first, shown beside its field), its page
follows the run live until it ends, without a reload, and a step's output is read; a campaign's progress (sent of
total) is shown while it sends and its final count swapped in live; axe-core finds no WCAG 2.1 A/AA violation on the
lists, the run page and the run-now form; nothing breaks the Content-Security-Policy."""
from __future__ import annotations

import httpx
import pytest

from ..test_email_servers import WAIT, smtp_factory  # noqa: F401
from .conftest import axe_violations, problems, screenshot, serve
from .keyboard import create_account, press, sign_in

ANNOUNCE = {
    "name": "announce", "title": "Announce the news",
    "trigger": {"uses": "builtins.manual", "sample": {"title": "New library hours"}},
    "steps": [
        {"id": "headline", "title": "Write the headline", "uses": "data.set",
         "with": {"text": "News: {{ trigger.title }}"}},
        {"id": "pause", "uses": "flow.delay", "with": {"duration": "4s"}},
        {"id": "summary", "uses": "data.set", "with": {
            "text": "Published {{ steps.headline.text }}",
            "note": "From January, the library opens at ten on Thursday mornings and stays open until eight in the "
                    "evening, so that people who work during the day can borrow and return books, use the computers "
                    "and attend the reading club."}},
    ],
}
BROKEN = {"name": "broken", "trigger": {"uses": "builtins.manual"},
          "steps": [{"id": "call", "uses": "http.request", "with": {"url": "http://127.0.0.1:9/nothing"}}]}
TEXTS = {
    "fr": {"runs": "Exécutions", "invalid": "n’est pas du JSON valide", "succeeded": "réussie",
           "said": "Statut de l’exécution : réussie."},
    "en": {"runs": "Runs", "invalid": "is not valid JSON", "succeeded": "succeeded",
           "said": "Run status: succeeded."},
}


def api(served, method: str, path: str, **kwargs) -> httpx.Response:
    """The served API with its first admin token (to set the scene: recipes and a failed run)."""
    with httpx.Client(base_url=served.base_url, trust_env=False, timeout=30,
                      headers={"Authorization": f"Bearer {served.token}"}) as client:
        return client.request(method, path, **kwargs)






@pytest.mark.parametrize("language", ["fr", "en"])
def test_run_now_and_follow_the_run_live_with_the_keyboard(served, page, language):
    texts = TEXTS[language]
    create_account(served, "anne@ville.example")
    for recipe in (ANNOUNCE, BROKEN):
        assert api(served, "POST", "/api/recipes", json=recipe).status_code == 201
    failed = api(served, "POST", "/api/recipes/broken/runs?wait=true", json={}).json()
    assert failed["status"] == "failed"
    page.context.add_cookies([{"name": "beffroi_lang", "value": language, "url": served.url("/")}])
    sign_in(page, served, "anne@ville.example")

    page.goto(served.url("/recipes/announce/runs"))
    assert axe_violations(page) == []
    screenshot(page, f"runs-recipe-empty-{language}")
    press(page, 'main a[href="/recipes/announce/run"]')
    page.wait_for_url(served.url("/recipes/announce/run"))
    payload = page.locator("#payload")
    assert "New library hours" in payload.input_value()  # the trigger's sample, to start from
    assert axe_violations(page) == []
    screenshot(page, f"runs-run-now-{language}")

    payload.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type('{"title": "Late opening",}')
    press(page, "form.run-now button[type=submit]")
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert texts["invalid"] in summary.inner_text()
    assert payload.get_attribute("aria-invalid") == "true"
    assert payload.input_value() == '{"title": "Late opening",}'  # what was typed is kept
    assert axe_violations(page) == []
    screenshot(page, f"runs-run-now-error-{language}")

    summary.locator("a").first.focus()
    page.keyboard.press("Enter")  # the summary's link leads to the field
    assert page.evaluate("document.activeElement.id") == "payload"
    page.keyboard.press("Control+A")
    page.keyboard.type('{"title": "Late opening"}')
    press(page, "form.run-now button[type=submit]")
    page.wait_for_url(lambda url: "/runs/" in url)
    page.evaluate("window.__notReloaded = true")
    page.locator("#cancel-run").focus()  # a control of the summary, which the end of the run takes away
    status = page.locator("#run-summary")
    assert status.get_attribute("data-status") in ("queued", "running")
    assert page.locator("#step-pause").get_attribute("data-status") in ("pending", "running")
    screenshot(page, f"runs-run-live-{language}")
    assert axe_violations(page) == []

    page.locator('#run-summary[data-status="succeeded"]').wait_for(timeout=30_000)
    assert page.evaluate("window.__notReloaded === true")  # updated in place, never reloaded
    assert page.evaluate("document.activeElement.id") == "run-summary"  # the focus is not lost to the page's top
    assert page.locator("#run-announce").inner_text() != ""
    assert texts["said"] in page.locator("#run-announce").inner_text() or \
        texts["succeeded"] in page.locator("#run-announce").inner_text()
    assert page.locator("#step-summary").get_attribute("data-status") == "succeeded"
    output = page.locator("#step-summary details[data-fold='output-summary']")
    output.locator("summary").focus()
    page.keyboard.press("Enter")  # a long output is folded: opened from the keyboard
    assert "Published News: Late opening" in output.locator("pre").inner_text()
    assert "Published News: Late opening" in page.locator("#step-summary").inner_text()
    assert page.locator(".refresh").count() == 0
    assert axe_violations(page) == []
    screenshot(page, f"runs-run-{language}")

    page.goto(served.url("/runs"))
    assert page.get_by_role("heading", level=1).inner_text() == texts["runs"]
    assert page.locator("table.runs tbody tr").count() == 2
    assert axe_violations(page) == []
    screenshot(page, f"runs-list-{language}")
    page.locator("#status-failed").focus()
    page.keyboard.press("Space")
    page.locator("#from").fill("2020-01-01")
    press(page, ".run-filters button[type=submit]")
    page.wait_for_url(lambda url: "status=failed" in url)
    assert page.locator("table.runs tbody tr").count() == 1
    assert axe_violations(page) == []
    press(page, "table.runs tbody a[href^='/runs/']")
    page.wait_for_url(served.url(f"/runs/{failed['id']}"))
    assert page.locator("#run-summary").get_attribute("data-status") == "failed"
    assert axe_violations(page) == []
    screenshot(page, f"runs-run-failed-{language}")
    page.set_viewport_size({"width": 320, "height": 800})  # a phone: nothing wider than the screen
    for path in (f"/runs/{failed['id']}", "/runs"):
        page.goto(served.url(path))
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, path
        assert axe_violations(page) == []  # the table scrolls in a region the keyboard reaches
    screenshot(page, f"runs-list-narrow-{language}")
    # the refused payload is answered 400 with the form again, which Chromium logs; nothing else may be logged
    assert [p for p in problems(page) if "status of 400" not in p] == []


PROGRESS = {"fr": {"held": "0 envoyés sur 3.", "done": "3 envoyés sur 3."},
            "en": {"held": "Sent 0 of 3.", "done": "Sent 3 of 3."}}


@pytest.fixture
def served_smtp(tmp_path):
    """`beffroi serve` that may reach the local SMTP server, writing every progress report (no throttle)."""
    with serve(tmp_path, BEFFROI_ALLOWED_NETWORKS="127.0.0.0/8", BEFFROI_PROGRESS_INTERVAL="0") as server:
        yield server


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_campaign_s_progress_is_shown_and_followed_live(served_smtp, page, smtp_factory, language):
    served = served_smtp
    mailbox, port = smtp_factory()
    mailbox.hold_message, mailbox.accept_held = 0, True  # the first message waits until the page is seen
    create_account(served, "anne@ville.example")
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "from_address": "news@ville.example"}
    assert api(served, "POST", "/api/connections", json={"name": "city-smtp", "type": "smtp", "config": smtp}) \
        .status_code == 201
    for email in ("ann@example.org", "bob@example.org", "eve@example.org"):
        assert api(served, "POST", "/api/crm/contacts", json={"email": email, "consent": True}).status_code == 201
        assert api(served, "POST", "/api/crm/lists/press/members", json={"email": email}).status_code == 200
    assert api(served, "POST", "/api/recipes", json={"name": "news", "trigger": {"uses": "builtins.manual"}, "steps": [
        {"id": "news", "uses": "email.send_campaign", "connection": "city-smtp",
         "with": {"list": "press", "subject": "News", "text": "Hello", "rate_per_minute": 6000}}]}).status_code == 201
    sign_in(page, served, "anne@ville.example", language=language)
    run_id = api(served, "POST", "/api/recipes/news/runs", json={}).json()["id"]
    try:
        assert mailbox.held.wait(WAIT)
        page.goto(served.url(f"/runs/{run_id}"))
        step = page.locator("#step-news")
        assert step.get_attribute("data-status") == "running"
        assert PROGRESS[language]["held"] in step.locator(".step-progress").inner_text()
        assert step.locator("progress").get_attribute("max") == "3"
        assert axe_violations(page) == []
        screenshot(page, f"runs-campaign-progress-{language}")
    finally:
        mailbox.release.set()
    page.locator('#step-news[data-status="succeeded"]').wait_for(timeout=30_000)  # swapped in live, not reloaded
    assert PROGRESS[language]["done"] in page.locator("#step-news .step-progress").inner_text()
    assert page.locator("#step-news progress").get_attribute("value") == "3"
    assert axe_violations(page) == []
    assert problems(page) == []
