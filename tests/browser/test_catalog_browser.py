"""The catalog in real Chromium: the chooser searched with the keyboard (filtered as you type, the count announced,
a choice posting the builder's form), axe-core clean in French and English; the data-insert panel's buttons insert
an expression at the cursor of a text field and keep the focus there."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import yaml

from beffroi_ui.references import references, used
from beffroi_ui.web import CSP, environment

from .conftest import axe_violations, problems, screenshot
from .keyboard import create_account, sign_in

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "ui" / "static"




@pytest.mark.parametrize("language, heading, typed, count, group, choice", [
    ("fr", "Que doit faire la nouvelle étape 3 ?", "liste", "3 actions correspondent à votre recherche.",
     "Contacts (GRC)", "Ajouter un contact à une liste"),
    ("en", "What should the new step 3 do?", "list", "3 actions match your search.", "Contacts (CRM)",
     "Add a contact to a list"),
])
def test_the_chooser_is_searched_and_used_with_the_keyboard(served, page, language, heading, typed, count, group,
                                                           choice):
    create_account(served, "anne@ville.example")
    sign_in(page, served, "anne@ville.example", language=language)
    posted: list[dict] = []

    def builder(route):  # the builder's handler is not part of this branch: record what the choice posts
        posted.append(parse_qs(route.request.post_data or ""))
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>builder</title><p>ok</p>")

    page.route("**/recipes/news/edit", builder)
    page.goto(served.url("/recipes/news/edit/choose?at=1"))
    page.get_by_role("heading", level=1, name=heading).wait_for()
    assert axe_violations(page) == []
    screenshot(page, f"catalog-choose-{language}")

    page.locator("#q").focus()
    page.keyboard.type(typed)
    status = page.locator("#choose-count")
    status.filter(has_text=count).wait_for()  # announced once typing pauses (a polite live region)
    assert status.get_attribute("aria-live") == "polite"
    visible = page.locator(".choice-button:visible")
    assert visible.count() == 3
    assert page.get_by_role("heading", level=2, name=group).is_visible()
    assert page.locator(".choice-group:visible").count() == 2  # the contacts, and the campaign's e-mail group
    assert axe_violations(page) == []
    screenshot(page, f"catalog-choose-search-{language}")

    page.keyboard.type(" zzz")
    status.filter(has_text="Aucune action" if language == "fr" else "No action").wait_for()
    assert page.locator(".choice-button:visible").count() == 0
    assert page.locator(".choose-none").is_visible()
    for _ in range(4):
        page.keyboard.press("Backspace")
    status.filter(has_text=count).wait_for()

    page.keyboard.press("Tab")  # the search button, then the first choice shown
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == choice
    page.keyboard.press("Enter")
    page.wait_for_url(served.url("/recipes/news/edit"))
    assert len(posted) == 1
    form = posted[0]
    assert form["action"] == ["choose"] and form["at"] == ["1"] and form["uses"] == ["crm.add_to_list"]
    assert len(form["csrf"][0]) >= 32
    assert problems(page) == []


@pytest.mark.parametrize("language, word, title, count", [
    ("fr", "article", "Nouvel article sur le site", "1 déclencheur correspond à votre recherche."),
    ("en", "website", "New post on the website", "1 trigger matches your search."),
])
def test_the_chooser_of_triggers_and_the_search_without_javascript(served, page, language, word, title, count):
    create_account(served, "anne@ville.example")
    sign_in(page, served, "anne@ville.example", language=language)
    page.goto(served.url(f"/recipes/news/edit/choose?at=trigger&q={word}"))
    assert page.locator(".choice-button:visible").all_inner_texts() == [title]
    assert page.locator("#choose-count").inner_text() == count
    assert axe_violations(page) == []
    screenshot(page, f"catalog-choose-trigger-{language}")
    page.locator("#q").fill("")
    page.locator("#q").press("Enter")  # the GET form: the page again, every trigger
    page.wait_for_url(served.url("/recipes/news/edit/choose?at=trigger&q="))
    assert page.locator(".choice-button:visible").count() == 7  # manual, webhook, schedule, wcms, crm, ecm × 2
    assert problems(page) == []


class _Panel:
    """A tiny page serving the insert panel under the UI's CSP, with /static from ui/static."""

    def __init__(self, pages: dict[str, str]):
        pages_ = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/static/"):
                    path = STATIC / self.path.removeprefix("/static/")
                    body, kind = path.read_bytes(), "text/css" if path.suffix == ".css" else "text/javascript"
                elif self.path in pages_:
                    body, kind = pages_[self.path].encode(), "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Security-Policy", CSP)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


PANEL_PAGE = """{% from "_insert_panel.html" import insert_panel, uses_list %}<!doctype html>
<html lang="{{ language }}"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="/static/beffroi.css"><link rel="stylesheet" href="/static/catalog.css">
<script src="/static/insert.js" defer></script></head>
<body><main id="main" class="wrap"><h1>{{ title }}</h1>
<div class="field"><label for="body">{{ label }}</label>
<textarea id="body" name="body" rows="4" aria-describedby="body-uses">{{ value }}</textarea>
{{ uses_list("body", uses) }}</div>
{{ insert_panel(found, "body") }}
</main></body></html>"""


SCOPE_PAGE = """{% from "_insert_panel.html" import insert_panel %}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>One panel for a step</title>
<link rel="stylesheet" href="/static/beffroi.css"><link rel="stylesheet" href="/static/catalog.css">
<script src="/static/insert.js" defer></script></head>
<body><main id="main" class="wrap"><h1>One panel for a step</h1>
<form method="post" action="/nowhere" data-insert-scope>
<div class="field"><label for="subject">Subject</label><input id="subject" name="subject" type="text"></div>
<div class="field"><label for="text">Text</label><textarea id="text" name="text" rows="3"></textarea></div>
{{ insert_panel(found, "", "step-1-insert") }}
</form></main></body></html>"""


@pytest.fixture
def panel_pages(make_engine):
    engine = make_engine()
    definition = yaml.safe_load((ROOT / "recipes" / "blog-to-social.yaml").read_text(encoding="utf-8"))
    pages = {}
    for language, title, label in (("fr", "Panneau d’insertion", "Texte de la publication"),
                                   ("en", "Insert panel", "Text of the post")):
        found = references(engine, definition, 2, language)
        value = "Nouveau : {{ trigger.url }}"
        pages[f"/{language}"] = environment(language).from_string(PANEL_PAGE).render(
            language=language, title=title, label=label, found=found, value=value, uses=used(found, value))
    found = references(engine, definition, 1, "en")
    pages["/scope"] = environment("en").from_string(SCOPE_PAGE).render(found=found)
    server = _Panel(pages)
    yield server
    server.close()


@pytest.mark.parametrize("language, summary, title, inserted, url", [
    ("fr", "Insérer une donnée du déclencheur ou d’une étape précédente", "Déclencheur › Titre",
     "Inséré : Déclencheur › Titre", "Déclencheur › Adresse (URL)"),
    ("en", "Insert data from the trigger or an earlier step", "Trigger › Title", "Inserted: Trigger › Title",
     "Trigger › URL"),
])
def test_the_insert_panel_inserts_at_the_cursor_and_keeps_the_focus_in_the_field(panel_pages, page, language,
                                                                                 summary, title, inserted, url):
    page.goto(f"{panel_pages.base}/{language}")
    field = page.locator("#body")
    assert page.locator("[data-insert-label]:visible").count() == 0  # buttons replace the labels to copy
    assert axe_violations(page) == []

    field.focus()
    page.keyboard.press("End")
    page.keyboard.press("Home")  # the cursor at the very start of the text
    page.keyboard.type("« ")
    page.keyboard.press("Shift+Tab")  # away from the field: it keeps its cursor
    page.get_by_text(summary).focus()
    page.keyboard.press("Enter")  # opens the <details>
    page.get_by_role("button", name=title, exact=True).focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "body"
    value = field.input_value()
    assert value == "« {{ trigger.title }}Nouveau : {{ trigger.url }}"
    assert page.evaluate("document.activeElement.selectionStart") == len("« {{ trigger.title }}")
    page.locator("[data-insert-status]").filter(has_text=inserted).wait_for()
    assert page.locator("#body-uses li").all_inner_texts() == [title, url]  # in the order of the text
    page.keyboard.type(" ")  # typing goes on where the expression ended
    assert field.input_value().startswith("« {{ trigger.title }} Nouveau")

    # with the mouse, in the middle of a selection: the selection is replaced, the focus stays in the field
    page.evaluate("() => { const f = document.getElementById('body'); f.setSelectionRange(0, 1); }")
    page.get_by_role("button", name=url, exact=True).click()
    assert field.input_value().startswith("{{ trigger.url }} {{ trigger.title }}")
    assert page.evaluate("document.activeElement.id") == "body"
    assert axe_violations(page) == []
    screenshot(page, f"catalog-insert-panel-{language}")
    assert problems(page) == []


def test_one_panel_for_a_step_inserts_into_the_field_last_focused(panel_pages, page):
    page.goto(f"{panel_pages.base}/scope")
    page.locator("#step-1-insert summary").click()
    status = page.locator("[data-insert-status]")
    page.get_by_role("button", name="Trigger › Title", exact=True).click()  # no field chosen yet: said so
    status.filter(has_text="First put the cursor in a text field of this step").wait_for()
    assert page.locator("#subject").input_value() == "" and page.locator("#text").input_value() == ""

    page.locator("#subject").focus()
    page.keyboard.type("News: ")
    page.get_by_role("button", name="Trigger › Title", exact=True).focus()  # with the keyboard
    page.keyboard.press("Enter")
    assert page.locator("#subject").input_value() == "News: {{ trigger.title }}"
    assert page.evaluate("document.activeElement.id") == "subject"
    status.filter(has_text="Inserted: Trigger › Title").wait_for()

    page.locator("#text").click()
    page.get_by_role("button", name="Trigger › URL", exact=True).click()
    assert page.locator("#text").input_value() == "{{ trigger.url }}"
    assert page.locator("#subject").input_value() == "News: {{ trigger.title }}"
    assert page.evaluate("document.activeElement.id") == "text"
    assert axe_violations(page) == []
    screenshot(page, "catalog-insert-panel-step-en")
    assert problems(page) == []


def test_one_panel_for_a_step_inserts_into_the_field_being_written_not_the_fields_tabbed_past(panel_pages, page):
    """A keyboard user reaches the step's panel by Tab, through the fields below the one they are writing: those
    fields, only passed, must not take its place (the panel comes after every field of the step)."""
    page.goto(f"{panel_pages.base}/scope")
    page.locator("#subject").focus()  # the first field of the page's form, where the person starts writing
    page.keyboard.type("News: ")
    page.keyboard.press("Tab")  # through the text field, left empty
    assert page.evaluate("document.activeElement.id") == "text"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # opens the panel
    button = page.get_by_role("button", name="Trigger › Title", exact=True)
    button.wait_for()
    for _ in range(20):  # Tab through the panel's buttons to "Title"
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent === 'Trigger › Title'"):
            break
    page.keyboard.press("Enter")
    assert page.locator("#subject").input_value() == "News: {{ trigger.title }}"
    assert page.locator("#text").input_value() == ""
    assert page.evaluate("document.activeElement.id") == "subject"
    assert problems(page) == []
