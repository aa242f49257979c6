"""The contacts' pages in real Chromium against `beffroi serve`, keyboard only, in French and in English: find a
contact and read their consent history, see the lists and a list's members, import a small CSV file through the
preview of its columns (one column's field changed with the keyboard) to its report, and erase a contact after the
confirmation; axe-core finds no WCAG 2.1 A/AA violation on any of these pages and nothing breaks the CSP."""
from __future__ import annotations

import httpx
import pytest

from .conftest import axe_violations, problems, screenshot
from .test_sign_in_browser import PASSWORD, create_account

CONSENT_TEXT = "I agree to receive the city's press releases."
CSV = ("Courriel;Prénom;Famille;Journal\n"
       "nina.peeters@standaard.example;Nina;Peeters;De Standaard\n"
       "not-an-address;Bob;X;RTBF\n").encode()
TEXTS = {
    "fr": {"contacts": "Contacts", "show": "Afficher ces contacts", "history": "Historique du consentement",
           "lists": "Listes", "members": "Membres de la liste press", "import": "Importer des contacts depuis un "
           "fichier CSV", "preview": "Prévisualiser l’import", "check": "Vérifier l’import", "last": "Nom",
           "go": "Importer 2 lignes", "report": "Rapport d’import", "erase": "Effacer ce contact",
           "sure": "Oui, effacer ce contact", "erased": "Le contact et ses données personnelles sont effacés.",
           "back": "Retour aux contacts"},
    "en": {"contacts": "Contacts", "show": "Show these contacts", "history": "Consent history", "lists": "Lists",
           "members": "Members of the list press", "import": "Import contacts from a CSV file",
           "preview": "Preview the import", "check": "Check the import", "last": "Last",
           "go": "Import 2 rows", "report": "Import report", "erase": "Erase this contact",
           "sure": "Yes, erase this contact", "erased": "The contact and their personal data are erased.",
           "back": "Back to the contacts"},
}


def api(served, method: str, path: str, **kwargs) -> httpx.Response:
    with httpx.Client(base_url=served.base_url, trust_env=False, timeout=30,
                      headers={"Authorization": f"Bearer {served.token}"}) as client:
        return client.request(method, path, **kwargs)


def press(locator, page) -> None:
    """Focus a link or button as Tab would and activate it with Enter."""
    locator.focus()
    page.keyboard.press("Enter")


def check(page, name: str) -> None:
    assert axe_violations(page) == [], name
    screenshot(page, name)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_find_read_import_and_erase_contacts_with_the_keyboard(served, page, language):
    words = TEXTS[language]
    anne = api(served, "POST", "/api/crm/contacts", json={
        "email": "anne.dubois@lesoir.example", "first_name": "Anne", "last_name": "Dubois", "organisation": "Le Soir",
        "tags": ["journalist"], "consent": True, "consent_source": "fair 2026", "consent_text": CONSENT_TEXT})
    assert anne.status_code == 201, anne.text
    assert api(served, "POST", "/api/crm/contacts", json={"email": "bob@rtbf.example", "first_name": "Bob"}
               ).status_code == 201
    assert api(served, "POST", "/api/crm/lists/press/members", json={"email": "anne.dubois@lesoir.example"}
               ).status_code == 200
    create_account(served, "editor@ville.example")
    page.context.add_cookies([{"name": "beffroi_lang", "value": language, "url": served.url("/")}])
    page.goto(served.url("/login"))
    page.locator("#email").focus()
    page.keyboard.type("editor@ville.example")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(served.url("/"))

    # find a contact: the menu, then a search typed in the form
    press(page.get_by_role("navigation").get_by_role("link", name=words["contacts"]), page)
    page.wait_for_url(served.url("/contacts"))
    check(page, f"contacts-list-{language}")
    page.locator("#q").focus()
    page.keyboard.type("dubois")
    page.keyboard.press("Enter")
    page.wait_for_url("**/contacts?q=dubois*")
    assert page.locator("table.contacts tbody tr").count() == 1
    check(page, f"contacts-search-{language}")

    # their page: the consent history, with its source and text
    press(page.get_by_role("link", name="anne.dubois@lesoir.example"), page)
    page.get_by_role("heading", name=words["history"]).wait_for()
    history = page.locator("table.consents")
    assert "fair 2026" in history.inner_text() and CONSENT_TEXT in history.inner_text()
    check(page, f"contacts-contact-{language}")

    # the lists and a list's members
    page.goto(served.url("/lists"))
    check(page, f"contacts-lists-{language}")
    press(page.get_by_role("link", name="press", exact=True), page)
    page.get_by_role("heading", name=words["members"]).wait_for()
    check(page, f"contacts-members-{language}")

    # import a small CSV file: the preview, one column sent to the last name with the keyboard, the report
    page.goto(served.url("/contacts/import"))
    check(page, f"contacts-import-{language}")
    page.locator("#file").set_input_files(files=[{"name": "press.csv", "mimeType": "text/csv", "buffer": CSV}])
    press(page.get_by_role("button", name=words["preview"]), page)
    page.get_by_role("heading", name=words["check"]).wait_for()
    check(page, f"contacts-import-preview-{language}")
    page.locator("#map-2").focus()
    page.keyboard.type(words["last"])  # the select's type-ahead: the first field starting with these letters
    assert page.locator("#map-2").input_value() == "last_name"
    press(page.get_by_role("button", name=words["go"]), page)
    page.get_by_role("heading", name=words["report"]).wait_for(timeout=60_000)
    figures = page.locator(".report-figures strong").all_inner_texts()
    assert figures == ["1", "0", "1"], figures
    assert "not-an-address" in page.locator("table").inner_text()
    check(page, f"contacts-import-report-{language}")
    nina = api(served, "GET", "/api/crm/contacts", params={"q": "nina"}).json()["items"]
    assert [(c["first_name"], c["last_name"]) for c in nina] == [("Nina", "Peeters")]

    # erase a contact after the confirmation page
    page.goto(served.url("/contacts?q=bob"))
    press(page.get_by_role("link", name="bob@rtbf.example"), page)
    press(page.get_by_role("link", name=words["erase"]), page)
    page.get_by_role("button", name=words["sure"]).wait_for()
    check(page, f"contacts-erase-{language}")
    press(page.get_by_role("button", name=words["sure"]), page)
    page.get_by_text(words["erased"]).wait_for()
    assert page.get_by_role("link", name="bob@rtbf.example").count() == 0
    assert api(served, "GET", "/api/crm/contacts", params={"q": "bob"}).json()["items"] == []
    assert problems(page) == []
