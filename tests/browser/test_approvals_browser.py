"""Content approval in real Chromium against `beffroi serve`, keyboard only, in French and in English: a run of a
recipe held at `flow.approve` waits; the approver opens it from the menu, sees the Mastodon post and the e-mail as
they will go out, makes the Mastodon text too long (the error is shown beside it and in the summary, the text
kept), shortens it and approves; the run goes on and the local Mastodon server receives the edited text.

The run is started through the API (its token may then not approve it); the Mastodon server is a local one
(tests/servers/mastodon.py) that the served installation may reach (BEFFROI_ALLOWED_NETWORKS=127.0.0.0/8).
axe-core finds no WCAG 2.1 A/AA violation on any page visited; screenshots at each step."""
from __future__ import annotations

import time

import httpx
import pytest

from ..servers.mastodon import MastodonServer
from .conftest import axe_violations, problems, screenshot, serve
from .keyboard import create_account, sign_in
from .keyboard import press as press_on

APPROVER = "cleo@ville.example"
RECIPE = {"name": "fete", "title": "Fête de la musique",
          "trigger": {"uses": "builtins.manual", "sample": {"where": "Grand-Place"}}, "steps": [
    {"id": "approve", "uses": "flow.approve", "with": {"message": "Check the date before it goes out."}},
    {"id": "toot", "uses": "smms.publish", "connection": "city-mastodon",
     "with": {"text": "Fête de la musique: {{ trigger.where }}"}},
    {"id": "mail", "uses": "email.send", "with": {"to": "press@ville.example", "subject": "Fête de la musique",
                                                   "text": "See you there."}},
]}
TEXTS = {"fr": {"menu": "Approbations", "over": "au-delà de la limite de 60",
                "done": "Votre approbation est enregistrée", "edited": "Fête de la musique le 21 juin, Grand-Place"},
         "en": {"menu": "Approvals", "over": "over the limit of 60", "done": "Your approval is recorded",
                "edited": "Music day on 21 June, Grand-Place"}}


@pytest.fixture
def mastodon():
    with MastodonServer({"tok-city": "city"}) as server:
        yield server


@pytest.fixture
def served(tmp_path):
    """`beffroi serve` as conftest's, allowed to reach the local Mastodon server on 127.0.0.1."""
    with serve(tmp_path, BEFFROI_ALLOWED_NETWORKS="127.0.0.0/8") as server:
        yield server


def api(served, method: str, path: str, **kwargs) -> httpx.Response:
    with httpx.Client(base_url=served.base_url, trust_env=False, timeout=30,
                      headers={"Authorization": f"Bearer {served.token}"}) as client:
        return client.request(method, path, **kwargs)


def run_status(served, run_id: str, wanted: str, limit: float = 30.0) -> dict:
    """The run once it has the status wanted (read through the API, a poll interval between looks)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        run = api(served, "GET", f"/api/runs/{run_id}").json()
        if run["status"] == wanted:
            return run
        time.sleep(0.05)
    raise AssertionError(f"the run is {run['status']}, not {wanted}: {run}")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_approver_edits_the_mastodon_text_and_approves_with_the_keyboard(served, page, mastodon, language):
    texts = TEXTS[language]
    create_account(served, APPROVER, role="approver")
    assert api(served, "POST", "/api/connections", json={
        "name": "city-mastodon", "type": "mastodon",
        "config": {"base_url": mastodon.url, "access_token": "tok-city", "max_characters": 60}}).status_code == 201
    assert api(served, "POST", "/api/recipes", json=RECIPE).status_code == 201
    run_id = api(served, "POST", "/api/recipes/fete/runs", json={"where": "Grand-Place"}).json()["id"]
    run_status(served, run_id, "waiting")
    assert mastodon.statuses == []

    page.context.add_cookies([{"name": "beffroi_lang", "value": language, "url": served.url("/")}])
    sign_in(page, served, APPROVER)
    press_on(page, 'nav a[href="/approvals"]')
    page.wait_for_url(served.url("/approvals"))
    assert page.get_by_role("heading", level=1).inner_text() == texts["menu"]
    assert page.locator("table.runs tbody tr").count() == 1
    assert axe_violations(page) == []
    screenshot(page, f"approvals-list-{language}")

    press_on(page, "table.runs tbody a[href^='/approvals/']")
    page.wait_for_url(lambda url: "/approvals/" in url)
    request_url = page.url
    post = page.locator("article.post-preview")
    assert "Fête de la musique: Grand-Place" in post.inner_text() and "/ 60" in post.inner_text()
    assert "Fête de la musique" in page.locator("article.email-preview").inner_text()
    assert axe_violations(page) == []
    screenshot(page, f"approvals-request-{language}")

    field = page.locator("#text-0")
    press_on(page, "#text-0")  # Enter in a text box is a new line: clear it all and type
    page.keyboard.press("Control+A")
    page.keyboard.type(texts["edited"] + " — " + "la" * 20)
    press_on(page, 'button[value="approve"]')
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert texts["over"] in summary.inner_text()
    assert field.get_attribute("aria-invalid") == "true" and texts["over"] in page.locator("#text-0-error").inner_text()
    assert field.input_value().startswith(texts["edited"])  # what was typed is kept
    assert axe_violations(page) == []
    screenshot(page, f"approvals-request-error-{language}")

    summary.locator("a").first.focus()
    page.keyboard.press("Enter")  # the summary's link leads to the field
    assert page.evaluate("document.activeElement.id") == "text-0"
    page.keyboard.press("Control+A")
    page.keyboard.type(texts["edited"])
    press_on(page, 'button[value="approve"]')
    # the refused form was shown at the same address: wait for the decision's page, not for an address already there
    page.locator("main").get_by_text(texts["done"]).first.wait_for()
    assert page.url == request_url
    assert axe_violations(page) == []
    screenshot(page, f"approvals-approved-{language}")

    run = run_status(served, run_id, "succeeded")
    assert [status["text"] for status in mastodon.statuses] == [texts["edited"]]
    assert run["steps"][1]["output"]["results"][0]["text"] == texts["edited"]
    page.goto(served.url(f"/runs/{run_id}"))
    assert page.locator("#run-summary").get_attribute("data-status") == "succeeded"
    assert axe_violations(page) == []
    assert [p for p in problems(page) if "status of 400" not in p] == []  # the refused form answered 400


REFUSAL = {"fr": {"self": "pas d’auto-approbation", "rejected": "refusée", "why": "Mauvaise date",
                  "reason": "Dites pourquoi le contenu est refusé"},
           "en": {"self": "no self-approval", "rejected": "rejected", "why": "Wrong date",
                  "reason": "Say why the content is rejected"}}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_self_approval_is_refused_and_a_reject_stops_the_run_with_its_reason(served, page, mastodon, language):
    texts = REFUSAL[language]
    create_account(served, "sam@ville.example", role="approver")
    create_account(served, APPROVER, role="approver")
    assert api(served, "POST", "/api/connections", json={
        "name": "city-mastodon", "type": "mastodon",
        "config": {"base_url": mastodon.url, "access_token": "tok-city"}}).status_code == 201
    assert api(served, "POST", "/api/recipes", json=RECIPE).status_code == 201
    page.context.add_cookies([{"name": "beffroi_lang", "value": language, "url": served.url("/")}])

    sign_in(page, served, "sam@ville.example")  # Sam starts the run from its page, so may not approve it
    page.goto(served.url("/recipes/fete/run"))
    press_on(page, "form.run-now button[type=submit]")
    page.wait_for_url(lambda url: "/runs/" in url)
    run_id = page.url.rsplit("/", 1)[-1]
    run_status(served, run_id, "waiting")
    page.goto(served.url(f"/runs/{run_id}"))
    press_on(page, "main a[href^='/approvals/']")  # the run page links the waiting run to its request
    page.wait_for_url(lambda url: "/approvals/" in url)
    request_url = page.url
    assert texts["self"] in page.locator("main").inner_text()
    assert page.locator("textarea").count() == 0 and page.locator('button[value="approve"]').count() == 0
    assert "Fête de la musique: Grand-Place" in page.locator("article.post-preview").inner_text()
    assert axe_violations(page) == []
    screenshot(page, f"approvals-self-refused-{language}")

    page.context.clear_cookies()
    page.context.add_cookies([{"name": "beffroi_lang", "value": language, "url": served.url("/")}])
    sign_in(page, served, APPROVER)
    page.goto(request_url)
    press_on(page, 'button[value="reject"]')  # without a reason: refused beside the field
    page.locator(".error-summary").wait_for()
    assert texts["reason"] in page.locator("#reason-error").inner_text()
    assert axe_violations(page) == []
    page.locator("#reason").focus()
    page.keyboard.type(texts["why"])
    press_on(page, 'button[value="reject"]')
    page.locator("main dl").first.get_by_text(texts["rejected"]).first.wait_for()  # the refused form had this address
    assert page.url == request_url
    assert axe_violations(page) == []
    screenshot(page, f"approvals-rejected-{language}")
    run = run_status(served, run_id, "failed")
    assert texts["why"] in run["error"] and mastodon.statuses == []
