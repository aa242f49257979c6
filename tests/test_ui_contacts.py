"""The contacts' pages through the ASGI app: the list searched and filtered (list, tag, consent) in keyset pages,
a contact's page (edit with located errors, consent history), the lists with their counts and a list's members —
with the rule that a contact's personal data needs the editor role, and the CSRF checks of every form."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from beffroi_plugins.crm import contacts, lists

from .ui_helpers import PASSWORD, sign_in, token_of

EMAIL = "anne.dubois@lesoir.be"


def make_site(make_engine, url: str | None = None):
    """An engine with three people and a contact base: Anne (press, consent), Bob (press, no consent), Chloé."""
    from beffroi import create_app

    engine = make_engine(url)
    for role in ("viewer", "editor", "admin"):
        engine.users.create(f"{role}@example.org", PASSWORD, role=role, name=role.title())
    contacts.upsert_contact(engine.db, EMAIL, first_name="Anne", last_name="Dubois", organisation="Le Soir",
                            tags=["journalist", "Namur"], consent=True, consent_source="fair 2026",
                            consent_text="I agree to receive the city's press releases.")
    contacts.upsert_contact(engine.db, "bob@rtbf.be", first_name="Bob", tags=["journalist"])
    contacts.upsert_contact(engine.db, "chloe@example.org", first_name="Chloé", consent=True)
    contacts.update_contact(engine.db, contacts.find_contact(engine.db, "chloe@example.org")["id"],
                            {"consent": False, "consent_source": "her e-mail"})
    lists.create_list(engine.db, "press", "Journalists")
    lists.create_list(engine.db, "agenda")
    for email in (EMAIL, "bob@rtbf.be"):
        lists.add_to_list(engine.db, email, "press", "test")
    app = create_app(engine)

    class Site:
        def __init__(self):
            self.engine, self.app = engine, app

        def client(self, signed_in: str | None = "editor@example.org", language: str = "en") -> TestClient:
            browser = TestClient(app, cookies={"beffroi_lang": language})
            if signed_in:
                assert sign_in(browser, signed_in).status_code == 303
            return browser

        def anne(self) -> str:
            return contacts.find_contact(engine.db, EMAIL)["id"]

    return Site()


@pytest.fixture
def site(make_engine):
    return make_site(make_engine)


@pytest.fixture
def any_site(make_engine, database_url):
    return make_site(make_engine, database_url)


def listed(page) -> list[str]:
    """The e-mail addresses of a contacts table, in order."""
    return re.findall(r'<th scope="row"><a href="/(?:contacts|lists)/[^"]+">([^<]+)</a></th>', page.text)


def test_search_by_address_or_name_and_filter_by_list_tag_and_consent(any_site):
    browser = any_site.client()
    assert listed(browser.get("/contacts")) == [EMAIL, "bob@rtbf.be", "chloe@example.org"]
    assert listed(browser.get("/contacts?q=DUBOIS")) == [EMAIL]
    assert listed(browser.get("/contacts?q=rtbf")) == ["bob@rtbf.be"]
    assert listed(browser.get("/contacts?list=press")) == [EMAIL, "bob@rtbf.be"]
    assert listed(browser.get("/contacts?tag=journalist")) == [EMAIL, "bob@rtbf.be"]
    assert listed(browser.get("/contacts?consent=given")) == [EMAIL]
    assert listed(browser.get("/contacts?consent=withdrawn")) == ["chloe@example.org"]
    assert listed(browser.get("/contacts?consent=none")) == ["bob@rtbf.be"]
    assert listed(browser.get("/contacts?list=press&consent=none&q=bob")) == ["bob@rtbf.be"]
    page = browser.get("/contacts?q=nobody")
    assert "No contact matches these filters." in page.text and 'href="/contacts">Clear the filters' in page.text
    assert "2 contacts, by e-mail address" in browser.get("/contacts?list=press").text


def test_a_wrong_filter_is_shown_beside_its_field(site):
    page = site.client().get("/contacts?list=nothing-here&consent=maybe")
    assert page.status_code == 400
    assert 'href="#consent">Choose a consent state from the list.' in page.text
    assert 'href="#list">There is no list with this name.' in page.text
    assert 'aria-describedby="list-error" aria-invalid="true"' in page.text


@pytest.mark.parametrize("filters", ["tag=reader", "q=READER"])  # walking the address index, reading every row
def test_pages_of_contacts_go_back_and_forth_with_the_filters_kept(any_site, filters):
    for n in range(120):
        contacts.upsert_contact(any_site.engine.db, f"reader{n:03}@example.org", tags=["reader"])
    browser = any_site.client()
    first = browser.get(f"/contacts?{filters}")
    # a search by words reads every contact once, for its page, and is not counted a second time
    caption = "120 contacts" if filters.startswith("tag") else "More than 50 contacts"
    assert f"{caption}, by e-mail address" in first.text
    assert listed(first)[0] == "reader000@example.org" and len(listed(first)) == 50
    assert 'rel="prev"' not in first.text
    second_link = re.search(r'<a href="([^"]+)" rel="next">', first.text).group(1).replace("&amp;", "&")
    assert filters in second_link and "@" not in second_link  # the cursor is an id, never an address
    second = browser.get(second_link)
    assert listed(second)[0] == "reader050@example.org"
    third = browser.get(re.search(r'<a href="([^"]+)" rel="next">', second.text).group(1).replace("&amp;", "&"))
    assert listed(third) == [f"reader{n:03}@example.org" for n in range(100, 120)] and 'rel="next"' not in third.text
    back = browser.get(re.search(r'<a href="([^"]+)" rel="prev">', third.text).group(1).replace("&amp;", "&"))
    assert listed(back) == listed(second)


def test_the_contact_page_shows_lists_and_the_consent_history_with_date_source_and_text(site):
    page = site.client().get(f"/contacts/{site.anne()}")
    assert page.status_code == 200
    assert "<h1>Anne Dubois</h1>" in page.text
    history = page.text.split('id="consents-caption"')[1].split("</table>")[0]
    assert "Given" in history and "fair 2026" in history
    assert "I agree to receive the city&#39;s press releases." in history
    assert re.search(r'<th scope="row" class="when">\w{3} \d+, 2\d{3}', history)  # a date in the reader's language
    assert 'href="/lists/press">press</a>' in page.text
    chloe = contacts.find_contact(site.engine.db, "chloe@example.org")["id"]
    history = site.client(language="fr").get(f"/contacts/{chloe}").text.split('id="consents-caption"')[1]
    assert history.index("Donné") < history.index("Retiré") and "her e-mail" in history


def test_an_edit_is_saved_audited_and_a_mistake_shown_beside_its_field(site):
    browser = site.client()
    anne = site.anne()
    token = token_of(browser.get(f"/contacts/{anne}"))
    form = {"csrf": token, "email": "not an address", "first_name": "Anne", "last_name": "Dubois",
            "organisation": "Le Soir", "tags": "journalist, Namur", "lists": ["press", "agenda"], "consent": "yes"}
    bad = browser.post(f"/contacts/{anne}", data=form)
    assert bad.status_code == 400
    assert 'href="#email">Enter a valid e-mail address, like name@example.org.' in bad.text
    assert 'aria-describedby="email-error" aria-invalid="true"' in bad.text and 'value="not an address"' in bad.text
    taken = browser.post(f"/contacts/{anne}", data={**form, "email": "BOB@rtbf.be"})
    assert "Another contact already has this e-mail address." in taken.text
    saved = browser.post(f"/contacts/{anne}", data={**form, "email": EMAIL, "first_name": "Annabelle",
                                                    "tags": "journalist, Liège"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/contacts/{anne}"
    page = browser.get(f"/contacts/{anne}")
    assert "The changes to the contact are saved." in page.text and "<h1>Annabelle Dubois</h1>" in page.text
    assert 'value="journalist, Liège"' in page.text
    assert listed(browser.get("/contacts?list=agenda")) == [EMAIL]
    entry = site.engine.audit.page(action="contact.changed")[0]
    assert (entry.actor, entry.target) == ("editor@example.org", anne)
    assert entry.detail == {"fields": ["first_name", "tags"], "added_to": ["agenda"], "removed_from": []}
    assert EMAIL not in str(entry.detail)


def test_consent_given_on_the_page_needs_its_source_and_joins_the_history(site):
    browser = site.client()
    bob = contacts.find_contact(site.engine.db, "bob@rtbf.be")["id"]
    token = token_of(browser.get(f"/contacts/{bob}"))
    form = {"csrf": token, "email": "bob@rtbf.be", "first_name": "Bob", "lists": ["press"], "consent": "yes"}
    missing = browser.post(f"/contacts/{bob}", data=form)
    assert missing.status_code == 400
    assert 'href="#consent_source">Say where the person gave their consent' in missing.text
    text = "Yes, send me the agenda."
    assert browser.post(f"/contacts/{bob}", data={**form, "consent_source": "phone call", "consent_text": text},
                        follow_redirects=False).status_code == 303
    history = browser.get(f"/contacts/{bob}").text.split('id="consents-caption"')[1].split("</table>")[0]
    assert "phone call" in history and text in history
    assert listed(browser.get("/contacts?consent=given")) == [EMAIL, "bob@rtbf.be"]


def test_lists_show_their_counts_to_everyone_and_their_members_to_editors(site):
    contacts.unsubscribe(site.engine.db, site.anne(), "press")
    viewer = site.client("viewer@example.org")
    page = viewer.get("/lists")
    assert page.status_code == 200
    row = page.text.split("<th scope=\"row\">press</th>")[1].split("</tr>")[0]
    assert re.findall(r'<td class="number">(\d+)</td>', row) == ["1", "0", "1"]  # subscribed, reached, unsubscribed
    assert 'href="/lists/press"' not in page.text and 'href="/lists"' in page.text  # the menu leads viewers here
    members = site.client().get("/lists/press")
    assert listed(members) == [EMAIL, "bob@rtbf.be"]
    assert "Unsubscribed" in members.text.split(EMAIL)[1].split("</tr>")[0]
    assert site.client().get("/lists/nothing").status_code == 404


@pytest.mark.parametrize("path", ["/contacts", "/contacts/{id}", "/lists/press", "/contacts/{id}/export",
                                  "/contacts/{id}/erase", "/contacts/import"])
def test_a_viewer_never_sees_a_contacts_personal_data(site, path):
    viewer = site.client("viewer@example.org")
    page = viewer.get(path.format(id=site.anne()))
    assert page.status_code == 403 and EMAIL not in page.text and "Anne" not in page.text


def test_a_viewer_cannot_change_a_contact(site):
    viewer = site.client("viewer@example.org")
    token = token_of(viewer.get("/lists"))
    anne = site.anne()
    assert viewer.post(f"/contacts/{anne}", data={"csrf": token, "email": "x@example.org"}).status_code == 403
    assert viewer.post(f"/contacts/{anne}/erase", data={"csrf": token}).status_code == 403
    assert contacts.get_contact(site.engine.db, anne)["email"] == EMAIL


def test_every_form_of_the_contacts_needs_its_csrf_token(site):
    browser = site.client()
    anne = site.anne()
    assert browser.post(f"/contacts/{anne}", data={"email": "x@example.org"}).status_code == 403
    assert browser.post(f"/contacts/{anne}/erase", data={}).status_code == 403
    assert browser.post("/contacts/import", files={"file": ("a.csv", b"email\na@example.org\n")}).status_code == 403
    assert contacts.get_contact(site.engine.db, anne)["email"] == EMAIL


def test_signing_in_is_needed(site):
    page = site.client(signed_in=None).get("/contacts", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_every_contacts_page_has_one_h1_and_no_inline_script(site):
    anne = site.anne()
    for language in ("fr", "en"):
        browser = site.client(language=language)
        for path in ("/contacts", f"/contacts/{anne}", "/lists", "/lists/press", f"/contacts/{anne}/erase",
                     "/contacts/import", "/contacts?consent=maybe"):
            page = browser.get(path)
            assert page.text.count("<h1") == 1, path
            assert "<script>" not in page.text and " style=" not in page.text, path
            assert page.headers["content-security-policy"].startswith("default-src 'self'")
            assert f'<html lang="{language}">' in page.text
