"""The ecm trigger and actions in the builder: each form renders in English and French, and a recipe built there
with them is saved (plain forms, no JavaScript)."""
from __future__ import annotations

import pytest

from .test_ui_builder import act, choose, new_recipe
from .ui_helpers import ui  # noqa: F401

EDITOR = "editor@example.org"
ACTIONS = ["ecm.extract_text", "ecm.get", "ecm.upload", "ecm.move"]


@pytest.mark.parametrize("language, texts", [
    ("en", ["New document in a folder", "Extract a document's text", "File names", "To folder"]),
    ("fr", ["Nouveau document dans un dossier", "Extraire le texte d’un document", "Noms de fichiers",
            "Vers le dossier"])])
def test_the_builder_shows_the_ecm_forms(ui, language, texts):
    browser = ui.client(signed_in=EDITOR, headers={"Accept-Language": language})
    new_recipe(browser)
    page = browser.get(choose(browser, "news", "trigger", "ecm.document_added").headers["location"])
    for at, uses in enumerate(ACTIONS):
        answer = choose(browser, "news", at - 1, uses)
        assert answer.status_code == 303, answer.text
        page = browser.get(answer.headers["location"])
    assert page.status_code == 200
    for text in texts:
        assert text.replace("'", "&#39;") in page.text or text in page.text, text
    assert 'id="trigger.with.pattern"' in page.text and 'id="steps[3].with.to_folder"' in page.text


def test_a_recipe_built_with_them_is_saved(ui):
    browser = ui.client(signed_in=EDITOR, headers={"Accept-Language": "en"})
    new_recipe(browser)
    browser.get(choose(browser, "news", "trigger", "ecm.document_added").headers["location"])
    page = browser.get(choose(browser, "news", -1, "ecm.move").headers["location"])
    answer = act(browser, "news", "save", page=page, **{"trigger.with.folder": "Communiqués",
                                                        "steps[0].with.path": "Communiqués/x.docx",
                                                        "steps[0].with.to_folder": "Publié"})
    assert answer.status_code == 303, answer.text
    recipe, _ = ui.engine.recipes.get("news")
    assert recipe.trigger.uses == "ecm.document_added" and recipe.trigger.with_["folder"] == "Communiqués"
    assert recipe.steps[0].with_ == {"path": "Communiqués/x.docx", "to_folder": "Publié"}
