"""The connections' pages in real Chromium, keyboard only, in French and in English: add a mail server from the
type choice and its generated form (a refused form first, its problems beside their fields), change it, test it
(the result said in words and focused), delete it after the confirmation; axe-core finds no WCAG 2.1 A/AA
violation on any of these pages and nothing breaks the Content-Security-Policy."""
from __future__ import annotations

import pytest

from ..test_serve import free_port
from .conftest import axe_violations, problems, screenshot
from .keyboard import by_id, create_account, sign_in, type_into

SECRET = "Smtp-Secret-8841-never-shown"

TEXTS = {
    "fr": {"add": "Ajouter une connexion", "smtp": "Serveur de messagerie (SMTP)", "continue": "Continuer",
           "problem": "Il y a un problème", "saved": "La connexion est enregistrée.", "test": "Tester la connexion",
           "failed": "La connexion ne fonctionne pas", "delete": "Supprimer cette connexion",
           "confirm": "Oui, supprimer la connexion", "deleted": "La connexion est supprimée.",
           "number": "saisissez un nombre entier"},
    "en": {"add": "Add a connection", "smtp": "Mail server (SMTP)", "continue": "Continue",
           "problem": "There is a problem", "saved": "The connection is saved.", "test": "Test the connection",
           "failed": "The connection does not work", "delete": "Delete this connection",
           "confirm": "Yes, delete the connection", "deleted": "The connection is deleted.",
           "number": "enter a whole number"},
}






def check(page, name: str) -> None:
    assert axe_violations(page) == [], name
    screenshot(page, name)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_add_test_and_delete_a_connection_with_the_keyboard(served, page, language):
    words = TEXTS[language]
    create_account(served, "admin@ville.example", role="admin")
    sign_in(page, served, "admin@ville.example", language=language, then="/connections")
    page.get_by_role("link", name=words["add"]).wait_for()
    check(page, f"connections-list-empty-{language}")

    page.get_by_role("link", name=words["add"]).focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name=words["continue"]).wait_for()
    check(page, f"connections-type-{language}")
    page.get_by_role("radio", name=words["smtp"]).focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # out of the radio group: the button
    page.keyboard.press("Enter")
    by_id(page, "config.host").wait_for()
    check(page, f"connections-new-{language}")

    # a refused form: the name is not a name, the port not a whole number; the secret typed is not shown back
    port = free_port()  # nothing listens there: the test of the connection will fail, and say why
    type_into(page, "name", "Press Mail")
    type_into(page, "config.host", "127.0.0.1")
    type_into(page, "config.port", "25.5")
    type_into(page, "config.from_address", "presse@ville.example")
    type_into(page, "config.username", "presse")
    type_into(page, "config.password", SECRET)
    page.keyboard.press("Enter")
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert words["problem"] in summary.inner_text()
    assert words["number"] in by_id(page, "config.port-error").inner_text()
    assert by_id(page, "config.port").get_attribute("aria-invalid") == "true"
    assert summary.locator('a[href="#config.port"]').count() == 1
    assert by_id(page, "config.host").input_value() == "127.0.0.1"  # what was typed is kept…
    assert by_id(page, "config.password").input_value() == ""  # …but never a secret
    assert SECRET not in page.content()
    page.wait_for_function("document.activeElement.classList.contains('error-summary')")  # our script moves it
    check(page, f"connections-form-errors-{language}")

    # the summary's link leads to the field; fixed, the form is saved
    summary.locator('a[href="#config.port"]').focus()
    page.keyboard.press("Enter")
    type_into(page, "config.port", str(port))
    type_into(page, "config.password", SECRET)
    type_into(page, "name", "press-mail")
    page.keyboard.press("Enter")
    page.get_by_text(words["saved"]).wait_for()
    assert page.url == served.url("/connections")
    assert "press-mail" in page.content() and SECRET not in page.content()
    check(page, f"connections-list-{language}")

    page.get_by_role("link", name="press-mail", exact=True).focus()
    page.keyboard.press("Enter")
    by_id(page, "config.host").wait_for()
    assert SECRET not in page.content()
    check(page, f"connections-edit-{language}")

    page.get_by_role("button", name=words["test"]).focus()
    page.keyboard.press("Enter")
    result = page.locator("#test-result")
    result.wait_for()
    assert words["failed"] in result.inner_text() and SECRET not in page.content()
    page.wait_for_function("document.activeElement.id === 'test-result'")  # the result gets the focus
    check(page, f"connections-test-result-{language}")

    page.get_by_role("link", name=words["delete"]).focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name=words["confirm"]).wait_for()
    check(page, f"connections-delete-{language}")
    page.get_by_role("button", name=words["confirm"]).focus()
    page.keyboard.press("Enter")
    page.get_by_text(words["deleted"]).wait_for()
    assert "press-mail" not in page.content()
    # the refused form is answered 400, which Chromium logs; nothing else may be logged
    assert [p for p in problems(page) if "status of 400" not in p] == []


@pytest.mark.parametrize("templates", [False, True])
def test_every_kind_of_generated_field_passes_axe(page, templates):
    """The fields of ui/schema_form.py (every kind, with errors, a stored secret, and a recipe step's template
    alternatives) in a page of their own: axe-core finds no WCAG 2.1 A/AA violation."""
    from beffroi_ui import schema_form
    from beffroi_ui.web import environment

    from ..test_ui_schema_form import SCHEMA

    fields = schema_form.describe(SCHEMA, "with", templates=templates)
    values = schema_form.form_values(SCHEMA, {"subject": "{{ trigger.title }}", "tags": ["a", "b"]}, "with",
                                     templates=templates)
    errors = [schema_form.FieldProblem("with.count", "Count: enter a whole number, e.g. 10."),
              schema_form.FieldProblem("with.mode", "Mode: choose one of the options."),
              schema_form.FieldProblem("with.public", "Public: answer yes or no."),
              schema_form.FieldProblem("with.login", "Login: required field is missing")]
    body = environment("en").from_string(
        '{% from "_forms.html" import error_summary %}{% from "_schema_form.html" import schema_fields %}'
        '<!doctype html><html lang="en"><head><title>Fields</title></head><body><main><h1>Fields</h1>'
        '{{ error_summary(errors) }}<form>{{ schema_fields(fields, values, errors, ["token"]) }}'
        '<button type="submit">Save</button></form></main></body></html>')
    page.set_content(body.render(fields=fields, values=values, errors=errors))
    assert axe_violations(page) == []
