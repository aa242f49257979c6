"""The builder without JavaScript: a new recipe (blank or from an example), every action as a plain form post over
the person's draft, validation problems beside their fields with what was typed kept, saving a version, drafts that
survive, the YAML tab, and refusals (viewers, forms without their token)."""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
import yaml

from .form_helpers import as_data, form_fields, with_values
from .ui_helpers import token_of, ui  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
EDITOR = "editor@example.org"


@pytest.fixture
def editor(ui):
    """An editor's browser, with the repository's examples in the installation's recipes folder."""
    shutil.copytree(ROOT / "recipes", ui.engine.settings.recipes_dir, dirs_exist_ok=True)
    return english(ui, EDITOR)


def english(ui, email):
    """A browser asking for pages in English, signed in as `email`."""
    return ui.client(signed_in=email, headers={"Accept-Language": "en"})


def new_recipe(client, name="news", title="News of the city", start="blank"):
    page = client.get("/recipes/new")
    return client.post("/recipes/new", data={"csrf": token_of(page), "name": name, "title": title, "start": start},
                       follow_redirects=False)


def act(client, name, action, page=None, **changes):
    """Post the builder's whole form as the page shows it, with some values changed, by pressing `action`."""
    page = page or client.get(f"/recipes/{name}/edit")
    fields = with_values(form_fields(page.text, "builder"), **changes)
    return client.post(f"/recipes/{name}/edit", data=as_data([*fields, ("action", action)]), follow_redirects=False)


def choose(client, name, at, uses):
    """What the catalog's chooser posts: a step below step `at` (or the trigger)."""
    token = token_of(client.get(f"/recipes/{name}/edit"))
    return client.post(f"/recipes/{name}/edit", data={"csrf": token, "action": "choose", "at": str(at), "uses": uses},
                       follow_redirects=False)


def field(page, field_id: str) -> str:
    """The HTML of the element with this id (its opening tag)."""
    match = re.search(rf'<[a-z0-9]+ [^>]*id="{re.escape(field_id)}"[^>]*>', page.text)
    assert match, f"no element #{field_id}"
    return match.group(0)


def announced(page) -> str:
    match = re.search(r'<div id="builder-announce"[^>]*>(.*?)</div>', page.text, re.S)
    assert match
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_a_blank_recipe_starts_by_hand_with_no_step(editor):
    page = editor.get("/recipes/new")
    assert page.status_code == 200
    assert "Say hello" in page.text and "New blog post → Mastodon and Bluesky" in page.text  # the examples' titles
    answer = new_recipe(editor)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/recipes/news/edit")
    page = editor.get(answer.headers["location"])
    assert page.status_code == 200
    assert "Started by hand or by another system" in page.text
    assert 'name="steps.count" value="0"' in page.text
    assert "There is no step yet" in page.text


def test_the_name_is_checked_as_the_recipe_format_requires_and_must_be_free(editor, ui):
    answer = new_recipe(editor, name="Blog To Social", title="Mine")
    assert answer.status_code == 400
    assert 'aria-invalid="true"' in field(answer, "name") and "name-error" in field(answer, "name")
    assert 'href="#name"' in answer.text  # the error summary links to it
    assert 'value="Blog To Social"' in answer.text and 'value="Mine"' in answer.text  # what was typed is kept
    assert new_recipe(editor, name="news").status_code == 303
    again = new_recipe(editor, name="news")  # the person's own unsaved draft holds the name
    assert again.status_code == 400 and "already have an unsaved recipe" in again.text
    ui.engine.save_recipe(yaml.safe_load((ROOT / "recipes/hello.yaml").read_text()))
    taken = new_recipe(editor, name="hello")
    assert taken.status_code == 400 and "A recipe named hello already exists" in taken.text


def test_a_recipe_from_an_example_opens_with_its_steps(editor):
    answer = new_recipe(editor, name="greetings", title="", start="hello")
    page = editor.get(answer.headers["location"])
    assert 'name="steps.count" value="2"' in page.text
    assert 'value="greet"' in field(page, "steps[0].id") and 'value="shout"' in field(page, "steps[1].id")
    assert "Say hello" in page.text  # the example's title when none is given
    assert "Hello {{ trigger.name | default(&#39;world&#39;) }}!" in page.text
    assert 'value="trigger.loud | default(false)"' in field(page, "steps[1].if")


def test_every_action_works_without_javascript(editor, ui):
    new_recipe(editor)
    # "add a step" goes to the catalog's chooser, keeping the form first
    answer = act(editor, "news", "add:-1", title="News, retitled")
    assert answer.headers["location"] == "/recipes/news/edit/choose?at=-1"
    assert 'value="News, retitled"' in editor.get("/recipes/news/edit").text
    # the chooser's answer inserts the step
    answer = choose(editor, "news", -1, "data.set")
    assert answer.headers["location"] == "/recipes/news/edit?done=added&at=0"
    page = editor.get(answer.headers["location"])
    assert announced(page) == "Step “set” added at position 1."
    assert "autofocus" in field(page, "steps[0]")
    answer = choose(editor, "news", 0, "smms.publish")
    page = editor.get(answer.headers["location"])
    assert 'value="publish"' in field(page, "steps[1].id")
    # move down, then up: announced, the moved card focused
    answer = act(editor, "news", "move-down:0", page=page)
    page = editor.get(answer.headers["location"])
    assert announced(page) == "Step “set” moved to position 2."
    assert "autofocus" in field(page, "steps[1]") and 'value="set"' in field(page, "steps[1].id")
    answer = act(editor, "news", "move-up:1", page=page)
    page = editor.get(answer.headers["location"])
    assert announced(page) == "Step “set” moved to position 1."
    # delete: announced, the focus on the card now in its place
    answer = act(editor, "news", "delete:0", page=page)
    page = editor.get(answer.headers["location"])
    assert announced(page) == "Step “set” deleted."
    assert 'name="steps.count" value="1"' in page.text and "autofocus" in field(page, "steps[0]")
    # the trigger: to the chooser, then the chooser's answer
    assert act(editor, "news", "trigger").headers["location"] == "/recipes/news/edit/choose?at=trigger"
    page = editor.get(choose(editor, "news", "trigger", "builtins.schedule").headers["location"])
    assert "The recipe now starts with: On a schedule." == announced(page)
    assert 'id="trigger.schedule"' in page.text
    # an editor is told to ask an administrator for a connection
    page = editor.get(choose(editor, "news", 1, "email.send").headers["location"])
    assert "ask an administrator of Beffroi to create the connection" in page.text
    assert 'value="connect:smtp"' not in page.text
    # keep the draft (Enter in a field does this too)
    answer = act(editor, "news", "keep", **{"steps[0].with.text": "Hello"})
    assert announced(editor.get(answer.headers["location"])) == "The draft is kept. Save the recipe when it is ready."


def test_an_administrator_creates_a_connection_from_the_builder_and_comes_back(ui):
    admin = english(ui, "admin@example.org")
    new_recipe(admin)
    page = admin.get(choose(admin, "news", -1, "smms.publish").headers["location"])
    assert 'value="connect:mastodon"' in page.text
    answer = act(admin, "news", "connect:mastodon", page=page, **{"steps[0].with.text": "Typed"})
    assert answer.headers["location"] == "/connections/new?type=mastodon&next=%2Frecipes%2Fnews%2Fedit"
    assert "Typed" in admin.get("/recipes/news/edit").text  # the form was kept first


def test_saving_a_blank_recipe_says_a_step_is_needed(editor):
    new_recipe(editor)
    answer = act(editor, "news", "save", title="Typed title")
    assert answer.status_code == 400
    assert "Add at least one step" in answer.text and 'href="#steps"' in answer.text
    assert 'value="Typed title"' in field(answer, "title")


def test_validation_problems_are_shown_beside_their_fields_with_the_typed_data_kept(editor, ui):
    new_recipe(editor)
    choose(editor, "news", -1, "smms.publish")
    choose(editor, "news", 0, "data.set")
    answer = act(editor, "news", "save", **{"steps[0].id": "bad id", "steps[0].timeout": "soon",
                                            "steps[0].retry.attempts": "many",
                                            "steps[1].with.more": "text: '{{ steps.nowhere.url }}'"})
    assert answer.status_code == 400
    for place in ("steps[0].id", "steps[0].timeout", "steps[0].retry.attempts", "steps[0].with.text",
                  "steps[1].with.more"):
        tag = field(answer, place)
        assert 'aria-invalid="true"' in tag and f"{place}-error" in tag, place
        assert f'href="#{place}"' in answer.text, place  # in the error summary, linked
    assert 'value="bad id"' in field(answer, "steps[0].id")
    assert 'value="soon"' in field(answer, "steps[0].timeout")
    assert 'value="many"' in field(answer, "steps[0].retry.attempts")
    assert "refers to step &#39;nowhere&#39;, which does not exist" in answer.text
    assert "{{ steps.nowhere.url }}" in answer.text
    assert "<details class=\"advanced\" open>" in answer.text  # opened where a problem is
    assert ui.engine.recipes.list() == []


def test_saving_stores_a_new_version_and_ends_the_draft(editor, ui):
    new_recipe(editor)
    choose(editor, "news", -1, "data.set")
    page = editor.get("/recipes/news/edit")
    assert 'id="steps[0].with"' in page.text
    answer = act(editor, "news", "save", page=page, **{"steps[0].id": "greet"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/recipes/news/edit?done=saved&version=1"
    assert announced(editor.get(answer.headers["location"])) == "Saved as version 1."
    recipe, version = ui.engine.recipes.get("news")
    assert version == 1 and recipe.steps[0].id == "greet" and recipe.title == "News of the city"
    assert ui.engine.recipes.versions("news")[0]["author"] == EDITOR
    assert ui.engine.drafts.get("news", ui.engine.users.get(EDITOR).id) is None
    page = editor.get("/recipes/news/edit")
    assert "You are editing your draft" not in page.text  # the stored recipe, no draft
    answer = act(editor, "news", "save", page=page, title="News, second")
    assert answer.headers["location"].endswith("version=2")


def test_a_draft_survives_the_session_and_can_be_discarded(editor, ui):
    ui.engine.save_recipe(yaml.safe_load((ROOT / "recipes/hello.yaml").read_text()), author="api")
    page = editor.get("/recipes/hello/edit")
    assert "You are editing your draft" not in page.text  # opening writes nothing
    act(editor, "hello", "keep", page=page, title="Say hello, kindly")
    later = english(ui, EDITOR)  # another browser, another session
    page = later.get("/recipes/hello/edit")
    assert "You are editing your draft, last kept on" in page.text
    assert 'value="Say hello, kindly"' in field(page, "title")
    assert ui.engine.recipes.get("hello")[0].title == "Say hello"  # nothing saved
    other = english(ui, "admin@example.org")  # drafts are personal
    assert 'value="Say hello"' in field(other.get("/recipes/hello/edit"), "title")
    answer = later.post("/recipes/hello/edit", data={"csrf": token_of(page), "action": "discard"},
                        follow_redirects=False)
    assert answer.headers["location"] == "/recipes/hello/edit"
    assert 'value="Say hello"' in field(later.get("/recipes/hello/edit"), "title")


def test_a_version_saved_meanwhile_is_said(editor, ui):
    ui.engine.save_recipe(yaml.safe_load((ROOT / "recipes/hello.yaml").read_text()), author="api")
    act(editor, "hello", "keep", title="Mine")
    ui.engine.recipes.set_enabled("hello", False, author="someone")
    assert "Version 2 of this recipe was saved since you started this draft" in editor.get("/recipes/hello/edit").text


def test_the_yaml_tab_round_trips_the_same_recipe(editor, ui):
    new_recipe(editor, name="greetings", start="hello")
    page = editor.get("/recipes/greetings/edit/yaml")
    assert page.status_code == 200 and 'aria-current="page"' in page.text
    text = form_fields(page.text, "") or None  # (the YAML form has no id: read the textarea)
    text = re.search(r'<textarea id="yaml" name="yaml"[^>]*>\n(.*?)</textarea>', page.text, re.S).group(1)
    import html
    text = html.unescape(text)
    before = yaml.safe_load(text)
    answer = editor.post("/recipes/greetings/edit/yaml", data={"csrf": token_of(page), "yaml": text,
                                                               "action": "apply"}, follow_redirects=False)
    assert answer.status_code == 303
    # through the builder's form and back: the same recipe
    act(editor, "greetings", "keep")
    again = editor.get("/recipes/greetings/edit/yaml")
    after = yaml.safe_load(html.unescape(re.search(r'<textarea id="yaml" name="yaml"[^>]*>\n(.*?)</textarea>',
                                                   again.text, re.S).group(1)))
    assert ui.engine.validate(after).to_data() == ui.engine.validate(before).to_data()
    # saving from the YAML tab
    answer = editor.post("/recipes/greetings/edit/yaml", data={"csrf": token_of(page), "yaml": text,
                                                               "action": "save"}, follow_redirects=False)
    assert answer.headers["location"] == "/recipes/greetings/edit?done=saved&version=1"


def test_yaml_mistakes_are_located_and_the_text_is_kept(editor, ui):
    new_recipe(editor, name="greetings", start="hello")
    page = editor.get("/recipes/greetings/edit/yaml")
    broken = "name: greetings\ntrigger:\n  uses: builtins.manual\nsteps: [\n"
    answer = editor.post("/recipes/greetings/edit/yaml", data={"csrf": token_of(page), "yaml": broken,
                                                               "action": "apply"})
    assert answer.status_code == 400
    assert re.search(r"Line \d+, column \d+", answer.text)
    assert 'aria-invalid="true"' in field(answer, "yaml") and 'href="#yaml"' in answer.text
    assert "steps: [" in answer.text  # the typed text, kept
    assert 'value="greet"' in field(editor.get("/recipes/greetings/edit"), "steps[0].id")  # the draft unchanged
    invalid = ("name: greetings\ntitle: Hi\ntrigger:\n  uses: builtins.manual\nsteps:\n  - id: greet\n"
               "    uses: data.set\n  - id: shout\n    uses: data.sett\n")
    answer = editor.post("/recipes/greetings/edit/yaml", data={"csrf": token_of(page), "yaml": invalid,
                                                               "action": "apply"})
    assert answer.status_code == 400
    assert "Line 9 (steps[1].uses): unknown action &#39;data.sett&#39;" in answer.text
    assert "uses: data.sett" in answer.text
    # the draft holds it: nothing typed is lost
    assert "data.sett" in editor.get("/recipes/greetings/edit").text


def test_secrets_of_a_stored_recipe_stay_out_of_the_pages_and_are_kept(editor, ui):
    data = yaml.safe_load((ROOT / "recipes/signup-webhook.yaml").read_text())
    ui.engine.save_recipe(data, author="api")
    secret = data["trigger"]["with"]["secret"]
    for address in ("/recipes/signup/edit", "/recipes/signup/edit/yaml"):
        assert secret not in editor.get(address).text
    answer = act(editor, "signup", "save", title="Sign-up form")
    assert answer.status_code == 303, answer.text
    recipe, _ = ui.engine.recipes.get("signup")
    assert recipe.trigger.with_["secret"] == secret and recipe.title == "Sign-up form"
    user = ui.engine.users.get(EDITOR)
    act(editor, "signup", "keep")
    assert secret not in str(ui.engine.drafts.get("signup", user.id).definition)


def test_viewers_see_no_builder_and_their_writes_are_refused(ui):
    ui.engine.save_recipe(yaml.safe_load((ROOT / "recipes/hello.yaml").read_text()))
    viewer = ui.client(signed_in="viewer@example.org")
    token = token_of(viewer.get("/"))
    for address in ("/recipes/new", "/recipes/hello/edit", "/recipes/hello/edit/yaml"):
        assert viewer.get(address).status_code == 403
    assert viewer.post("/recipes/new", data={"csrf": token, "name": "x"}).status_code == 403
    assert viewer.post("/recipes/hello/edit", data={"csrf": token, "action": "save"}).status_code == 403
    assert viewer.post("/recipes/hello/edit/yaml", data={"csrf": token, "yaml": "x"}).status_code == 403


def test_forms_without_their_token_are_refused(editor, ui):
    ui.engine.save_recipe(yaml.safe_load((ROOT / "recipes/hello.yaml").read_text()))
    assert editor.post("/recipes/new", data={"name": "x", "start": "blank"}).status_code == 403
    assert editor.post("/recipes/hello/edit", data={"csrf": "forged", "action": "keep"}).status_code == 403
    assert editor.post("/recipes/hello/edit/yaml", data={"yaml": "name: hello"}).status_code == 403
    assert ui.engine.drafts.of_person(ui.engine.users.get(EDITOR).id) == []


def test_odd_posts_are_answered_calmly(editor, ui):
    new_recipe(editor)
    for action in ("move-up:--1", "delete:99", "move-down:x", "nothing"):
        assert act(editor, "news", action).status_code == 303, action
    token = token_of(editor.get("/recipes/news/edit"))
    odd = editor.post("/recipes/news/edit", data={"csrf": token, "action": "choose", "at": "--1", "uses": "data.set"})
    assert odd.status_code == 404
    assert editor.get("/recipes/news/edit?at=x&version=y").status_code == 200


def test_an_unknown_recipe_is_a_404_page(editor):
    assert editor.get("/recipes/nothing/edit").status_code == 404
    assert editor.get("/recipes/nothing/edit/yaml").status_code == 404


def test_fifty_steps_render_in_one_page_with_no_query_per_step(editor, ui):
    from sqlalchemy import event

    def recipe(name, count):
        steps = [{"id": f"s{i}", "uses": "smms.publish" if i % 2 else "data.set", "with": {"text": f"Post {i}"}}
                 for i in range(count)]
        ui.engine.save_recipe({"name": name, "trigger": {"uses": "builtins.manual"}, "steps": steps})

    recipe("short", 2)
    recipe("long", 50)
    queries: list[str] = []
    event.listen(ui.engine.db.engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
    editor.get("/recipes/short/edit")  # templates compiled
    queries.clear()
    editor.get("/recipes/short/edit")
    short = len(queries)
    queries.clear()
    started = time.perf_counter()
    page = editor.get("/recipes/long/edit")
    elapsed = time.perf_counter() - started
    assert page.text.count('class="card step-card"') == 50
    assert len(queries) == short, queries  # connections, catalog and last run read once, whatever the steps
    assert elapsed < 5, f"{elapsed:.3f} s"  # ~0.2 s on a quiet machine; shared CI machines are slower


def test_fields_of_any_name_are_written_as_yaml_and_a_mistake_there_is_shown_as_typed(editor, ui):
    new_recipe(editor)
    choose(editor, "news", -1, "data.set")
    act(editor, "news", "keep", **{"steps[0].with.more": "text: Hello {{ trigger.name }}\nslug: hello"})
    assert ui.engine.drafts.get("news", ui.engine.users.get(EDITOR).id).definition["steps"][0]["with"] == {
        "text": "Hello {{ trigger.name }}", "slug": "hello"}
    answer = act(editor, "news", "move-down:0", **{"steps[0].with.more": "text: [unclosed"})
    assert answer.status_code == 400
    assert 'aria-invalid="true"' in field(answer, "steps[0].with.more")
    assert "text: [unclosed" in answer.text


def test_a_step_whose_plugin_is_missing_keeps_its_options_as_yaml(editor, ui):
    ui.engine.drafts.put("odd", ui.engine.users.get(EDITOR).id, {
        "name": "odd", "trigger": {"uses": "builtins.manual"},
        "steps": [{"id": "x", "uses": "gone.away", "with": {"a": 1}, "connection": "somewhere"}]}, None)
    page = editor.get("/recipes/odd/edit")
    assert "No loaded plugin provides the action gone.away" in page.text
    act(editor, "odd", "keep", page=page, **{"steps[0].with": "a: 2\nb: three"})
    step = ui.engine.drafts.get("odd", ui.engine.users.get(EDITOR).id).definition["steps"][0]
    assert step["with"] == {"a": 2, "b": "three"} and step["connection"] == "somewhere"


def test_the_builder_speaks_french(ui):
    french = ui.client(signed_in=EDITOR, headers={"Accept-Language": "fr"})
    new_recipe(french)
    answer = choose(french, "news", -1, "data.set")
    page = french.get(answer.headers["location"])
    assert announced(page) == "Étape « set » ajoutée en position 1."
    assert "Ajouter une étape en dessous" in page.text and "Options avancées" in page.text
    answer = act(french, "news", "save", page=page, **{"steps[0].id": "mauvais id"})
    assert answer.status_code == 400
    assert ("Étape 1 – Identifiant de l’étape : ne peut contenir que des lettres, des chiffres et des _"
            in answer.text.replace("&#39;", "'"))


def test_each_step_offers_the_data_of_the_trigger_and_of_earlier_steps(editor):
    page = editor.get(new_recipe(editor, name="outbox", start="blog-to-outbox").headers["location"])
    assert 'data-insert-source="/recipes/outbox/edit/data?step=1"' in page.text  # each card's panel: loaded lazily
    first = editor.get("/recipes/outbox/edit/data?step=0")
    assert "{{ trigger.title }}" in first.text and "{{ steps.announce" not in first.text
    second = editor.get("/recipes/outbox/edit/data?step=1")
    assert "{{ steps.announce.results[0].url }}" in second.text


def test_the_connection_picker_lists_the_accounts_of_the_right_tool_type(editor, ui):
    ui.engine.connections.create("city-mastodon", "mastodon", {"base_url": "https://mastodon.example",
                                                               "access_token": "t" * 20})
    ui.engine.connections.create("city-smtp", "smtp", {"host": "smtp.example", "from_address": "a@b.example"})
    new_recipe(editor)
    page = editor.get(choose(editor, "news", -1, "smms.publish").headers["location"])
    picker = page.text[page.text.index('id="steps[0].connection-hint"'):page.text.index('id="steps[0].with"')]
    assert 'value="city-mastodon"' in picker and "city-smtp" not in picker
    assert "t" * 20 not in page.text
    act(editor, "news", "keep", page=page, **{"steps[0].connection": "city-mastodon",
                                               "steps[0].with.text": "Hi"})
    page = editor.get("/recipes/news/edit")
    assert "checked" in field(page, "steps[0].connection")
    answer = act(editor, "news", "save", page=page)
    assert answer.status_code == 303, answer.text
    assert ui.engine.recipes.get("news")[0].steps[0].connection == "city-mastodon"


def test_a_publish_window_is_set_for_the_recipe_and_for_one_step(editor, ui):
    new_recipe(editor)
    choose(editor, "news", -1, "smms.publish")
    page = editor.get("/recipes/news/edit")
    assert "When to publish" in page.text and 'id="window.at"' in page.text
    assert 'id="steps[0].window.quiet_hours"' in page.text
    answer = act(editor, "news", "save", page=page, **{
        "steps[0].id": "post", "steps[0].with.text": "Budget 2027", "window.at": "10:00",
        "window.working_days": "true", "window.next_day": "true", "steps[0].window.quiet_hours": "22:00-07:00"})
    assert answer.status_code == 303, answer.text
    recipe, _ = ui.engine.recipes.get("news")
    assert (recipe.window.at, recipe.window.working_days, recipe.window.next_day) == ("10:00", True, True)
    assert recipe.steps[0].window.quiet_hours == "22:00-07:00"
    page = editor.get("/recipes/news/edit")
    assert 'value="10:00"' in field(page, "window.at") and "checked" in field(page, "window.next_day")


def test_a_window_that_cannot_work_is_shown_beside_its_fields(editor, ui):
    new_recipe(editor)
    choose(editor, "news", -1, "smms.publish")
    answer = act(editor, "news", "save", **{"steps[0].id": "post", "steps[0].with.text": "Budget",
                                            "window.quiet_hours": "22h-7h", "steps[0].window.next_day": "true"})
    assert answer.status_code == 400
    assert 'aria-invalid="true"' in field(answer, "window.quiet_hours")
    assert 'href="#window.quiet_hours"' in answer.text and "&#39;22h&#39; is not a time of day" in answer.text
    assert 'href="#steps[0].window"' in answer.text and "next_day needs a time of day" in answer.text
    assert '<details class="advanced" open>' in answer.text and ui.engine.recipes.list() == []
