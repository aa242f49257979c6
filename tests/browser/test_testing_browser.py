"""The test page in real Chromium, keyboard only, in French and in English: the flagship recipe is previewed (its
connections point at the local Mastodon, Bluesky, SMTP and Matomo servers of the tests, which get no request), a
Mastodon post's count and the newsletter's recipient count are read; a JSON event with an error and a step that
fails are shown with their messages. axe-core finds no WCAG 2.1 A/AA violation at any point, the CSP holds, and
screenshots are written."""
from __future__ import annotations

import copy

import httpx
import pytest
import yaml

from ..test_flagship import RECIPE, world  # noqa: F401 - `world` is a fixture
from .conftest import axe_violations, problems, screenshot
from .keyboard import create_account, sign_in

WORDS = {
    "en": {"preview": "Preview the recipe", "count": "/ 500 characters", "recipients": "2 recipients",
           "done": "3 steps previewed. Nothing was sent.", "json": "The event is not valid JSON",
           "failed": "This step could not be previewed", "field": "In the field “subject”"},
    "fr": {"preview": "Prévisualiser la recette", "count": "/ 500 caractères", "recipients": "2 destinataires",
           "done": "3 étapes prévisualisées. Aucun envoi n’a eu lieu.", "json": "L’événement n’est pas du JSON valide",
           "failed": "Cette étape n’a pas pu être prévisualisée", "field": "Dans le champ « subject »"},
}


def set_up(served, world) -> None:
    """The flagship's connections on the local servers, the press list (two of three consented), the recipe and a
    copy of it whose newsletter subject names a field the event does not have."""
    api = httpx.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {served.token}"},
                       trust_env=False, timeout=30)
    for name, kind, config in (
            ("city-mastodon", "mastodon", {"base_url": world["mastodon"].url, "access_token": "tok-city"}),
            ("city-bluesky", "bluesky", {"service": world["bluesky"].url, "handle": "city.bsky.social",
                                         "app_password": "app-pass-1234"}),
            ("city-smtp", "smtp", {"host": "127.0.0.1", "port": world["smtp"].port, "security": "none",
                                   "from_address": "communication@ville.example", "from_name": "Ville"}),
            ("city-matomo", "matomo", {"base_url": world["matomo"].url, "site_id": 1})):
        assert api.post("/api/connections", json={"name": name, "type": kind, "config": config}).status_code == 201
    for email, consent in (("ann@presse.example", True), ("bob@presse.example", True), ("cyd@presse.example", False)):
        assert api.post("/api/crm/contacts", json={"email": email, "consent": consent,
                                                   "consent_source": "press form"}).status_code == 201
        assert api.post("/api/crm/lists/press/members", json={"email": email}).status_code in (200, 201)
    recipe = yaml.safe_load(RECIPE.read_text())
    recipe["trigger"]["with"]["feed_url"] = world["feed"].url("/feed.atom")
    assert api.post("/api/recipes", json=recipe).status_code == 201
    broken = copy.deepcopy(recipe)
    broken.update(name="broken-subject", title="Broken subject")
    broken["steps"][1]["with"]["subject"] = "{{ trigger.headline }}"
    assert api.post("/api/recipes", json=broken).status_code == 201




def press(page, name: str) -> None:
    """Reach a button by the keyboard (focus it, as Tab would) and press Enter."""
    page.get_by_role("button", name=name, exact=True).focus()
    page.keyboard.press("Enter")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_preview_the_flagship_with_the_keyboard(served, page, world, language):
    words = WORDS[language]
    create_account(served, "anne@ville.example")
    set_up(served, world)
    sign_in(page, served, "anne@ville.example", language=language)

    page.goto(served.url("/recipes/blog-to-social/test"))
    assert axe_violations(page) == []
    screenshot(page, f"testing-test-{language}")

    press(page, words["preview"])
    page.wait_for_url("**/recipes/blog-to-social/test?run=*")
    page.get_by_role("status").filter(has_text=words["done"]).wait_for()
    mastodon = page.locator(".post-preview.network-mastodon")
    assert words["count"] in mastodon.locator(".count").inner_text()
    assert words["recipients"] in page.locator(".email-preview .recipients").inner_text()
    assert page.locator("iframe.email-body").count() == 0  # the flagship's newsletter is plain text
    assert axe_violations(page) == []
    screenshot(page, f"testing-preview-{language}")
    assert world["mastodon"].requests == [] and world["bluesky"].requests == []
    assert world["mailbox"].per_connection == {} and world["matomo"].requests == []

    # an event with a JSON error: the summary links to the field, which keeps the text
    page.locator("#event").focus()
    page.keyboard.press("Control+End")
    page.keyboard.type(" oops")
    press(page, words["preview"])
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert words["json"] in summary.inner_text()
    assert page.locator("#event").get_attribute("aria-invalid") == "true"
    assert page.locator("#event").input_value().endswith(" oops")
    assert axe_violations(page) == []
    screenshot(page, f"testing-error-{language}")

    # a step that fails: its error, its step and its field
    page.goto(served.url("/recipes/broken-subject/test"))
    press(page, words["preview"])
    page.wait_for_url("**/recipes/broken-subject/test?run=*")
    error = page.locator(".step-error")
    error.wait_for()
    assert words["failed"] in error.inner_text() and words["field"] in error.inner_text()
    assert axe_violations(page) == []
    screenshot(page, f"testing-step-error-{language}")
    # the refused form was answered 400, which Chromium logs; nothing else may be logged
    assert [p for p in problems(page) if "status of 400" not in p] == []


def test_an_html_e_mail_is_shown_in_a_sandbox_that_runs_no_script_and_loads_nothing(served, page):
    create_account(served, "anne@ville.example")
    api = httpx.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {served.token}"},
                       trust_env=False, timeout=30)
    html = ('<h1 style="color: red">Hello</h1><img src="https://tracker.example/pixel.png" alt="">'
            '<script>parent.document.title = "script ran"</script><p>Read <a href="https://www.ville.example/">more</a></p>')
    recipe = {"name": "html-mail", "title": "HTML mail", "trigger": {"uses": "builtins.manual", "sample": {"n": 1}},
              "steps": [{"id": "mail", "uses": "email.send",
                         "with": {"to": "ann@presse.example", "subject": "Hello", "html": html}}]}
    assert api.post("/api/recipes", json=recipe).status_code == 201
    sign_in(page, served, "anne@ville.example", language="en")
    page.goto(served.url("/recipes/html-mail/test"))
    press(page, "Preview the recipe")
    page.wait_for_url("**/recipes/html-mail/test?run=*")
    frame = page.locator("iframe.email-body")
    frame.wait_for()
    assert frame.get_attribute("sandbox") == ""
    assert "1 recipient" in page.locator(".email-preview .recipients").inner_text()
    body = page.frame_locator("iframe.email-body").locator("h1")
    assert body.inner_text() == "Hello"  # the message is shown…
    assert body.evaluate("e => getComputedStyle(e).color") != "rgb(255, 0, 0)"  # …without its inline style
    assert "script ran" not in page.title()
    assert axe_violations(page) == []
    screenshot(page, "testing-html-email-en")
    # the tracker image was refused by the page's policy before any request (the `page` fixture fails the test
    # on a request leaving loopback); what Chromium logs here is the policy and the sandbox refusing its extras
    seen = problems(page)
    assert seen and all("Content Security Policy" in p or "frame is sandboxed" in p for p in seen), seen
    assert any("frame is sandboxed and the 'allow-scripts' permission is not set" in p for p in seen), seen
