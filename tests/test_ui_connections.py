"""The connections' pages: list by tool type, create and change from each type's schema (secrets write-only), test
against a local Mastodon server, delete after a confirmation; roles and form tokens as the API's."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from .servers.mastodon import MastodonServer
from .ui_helpers import token_of, ui  # noqa: F401

SECRET = "tok-Secret-4217-city"
OTHER = "tok-Other-9931-city"
EN = {"Accept-Language": "en"}


@pytest.fixture
def make_engine(make_engine):
    """Engines whose outbound calls may reach the local test servers (127.0.0.0/8)."""
    def factory(url=None, **kwargs):
        kwargs.setdefault("allowed_networks", ["127.0.0.0/8"])
        return make_engine(url, **kwargs)
    return factory


@pytest.fixture
def mastodon():
    with MastodonServer({SECRET: "city"}) as server:
        yield server


@pytest.fixture
def admin(ui):
    return ui.client(signed_in="admin@example.org", headers=EN)


def stored_token(ui, name: str) -> str:
    return ui.engine.connections.resolve([name], None)[0].config.access_token.get_secret_value()


def new_mastodon(admin, **fields):
    """Post the form of a new Mastodon connection as a browser does (with the page's token)."""
    page = admin.get("/connections/new?type=mastodon")
    form = {"csrf": token_of(page), "type": "mastodon", "name": "city-mastodon", "config.base_url": "",
            "config.access_token": "", "config.max_characters": "500", **fields}
    return admin.post("/connections/new", data=form, follow_redirects=False)


def error_of(page, field_id: str) -> str:
    """The message shown beside a field (the field marked invalid and described by it)."""
    control = re.search(rf'<(?:input|textarea|select)[^>]*id="{re.escape(field_id)}"[^>]*>', page.text)
    assert control and 'aria-invalid="true"' in control.group(0), field_id
    assert f"{field_id}-error" in control.group(0)
    message = re.search(rf'id="{re.escape(field_id)}-error"><span class="visually-hidden">[^<]*</span>\s*([^<]*)<',
                        page.text)
    assert message, field_id
    assert f'href="#{field_id}"' in page.text  # the summary links to it
    return message.group(1).strip()


def test_connections_are_listed_by_tool_type_and_a_viewer_sees_no_edit_controls(ui, mastodon):
    ui.engine.connections.create("city-mastodon", "mastodon", {"base_url": mastodon.url, "access_token": SECRET})
    ui.engine.connections.create("press-mail", "smtp", {"host": "mail.example.org", "username": "press",
                                                        "from_address": "press@example.org", "password": OTHER})
    viewer = ui.client(signed_in="viewer@example.org", headers=EN)
    page = viewer.get("/connections")
    assert page.status_code == 200
    assert page.text.index("<h2 id=\"group-smms\">Social media</h2>") < page.text.index(
        "<h2 id=\"group-email\">E-mail and newsletters</h2>")
    assert "Mastodon account" in page.text and "Mail server (SMTP)" in page.text
    assert "/connections/new" not in page.text and "/test" not in page.text and "/delete" not in page.text
    french = ui.client(signed_in="viewer@example.org").get("/connections")
    assert "Réseaux sociaux" in french.text and "Compte Mastodon" in french.text
    shown = viewer.get("/connections/press-mail")
    assert shown.status_code == 200 and "mail.example.org" in shown.text and "Stored" in shown.text
    assert "<dt>Timeout</dt>" in shown.text and '<span class="setting">30</span>' in shown.text
    assert 'name="config.' not in shown.text
    for answer in (page, french, shown):
        assert SECRET not in answer.text and OTHER not in answer.text


@pytest.mark.parametrize("who", ["viewer@example.org", "editor@example.org"])
def test_only_the_admin_role_changes_connections_as_in_the_api(ui, who):
    ui.engine.connections.create("city-outbox", "smms_outbox", {})
    browser = ui.client(signed_in=who, headers=EN)
    token = token_of(browser.get("/connections"))
    assert browser.get("/connections/new").status_code == 403
    assert browser.get("/connections/city-outbox/delete").status_code == 403
    for path in ("/connections/new", "/connections/city-outbox", "/connections/city-outbox/test",
                 "/connections/city-outbox/delete"):
        refused = browser.post(path, data={"csrf": token, "type": "smms_outbox", "name": "x"})
        assert refused.status_code == 403 and "admin" in refused.text, path
    assert ui.engine.connections.types() == {"city-outbox": "smms_outbox"}


def test_an_admin_chooses_a_type_then_fills_in_its_form(admin):
    choice = admin.get("/connections/new")
    assert choice.status_code == 200
    assert '<legend>Social media</legend>' in choice.text and 'value="mastodon"' in choice.text
    assert 'value="smtp"' in choice.text and 'id="type"' in choice.text
    only = admin.get("/connections/new?type=smms")  # a tool type: its connection types only
    assert 'value="mastodon"' in only.text and 'value="smtp"' not in only.text
    empty = admin.get("/connections/new?type=")  # "continue" without a choice
    assert empty.status_code == 400 and 'href="#type"' in empty.text
    form = admin.get("/connections/new?type=mastodon")
    assert form.status_code == 200
    assert 'id="config.base_url"' in form.text and 'name="config.max_characters"' in form.text
    assert re.search(r'<input class="text" type="password" id="config.access_token"', form.text)
    assert 'value="500"' in form.text and "Default: 500" in form.text and "(required)" in form.text


def test_a_new_connection_is_saved_with_its_secret_encrypted_and_never_shown(ui, admin, mastodon):
    created = new_mastodon(admin, **{"config.base_url": mastodon.url, "config.access_token": SECRET})
    assert created.status_code == 303 and created.headers["location"] == "/connections"
    assert stored_token(ui, "city-mastodon") == SECRET
    listed = admin.get("/connections")
    assert "The connection is saved." in listed.text and "city-mastodon" in listed.text
    edit = admin.get("/connections/city-mastodon")
    assert edit.status_code == 200 and mastodon.url in edit.text
    assert "Leave empty to keep the current value." in edit.text and "Stored" in edit.text
    for page in (listed, edit):
        assert SECRET not in page.text


def test_problems_are_shown_beside_their_fields_with_the_typed_data_kept_but_no_secret(ui, admin):
    refused = new_mastodon(admin, **{"name": "City Mastodon", "config.base_url": "ftp://mastodon.example",
                                     "config.access_token": SECRET, "config.max_characters": "lots"})
    assert refused.status_code == 400
    assert error_of(refused, "config.max_characters") == "Max characters: enter a whole number, e.g. 10."
    assert SECRET not in refused.text and 'value="ftp://mastodon.example"' in refused.text
    assert 'value="City Mastodon"' in refused.text
    # the number fixed, the engine's own checks speak: the name and the address, each beside its field
    refused = new_mastodon(admin, **{"name": "City Mastodon", "config.base_url": "ftp://mastodon.example",
                                     "config.access_token": SECRET})
    assert refused.status_code == 400 and SECRET not in refused.text
    assert error_of(refused, "name").startswith("Name: ")
    assert error_of(refused, "config.base_url").startswith("Base URL: ")
    assert ui.engine.connections.types() == {}
    # a secret is required: left out, it says so beside the secret's field
    refused = new_mastodon(admin, **{"config.base_url": "https://mastodon.example"})
    assert error_of(refused, "config.access_token").startswith("Access token: ")
    french = admin.post("/connections/new", headers={"Accept-Language": "fr"}, data={
        "csrf": token_of(refused), "type": "mastodon", "name": "x", "config.max_characters": "beaucoup",
        "config.access_token": SECRET})
    assert "saisissez un nombre entier" in french.text and SECRET not in french.text
    assert "Nombre maximal de caractères" in french.text  # the plugin's labels too, from the catalog
    french = admin.post("/connections/new", headers={"Accept-Language": "fr"}, data={
        "csrf": token_of(refused), "type": "mastodon", "name": "x", "config.base_url": "ftp://mastodon.example",
        "config.access_token": SECRET})
    assert error_of(french, "config.base_url") == ("Adresse : doit être une adresse qui commence par http:// ou "
                                                   "https://, par exemple https://mastodon.social")


def test_a_name_already_taken_is_refused_beside_the_name(ui, admin):
    ui.engine.connections.create("city-mastodon", "mastodon", {"base_url": "https://a.example",
                                                               "access_token": OTHER})
    refused = new_mastodon(admin, **{"config.base_url": "https://b.example", "config.access_token": SECRET})
    assert refused.status_code == 400 and "already exists" in error_of(refused, "name")
    assert stored_token(ui, "city-mastodon") == OTHER


def test_changing_a_connection_keeps_a_secret_left_empty_and_replaces_a_typed_one(ui, admin):
    ui.engine.connections.create("press-mail", "smtp", {"host": "mail.example.org", "from_name": "Ville",
                                                        "from_address": "press@example.org", "username": "press",
                                                        "password": OTHER})
    page = admin.get("/connections/press-mail")
    token = token_of(page)
    assert 'value="Ville"' in page.text and OTHER not in page.text and 'id="config.password--clear"' in page.text
    form = {"csrf": token, "config.host": "smtp.example.org", "config.from_address": "press@example.org",
            "config.security": "ssl", "config.username": "press", "config.password": "", "config.from_name": ""}
    saved = admin.post("/connections/press-mail", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/connections"
    config = ui.engine.connections.resolve(["press-mail"], None)[0].config
    assert config.host == "smtp.example.org" and config.security == "ssl"
    assert config.from_name is None  # emptied in the form: not kept from before
    assert config.password.get_secret_value() == OTHER
    admin.post("/connections/press-mail", data={**form, "config.password": SECRET})
    assert ui.engine.connections.resolve(["press-mail"], None)[0].config.password.get_secret_value() == SECRET
    # a problem of the settings as a whole (the model's own check) is shown above them
    refused = admin.post("/connections/press-mail", data={**form, "config.password--clear": "true"})
    assert refused.status_code == 400 and 'href="#settings"' in refused.text
    assert "give both username and password, or neither" in refused.text
    admin.post("/connections/press-mail", data={**form, "config.username": "", "config.password--clear": "true"})
    assert ui.engine.connections.resolve(["press-mail"], None)[0].config.password is None
    refused = admin.post("/connections/press-mail", data={**form, "config.timeout": "-3", "config.password": OTHER})
    assert refused.status_code == 400 and error_of(refused, "config.timeout").startswith("Timeout: ")
    assert OTHER not in refused.text and 'value="smtp.example.org"' in refused.text


def test_testing_a_connection_asks_its_server_and_says_what_it_found(ui, admin, mastodon):
    ui.engine.connections.create("city-mastodon", "mastodon", {"base_url": mastodon.url, "access_token": SECRET})
    token = token_of(admin.get("/connections"))
    works = admin.post("/connections/city-mastodon/test", data={"csrf": token})
    assert works.status_code == 200 and "The connection works" in works.text and "@city" in works.text
    assert [r["path"] for r in mastodon.requests] == ["/api/v1/accounts/verify_credentials"]
    ui.engine.connections.save("city-mastodon", "mastodon", {"base_url": mastodon.url, "access_token": OTHER})
    fails = admin.post("/connections/city-mastodon/test", data={"csrf": token})
    assert fails.status_code == 200 and "The connection does not work" in fails.text
    assert "401" in fails.text or "invalid" in fails.text
    assert OTHER not in fails.text and SECRET not in fails.text
    outbox = ui.engine.connections.create("city-outbox", "smms_outbox", {})
    assert outbox
    untested = admin.post("/connections/city-outbox/test", data={"csrf": token})
    assert "This connection cannot be tested" in untested.text
    assert admin.post("/connections/nothing/test", data={"csrf": token}).status_code == 404


def test_deleting_asks_first_and_needs_the_form_token(ui, admin):
    ui.engine.connections.create("city-outbox", "smms_outbox", {})
    confirm = admin.get("/connections/city-outbox/delete")
    assert confirm.status_code == 200 and "This cannot be undone." in confirm.text
    forged = admin.post("/connections/city-outbox/delete", data={"csrf": "not-the-token"})
    assert forged.status_code == 403 and ui.engine.connections.types() == {"city-outbox": "smms_outbox"}
    deleted = admin.post("/connections/city-outbox/delete", data={"csrf": token_of(confirm)},
                         follow_redirects=False)
    assert deleted.status_code == 303 and ui.engine.connections.types() == {}
    assert "The connection is deleted." in admin.get("/connections").text
    assert admin.get("/connections/city-outbox").status_code == 404
    again = admin.post("/connections/city-outbox/delete", data={"csrf": token_of(confirm)})  # another tab
    assert again.status_code == 404


def test_forms_without_the_token_are_refused(ui, admin):
    assert new_mastodon(admin, csrf="").status_code == 403
    assert new_mastodon(admin, csrf="forged-" + "x" * 40).status_code == 403
    ui.engine.connections.create("city-outbox", "smms_outbox", {})
    assert admin.post("/connections/city-outbox", data={}).status_code == 403
    assert admin.post("/connections/city-outbox/test", data={}).status_code == 403
    assert ui.engine.connections.types() == {"city-outbox": "smms_outbox"}


@pytest.mark.parametrize(("given", "goes_to"), [
    ("/recipes/flagship/edit?step=2", "/recipes/flagship/edit?step=2"),
    ("https://evil.example/", "/connections"), ("//evil.example/x", "/connections"),
    ("/\\evil.example", "/connections"), ("javascript:alert(1)", "/connections")])
def test_after_creating_the_page_goes_back_to_a_local_next_only(ui, admin, given, goes_to):
    page = admin.get(f"/connections/new?type=smms_outbox&next={quote(given, safe='')}")
    if goes_to != "/connections":
        assert f'name="next" value="{given}"' in page.text
        assert f'href="/connections/new?next={quote(given, safe="/")}"' in page.text
    created = admin.post("/connections/new", follow_redirects=False,
                         data={"csrf": token_of(page), "type": "smms_outbox", "name": "outbox", "next": given})
    assert created.status_code == 303 and created.headers["location"] == goes_to


def test_an_unknown_connection_or_type_is_a_page_that_says_so(admin):
    assert admin.get("/connections/nothing").status_code == 404
    assert admin.get("/connections/nothing/delete").status_code == 404
    token = token_of(admin.get("/connections"))
    unknown = admin.post("/connections/new", data={"csrf": token, "type": "fax", "name": "x"})
    assert unknown.status_code == 400 and 'href="#type"' in unknown.text
