"""The day-one recipes of DESIGN.md built from a blank with the keyboard only, then previewed, run and followed to
their results in real Chromium (the flagship, recipe 1, has its own test: test_flagship_browser.py; the approval and
the publish window: test_workspace_browser.py).

Recipe 2, in French: a citizen subscribes through the website form (a webhook) → the contact is created with their
consent, its date, source and text → added to the newsletter list → a welcome e-mail; then the form posts and the
contact's page shows the consent history.
Recipe 3, in English: every Monday at 9:00 → last week's publications and their figures → a summary e-mail to the
team. A publication is made first through the API, so the summary has one to tell. axe-core finds no WCAG 2.1 A/AA
violation on any page visited; screenshots at each step."""
from __future__ import annotations

import re

import httpx

from .builder_keys import activate, add_step, checked, choose_trigger, insert, skip_to_main, tab_to, type_in
from .conftest import problems
from .keyboard import create_account, sign_in

PUBLISHED = {"name": "fete", "trigger": {"uses": "builtins.manual"}, "steps": [
    {"id": "post", "uses": "smms.publish", "with": {"text": "Fête de la musique ce samedi"}},
    {"id": "track", "uses": "analytics.track_event", "with": {"name": "click", "campaign": "fete-2026"}}]}


def api(served) -> httpx.Client:
    return httpx.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {served.token}"},
                        trust_env=False, timeout=30)


def new_recipe(page, served, name: str, title: str) -> None:
    """"New recipe" from the home page, from a blank."""
    activate(page, 'a[href="/recipes/new"]')
    page.wait_for_url(served.url("/recipes/new"))
    skip_to_main(page)
    tab_to(page, "#name")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(title)
    tab_to(page, "#start-blank")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/recipes/{name}/edit\?done=created"))


def save(page) -> None:
    tab_to(page, 'button[value="save"]:not(.default-action)')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"done=saved&version=1"))


def run_now(page, served, name: str) -> None:
    """The recipe's runs, "Run now" with the trigger's sample, and the run page followed until the run ends."""
    page.goto(served.url(f"/recipes/{name}/run"))
    activate(page, "form.run-now button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/"))
    page.locator('#run-summary[data-status="succeeded"]').wait_for(timeout=60_000)


def test_the_monday_summary_to_the_team_is_built_previewed_run_and_seen_in_the_results(served, page):
    create_account(served, "anne@ville.example")
    with api(served) as client:
        assert client.post("/api/recipes", json=PUBLISHED).status_code == 201
        assert client.post("/api/recipes/fete/runs?wait=true", json={}).status_code in (200, 201)
    sign_in(page, served, "anne@ville.example", language="en")
    new_recipe(page, served, "monday-summary", "Monday 9:00 → last week's publications → the team")

    choose_trigger(page, "schedule", "builtins.schedule")
    type_in(page, "trigger.schedule", "0 9 * * 1")
    add_step(page, "sum up", "analytics.report", "report", 0)
    add_step(page, "e-mail", "email.send", "send", 1)
    type_in(page, "steps[1].with.to", "communication@ville.example")
    type_in(page, "steps[1].with.subject", "Last week: ")
    insert(page, 1, "subject", "{{ steps.report.first_day }}")
    type_in(page, "steps[1].with.text", "")
    page.keyboard.press("End")
    insert(page, 1, "text", "{{ steps.report.text }}")
    checked(page, "dayone-3-built-en")
    save(page)
    checked(page, "dayone-3-saved-en")

    # the preview: the e-mail the team would get, with last week's publications (none yet: the days end yesterday)
    page.goto(served.url("/recipes/monday-summary/test"))
    activate(page, "#preview-form button[type=submit]")
    page.wait_for_url(re.compile(r"/recipes/monday-summary/test\?run="))
    mail = page.locator("#step-send .email-preview")
    mail.wait_for()
    assert "Publications from" in mail.inner_text() and "1 recipient" in mail.locator(".recipients").inner_text()
    checked(page, "dayone-3-preview-en")

    run_now(page, served, "monday-summary")
    checked(page, "dayone-3-run-en")
    # followed to its results: the summary e-mail is a publication of its own, kept in the outbox
    activate(page, 'a[href="/results"]')
    page.wait_for_url(served.url("/results"))
    row = page.locator("tr", has=page.locator('a[href^="/runs/"]')).filter(has_text="monday-summary")
    assert "E-mail" in row.inner_text() and "recorded in the outbox" in row.inner_text()
    checked(page, "dayone-3-results-en")
    assert problems(page) == []


SECRET = "a-long-shared-token-for-the-website-form"


def test_the_sign_up_form_recipe_is_built_in_french_and_a_delivery_records_the_consent(served, page):
    create_account(served, "anne@ville.example")
    sign_in(page, served, "anne@ville.example", language="fr")
    new_recipe(page, served, "inscription", "Formulaire d’inscription → contact → lettre → bienvenue")

    choose_trigger(page, "webhook", "builtins.webhook")
    type_in(page, "trigger.with.secret", SECRET)
    add_step(page, "crm.upsert_contact", "crm.upsert_contact", "contact", 0)
    type_in(page, "steps[0].with.email", "{{ trigger.email }}")
    tab_to(page, '[id="steps[0].with.consent-none"]')  # the radio group, on its choice "empty"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # "yes": the form posts only with its box ticked
    assert page.locator('[id="steps[0].with.consent"]').is_checked()
    type_in(page, "steps[0].with.consent_source", "formulaire du site")
    type_in(page, "steps[0].with.consent_text", "J’accepte de recevoir la lettre d’information de la ville.")
    add_step(page, "crm.add_to_list", "crm.add_to_list", "subscribe", 1)
    type_in(page, "steps[1].with.email", "{{ steps.contact.email }}")
    type_in(page, "steps[1].with.list", "lettre")
    add_step(page, "email.send", "email.send", "welcome", 2)
    type_in(page, "steps[2].with.to", "{{ steps.contact.email }}")
    type_in(page, "steps[2].with.subject", "Bienvenue")
    type_in(page, "steps[2].with.text", "Merci pour votre inscription à notre lettre d’information.")
    checked(page, "dayone-2-built-fr")
    tab_to(page, "#enabled", back=True)  # a new recipe starts disabled: enabled, its webhook answers
    page.keyboard.press("Space")
    assert page.locator("#enabled").is_checked()
    save(page)
    checked(page, "dayone-2-saved-fr")

    # the website form posts; its run is followed on the recipe's runs
    with httpx.Client(base_url=served.base_url, trust_env=False, timeout=30) as web:
        answer = web.post("/hooks/inscription", json={"email": "Nina@Exemple.be"}, headers={"X-Beffroi-Token": SECRET})
    assert answer.status_code == 202, answer.text
    page.goto(served.url(f"/runs/{answer.json()['run']}"))
    page.locator('#run-summary[data-status="succeeded"]').wait_for(timeout=60_000)
    checked(page, "dayone-2-run-fr")

    # the contact, with the consent's date, source and text
    page.goto(served.url("/contacts?q=nina"))
    activate(page, 'main a[href^="/contacts/"]:not([href="/contacts/import"])')
    page.wait_for_url(re.compile(r"/contacts/[^/?]+$"))
    history = page.locator("table.consents").inner_text()
    assert "formulaire du site" in history and "J’accepte de recevoir" in history
    assert "lettre" in page.locator("main").inner_text()
    checked(page, "dayone-2-contact-fr")
    assert [p for p in problems(page) if "status of 400" not in p] == []
