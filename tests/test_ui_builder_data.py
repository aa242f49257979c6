"""The builder's data-insert panels, loaded lazily: each step card links to a small page listing what the step can
insert (the trigger's data and the earlier steps' outputs), which JavaScript fetches as a fragment; the builder's
HTML grows in proportion to its steps."""
from __future__ import annotations

import re
import shutil

import pytest

from .test_ui_builder import EDITOR, ROOT, act, english
from .ui_helpers import ui  # noqa: F401


def chained(count: int) -> list[dict]:
    """`count` steps, each using the previous one's output (as bench/ui_pages.py's recipe of 50 steps)."""
    return [{"id": f"s{i}", "uses": "data.set",
             "with": {"title": "{{ trigger.title }}" if i == 0 else f"{{{{ steps.s{i - 1}.title }}}} ({i})"}}
            for i in range(count)]


@pytest.fixture
def editor(ui):
    shutil.copytree(ROOT / "recipes", ui.engine.settings.recipes_dir, dirs_exist_ok=True)
    for count in (2, 10, 50):
        ui.engine.save_recipe({"name": f"steps-{count}", "title": f"{count} steps",
                               "trigger": {"uses": "builtins.manual"}, "steps": chained(count)})
    return english(ui, EDITOR)


def test_the_builder_grows_in_proportion_to_its_steps(editor):
    sizes = {count: len(editor.get(f"/recipes/steps-{count}/edit").content) for count in (2, 10, 50)}
    print("builder page size in bytes by number of steps:", sizes)
    per_step = (sizes[10] - sizes[2]) / 8
    assert sizes[50] - sizes[10] <= 40 * per_step * 1.1  # linear: the 40 steps more cost as the 8 before them
    assert sizes[50] < 600_000


def test_the_builder_holds_no_list_of_data_only_a_way_to_it(editor):
    page = editor.get("/recipes/steps-10/edit")
    assert "data-insert=" not in page.text and "insert-item" not in page.text  # no list inline
    assert page.text.count("data-insert-source=") == 10
    assert 'data-insert-source="/recipes/steps-10/edit/data?step=3"' in page.text
    assert re.search(r'<button type="submit" name="action" value="data:3"[^>]*>Show the data this step can insert',
                     page.text)


def test_without_javascript_the_panel_keeps_the_draft_then_shows_the_steps_data(editor, ui):
    answer = act(editor, "steps-10", "data:3", **{"steps[3].with.more": "title: Typed, then the data asked for"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/recipes/steps-10/edit/data?step=3"
    draft = ui.engine.drafts.get("steps-10", ui.engine.users.get(EDITOR).id)
    assert draft.definition["steps"][3]["with"]["title"] == "Typed, then the data asked for"
    page = editor.get(answer.headers["location"])
    assert page.status_code == 200
    assert "<h1>Data for step 4: s3</h1>" in page.text
    assert page.text.count('href="/recipes/steps-10/edit#card-3"') == 2  # back to the step, at the top and bottom
    assert '<th scope="col">Expression to copy</th>' in page.text and "<caption>" in page.text
    assert "<code>{{ trigger.name }}</code>" in page.text


def test_a_step_offers_the_data_of_the_trigger_and_earlier_steps_only(editor):
    page = editor.get("/recipes/steps-10/edit/data?step=3")
    for earlier in ("s0", "s1", "s2"):
        assert f"<code>{{{{ steps.{earlier} }}}}</code>" in page.text
    for later in ("s3", "s4", "s9"):
        assert f"steps.{later}" not in page.text
    assert "{{ trigger." in page.text
    first = editor.get("/recipes/steps-10/edit/data?step=0")
    assert "{{ trigger." in first.text and "{{ steps." not in first.text


def test_the_fragment_is_the_list_alone_with_its_insert_buttons(editor):
    part = editor.get("/recipes/steps-10/edit/data?step=2&fragment=1")
    assert part.status_code == 200
    assert "<html" not in part.text and "<form" not in part.text
    assert '<button type="button" class="insert-button" data-insert="{{ trigger.name }}" hidden>' in part.text
    assert 'data-insert="{{ steps.s1 }}"' in part.text and "steps.s2" not in part.text
    assert 'id="steps[2]-insert-1"' in part.text  # the groups named after the step card's panel
    assert "script-src 'self'" in part.headers["content-security-policy"]


def test_the_data_of_a_step_is_for_editors_and_of_known_steps_only(editor, ui):
    viewer = english(ui, "viewer@example.org")
    assert viewer.get("/recipes/steps-10/edit/data?step=1").status_code == 403
    assert viewer.get("/recipes/steps-10/edit/data?step=1&fragment=1").status_code == 403
    for odd in ("10", "99", "-1", "x", ""):
        answer = editor.get(f"/recipes/steps-10/edit/data?step={odd}")
        assert answer.status_code == 404, odd
        assert "This recipe has no such step." in answer.text
    assert editor.get("/recipes/nothing/edit/data?step=0").status_code == 404
    assert act(editor, "steps-10", "data:10").headers["location"] == "/recipes/steps-10/edit?done=kept"


def test_the_data_page_speaks_french(ui, editor):
    french = ui.client(signed_in=EDITOR, headers={"Accept-Language": "fr"})
    page = french.get("/recipes/steps-10/edit/data?step=1")
    assert "Données pour l’étape 2" in page.text and "Retour à l’étape 2" in page.text
