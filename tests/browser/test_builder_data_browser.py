"""The builder's data-insert panel, loaded when opened, in real Chromium with the keyboard, in French and English:
a step's panel opened, the trigger's title inserted at the cursor of the step's field, announced politely; the page
listing a step's data (the panel without JavaScript) and its way back to the step; axe-core finds no WCAG 2.1 A/AA
violation on either page."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import axe_violations, problems, screenshot
from .keyboard import create_account, press, sign_in, type_into

ROOT = Path(__file__).resolve().parent.parent.parent
TEXTS = {"fr": {"title": "Déclencheur › Titre", "inserted": "Inséré : Déclencheur › Titre",
                "heading": "Données pour l’étape 2 : newsletter", "back": "Retour à l’étape 2"},
         "en": {"title": "Trigger › Title", "inserted": "Inserted: Trigger › Title",
                "heading": "Data for step 2: newsletter", "back": "Back to step 2"}}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_steps_panel_loads_when_opened_and_inserts_at_the_cursor(served, page, language):
    texts = TEXTS[language]
    shutil.copy(ROOT / "recipes" / "blog-to-social.yaml", served.folder / "recipes")
    create_account(served, "anne@ville.example")
    page.context.add_cookies([{"name": "beffroi_lang", "value": language, "url": served.url("/")}])
    sign_in(page, served, "anne@ville.example")
    page.goto(served.url("/recipes/new"))
    type_into(page, "name", "city-blog")
    page.locator("#start-blog-to-social").check()
    press(page, "#name")
    page.wait_for_url(re.compile(r"/recipes/city-blog/edit"))
    panel = page.locator('[id="steps[1]-insert"]')
    assert panel.locator("[data-insert]").count() == 0  # not in the page until opened
    assert axe_violations(page) == []

    type_into(page, "steps[1].with.subject", "News: ")
    panel.locator("summary").focus()
    page.keyboard.press("Enter")  # opens the panel: its list is fetched
    button = panel.get_by_role("button", name=texts["title"], exact=True)
    expect(button).to_be_visible()
    assert panel.locator('button[data-insert="{{ steps.announce.results[0].url }}"]').count() == 1
    assert panel.locator('button[data-insert^="{{ steps.newsletter"]').count() == 0  # earlier steps only
    button.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "steps[1].with.subject"
    assert page.locator('[id="steps[1].with.subject"]').input_value() == "News: {{ trigger.title }}"
    panel.locator("[data-insert-status]").filter(has_text=texts["inserted"]).wait_for()
    assert axe_violations(page) == []
    screenshot(page, f"builder-data-panel-{language}")

    # the panel without JavaScript: a page of its own, with the way back to the step
    page.goto(served.url("/recipes/city-blog/edit/data?step=1"))
    expect(page.locator("h1")).to_have_text(texts["heading"])
    assert page.locator("code", has_text="{{ trigger.title }}").count() == 1
    assert axe_violations(page) == []
    screenshot(page, f"builder-data-page-{language}")
    press(page, f'a:has-text("{texts["back"]}") >> nth=0')
    page.wait_for_url(re.compile(r"/recipes/city-blog/edit#card-1$"))
    assert problems(page) == []
