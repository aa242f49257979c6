"""The builder in real Chromium, with the keyboard only, in French and in English: a two-step recipe built from a
blank (the catalog's chooser for each step), a step moved and the move heard in the live region with the focus on
the moved card, a validation error beside its field, saving a version, the YAML tab's round trip; axe-core finds no
WCAG 2.1 A/AA violation on the new-recipe page, the builder (also with errors) and the YAML tab."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import axe_violations, problems, screenshot
from .keyboard import create_account, press, sign_in, type_into

TEXTS = {
    "fr": {"moved": "Étape « set » déplacée en position 1.", "saved": "Enregistrée comme version 1.",
           "error": "Identifiant de l’étape"},
    "en": {"moved": "Step “set” moved to position 1.", "saved": "Saved as version 1.", "error": "Step id"},
}








def live_region(page) -> str:
    return page.locator("#builder-announce").inner_text().strip()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_build_a_two_step_recipe_with_the_keyboard_only(served, page, language):
    texts = TEXTS[language]
    create_account(served, "anne@ville.example")
    page.context.add_cookies([{"name": "beffroi_lang", "value": language, "url": served.url("/")}])
    sign_in(page, served, "anne@ville.example")

    # a new, blank recipe
    page.goto(served.url("/recipes/new"))
    assert axe_violations(page) == []
    screenshot(page, f"builder-new-{language}")
    type_into(page, "name", "city-news")
    page.keyboard.press("Tab")
    page.keyboard.type("City news")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/recipes/city-news/edit"))
    assert page.locator('[name="steps.count"]').get_attribute("value") == "0"

    # the first step: social media, chosen in the catalog
    press(page, 'button[value="add:-1"]')
    page.wait_for_url(re.compile(r"/edit/choose\?at=-1"))
    press(page, 'button[name="uses"][value="smms.publish"]')
    page.wait_for_url(re.compile(r"done=added"))
    assert page.evaluate("document.activeElement.id") == "steps[0]"  # the new card has the focus
    type_into(page, "steps[0].with.text", "{{ trigger.title }}")
    # the second step below it
    press(page, 'button[value="add:0"]')
    page.wait_for_url(re.compile(r"/edit/choose\?at=0"))
    press(page, 'button[name="uses"][value="data.set"]')
    page.wait_for_url(re.compile(r"done=added&at=1"))
    type_into(page, "steps[1].with.more", "slug: news")
    # kept automatically while typing: a reload finds it
    expect(page.locator("[data-autosave-status]")).not_to_have_text("", timeout=15000)
    page.reload()
    assert page.locator('[id="steps[1].with.more"]').input_value().strip() == "slug: news"
    assert page.locator('[id="steps[0].with.text"]').input_value() == "{{ trigger.title }}"
    assert axe_violations(page) == []
    screenshot(page, f"builder-two-steps-{language}")

    # move the second step up: done in place, the live region says so, the moved card has the focus
    press(page, 'button[value="move-up:1"]')
    expect(page.locator("#builder-announce")).to_have_text(texts["moved"])
    assert page.evaluate("document.activeElement.id") == "steps[0]"
    assert page.locator('[id="steps[0].id"]').input_value() == "set"
    assert page.locator('[id="steps[1].with.text"]').input_value() == "{{ trigger.title }}"  # nothing typed lost
    # the data-insert panel of the page shown in place works: its buttons insert at the cursor
    panel = page.locator('[id="steps[1]-insert"]')
    panel.locator("summary").focus()
    page.keyboard.press("Enter")
    button = panel.locator('button[data-insert="{{ trigger.name }}"]')
    expect(button).to_be_visible()

    # a validation error, beside its field and in the summary
    type_into(page, "steps[0].id", "bad id")
    press(page, 'button[value="save"]:not(.default-action)')
    summary = page.locator(".error-summary")
    summary.wait_for()
    field = page.locator('[id="steps[0].id"]')
    assert field.get_attribute("aria-invalid") == "true"
    assert "steps[0].id-error" in field.get_attribute("aria-describedby")
    assert field.input_value() == "bad id"
    assert summary.locator('a[href="#steps[0].id"]').count() == 1
    assert axe_violations(page) == []
    screenshot(page, f"builder-error-{language}")

    # fixed, then saved as version 1
    type_into(page, "steps[0].id", "set")
    press(page, 'button[value="save"]:not(.default-action)')
    page.wait_for_url(re.compile(r"done=saved&version=1"))
    assert live_region(page) == texts["saved"]

    # the YAML tab shows the same recipe; a change there comes back to the builder
    press(page, 'a[href="/recipes/city-news/edit/yaml"]')
    page.wait_for_url(re.compile(r"/edit/yaml$"))
    text = page.locator("#yaml").input_value()
    assert "uses: data.set" in text and "slug: news" in text and "{{ trigger.title }}" in text
    assert axe_violations(page) == []
    screenshot(page, f"builder-yaml-{language}")
    page.locator("#yaml").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(text.replace("title: City news", "title: City news, from YAML"))
    press(page, 'button[value="apply"]')
    page.wait_for_url(re.compile(r"/edit/yaml$"))
    press(page, 'a[href="/recipes/city-news/edit"]')
    page.wait_for_url(re.compile(r"/recipes/city-news/edit$"))
    assert page.locator("#title").input_value() == "City news, from YAML"
    press(page, 'button[value="keep"]:not(.default-action)')  # through the builder's form
    page.wait_for_url(re.compile(r"done=kept"))
    press(page, 'a[href="/recipes/city-news/edit/yaml"]')
    page.wait_for_url(re.compile(r"/edit/yaml$"))
    assert page.locator("#yaml").input_value() == text.replace("title: City news", "title: City news, from YAML")
    # the refused save is answered 400 with the page again, which Chromium logs; nothing else may be logged
    assert [p for p in problems(page) if "status of 400" not in p] == []
