"""Administration pages: people (create, role, password, delete; the last admin and oneself kept), API tokens (the
secret shown once, revocation), the first account's one-time setup link (loopback only, once, for an hour), and the
sign-in failures shared through the database."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from beffroi import SignInThrottle

from .ui_helpers import PASSWORD, sign_in, token_of, ui  # noqa: F401

NEW_PASSWORD = "a brand new long password"
LOCAL = {"base_url": "http://127.0.0.1:8000", "client": ("127.0.0.1", 50000)}


def person_id(ui, email: str) -> str:
    found = ui.engine.users.get(email)
    assert found is not None
    return found.id


def post(browser, form_page: str, action: str, **fields):
    """Send a form of `form_page` as a browser does (with that page's CSRF token); the answer is not followed."""
    return browser.post(action, data={"csrf": token_of(browser.get(form_page)), **fields}, follow_redirects=False)


def add_person(browser, email="new@example.org", name="Nouvelle", role="editor", password=NEW_PASSWORD,
               again=None):
    return post(browser, "/admin/users/new", "/admin/users/new", email=email, name=name, role=role,
                password=password, **{"password-again": password if again is None else again})


# people

def test_the_people_page_lists_everyone_with_their_role_translated(ui):
    admin = ui.client(signed_in="admin@example.org")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "<h1>Personnes</h1>" in page.text
    for email in ("viewer@example.org", "editor@example.org", "admin@example.org"):
        assert email in page.text
    assert "<td>lecteur</td>" in page.text and "<td>rédacteur</td>" in page.text
    assert "<caption>3 personnes ont un compte</caption>" in page.text and 'scope="col"' in page.text
    assert "Jamais" in page.text  # the viewer and the editor never signed in; the admin just did
    english = ui.client(signed_in="admin@example.org", cookies={"beffroi_lang": "en"}).get("/admin/users")
    assert "<td>viewer</td>" in english.text and "Never" in english.text
    assert "password_hash" not in page.text and "$argon2" not in page.text


def test_viewers_and_editors_are_refused_the_admin_pages_and_see_no_link(ui):
    for email in ("viewer@example.org", "editor@example.org"):
        browser = ui.client(signed_in=email)
        assert "/admin/users" not in browser.get("/").text and "/admin/tokens" not in browser.get("/").text
        for path in ("/admin/users", "/admin/users/new", f"/admin/users/{person_id(ui, 'admin@example.org')}",
                     "/admin/tokens"):
            answer = browser.get(path)
            assert answer.status_code == 403 and "rôle administrateur" in answer.text, path
        refused = browser.post("/admin/users/new", data={"csrf": token_of(browser.get("/")), "email": "x@example.org",
                                                          "name": "X", "role": "admin", "password": NEW_PASSWORD,
                                                          "password-again": NEW_PASSWORD})
        assert refused.status_code == 403 and ui.engine.users.get("x@example.org") is None
        minted = browser.post("/admin/tokens", data={"csrf": token_of(browser.get("/")), "name": "t", "role": "admin"})
        assert minted.status_code == 403 and "bfr_" not in minted.text
    assert ui.engine.tokens.list() == []
    assert "/admin/users" in ui.client(signed_in="admin@example.org").get("/").text


def test_an_admin_creates_a_person_who_can_then_sign_in(ui):
    admin = ui.client(signed_in="admin@example.org")
    done = add_person(admin, email="  Claire@Example.org ", name="Claire", role="approver")
    assert done.status_code == 303 and done.headers["location"] == "/admin/users"
    listed = admin.get("/admin/users")
    assert "Le compte a été créé." in listed.text and "claire@example.org" in listed.text
    assert ui.engine.users.get("claire@example.org").role == "approver"
    assert sign_in(ui.client(), "claire@example.org", NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize("fields, field, message", [
    ({"email": ""}, "email", "Saisissez l’adresse e-mail de la personne."),
    ({"email": "not an address"}, "email", "Saisissez une adresse e-mail comme nom@exemple.org."),
    ({"email": "editor@example.org"}, "email", "Il existe déjà un compte avec cette adresse e-mail."),
    ({"name": ""}, "name", "Saisissez le nom de la personne."),
    ({"role": "emperor"}, "role", "Choisissez un rôle."),
    ({"password": "short", "again": "short"}, "password", "au moins 12 caractères"),
    ({"again": "another long password"}, "password-again", "Les deux mots de passe ne sont pas identiques."),
])
def test_a_refused_new_person_is_explained_beside_the_field_and_keeps_what_was_typed(ui, fields, field, message):
    admin = ui.client(signed_in="admin@example.org")
    answer = add_person(admin, **{"name": "Typed name", **fields})
    assert answer.status_code == 400 and message in answer.text
    assert f'<a href="#{field}">' in answer.text and f'aria-describedby="{field}' in answer.text
    assert re.search(f'id="{field}"[^>]*aria-invalid="true"', answer.text)
    if fields.get("name") != "":
        assert 'value="Typed name"' in answer.text
    assert NEW_PASSWORD not in answer.text and "another long password" not in answer.text
    assert len(ui.engine.users.list()) == 3


def test_a_person_added_without_a_password_chooses_it_with_a_one_time_link(ui):
    admin = ui.client(signed_in="admin@example.org")
    shown = add_person(admin, email="dora@example.org", name="Dora", password="", again="")
    assert shown.status_code == 201 and shown.headers["cache-control"] == "no-store"
    link = re.search(r'id="password-link"[^>]*value="(http://testserver/choose-password/[^"]+)"', shown.text).group(1)
    assert "set-cookie" not in shown.headers and "location" not in shown.headers
    assert link.rsplit("/", 1)[1] not in admin.get(f"/admin/users/{person_id(ui, 'dora@example.org')}").text
    assert sign_in(ui.client(), "dora@example.org", "").status_code == 400  # no password yet
    dora = ui.client()
    page = dora.get(link)
    assert page.status_code == 200 and "dora@example.org" in page.text
    short = dora.post(link, data={"csrf": token_of(page), "password": "short", "password-again": "short"})
    assert short.status_code == 400 and "au moins 12 caractères" in short.text
    done = dora.post(link, data={"csrf": token_of(page), "password": NEW_PASSWORD, "password-again": NEW_PASSWORD},
                     follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert "Votre mot de passe est enregistré." in dora.get("/login").text
    assert sign_in(dora, "dora@example.org", NEW_PASSWORD).status_code == 303
    again = ui.client().get(link)
    assert again.status_code == 403 and "Ce lien ne peut pas être utilisé" in again.text


def test_a_one_time_link_for_a_forgotten_password(ui):
    admin = ui.client(signed_in="admin@example.org")
    editor = ui.client(signed_in="editor@example.org")
    page = f"/admin/users/{person_id(ui, 'editor@example.org')}"
    first = re.search(r'value="http://testserver(/choose-password/[^"]+)"',
                      post(admin, page, f"{page}/password-link").text).group(1)
    shown = post(admin, page, f"{page}/password-link")
    second = re.search(r'value="http://testserver(/choose-password/[^"]+)"', shown.text).group(1)
    assert editor.get("/", follow_redirects=False).status_code == 200  # nothing changes until the link is used
    assert ui.client().get(first).status_code == 403  # a new link replaces the former one
    browser = ui.client()
    form = browser.get(second)
    assert browser.post(second, data={"csrf": token_of(form), "password": NEW_PASSWORD,
                                      "password-again": NEW_PASSWORD}).status_code == 200
    assert editor.get("/", follow_redirects=False).status_code == 303  # their sessions ended
    assert sign_in(ui.client(), "editor@example.org").status_code == 400
    late = ui.engine.users.password_link("editor@example.org", lifetime=timedelta(seconds=-1))
    assert ui.client().get(f"/choose-password/{late}").status_code == 403
    mine = f"/admin/users/{person_id(ui, 'admin@example.org')}"
    assert post(admin, mine, f"{mine}/password-link").status_code == 403  # one's own: the "My password" page


def test_changing_a_role_ends_the_persons_sessions(ui):
    admin = ui.client(signed_in="admin@example.org")
    editor = ui.client(signed_in="editor@example.org")
    page = f"/admin/users/{person_id(ui, 'editor@example.org')}"
    done = post(admin, page, f"{page}/role", role="viewer")
    assert done.status_code == 303 and "Le rôle a été changé." in admin.get(page).text
    assert ui.engine.users.get("editor@example.org").role == "viewer"
    assert editor.get("/", follow_redirects=False).status_code == 303  # signed out: signs in again as a viewer
    assert post(admin, page, f"{page}/role", role="emperor").status_code == 400


def test_the_last_admin_cannot_be_demoted_and_no_one_deletes_themselves(ui):
    admin = ui.client(signed_in="admin@example.org")
    mine = f"/admin/users/{person_id(ui, 'admin@example.org')}"
    refused = post(admin, mine, f"{mine}/role", role="editor")
    assert refused.status_code == 409 and "C’est le dernier administrateur" in refused.text
    assert 'aria-invalid="true"' in refused.text and ui.engine.users.get("admin@example.org").role == "admin"
    assert "/delete" not in admin.get(mine).text  # no delete button on one's own page
    assert admin.get(f"{mine}/delete").status_code == 403
    itself = admin.post(f"{mine}/delete", data={"csrf": token_of(admin.get(mine))})
    assert itself.status_code == 403 and "Vous ne pouvez pas supprimer votre propre compte" in itself.text
    assert ui.engine.users.get("admin@example.org") is not None
    # with a second admin, the first may step down (and is signed out)
    ui.engine.users.set_role("editor@example.org", "admin")
    stepped = post(admin, mine, f"{mine}/role", role="editor")
    assert stepped.status_code == 303 and ui.engine.users.get("admin@example.org").role == "editor"
    assert admin.get("/admin/users", follow_redirects=False).status_code == 303


def test_the_last_admin_rule_is_cores_on_every_database(engine):
    from beffroi import LastAdmin

    engine.users.create("only@example.org", PASSWORD, role="admin")
    engine.users.create("other@example.org", PASSWORD, role="editor")
    with pytest.raises(LastAdmin):
        engine.users.delete("only@example.org")
    with pytest.raises(LastAdmin):
        engine.users.set_role("only@example.org", "approver")
    assert engine.users.set_role("other@example.org", "admin")
    assert engine.users.set_role("only@example.org", "viewer")
    assert engine.users.delete("only@example.org") and engine.users.count() == 1


def test_an_admin_replaces_a_forgotten_password(ui):
    admin = ui.client(signed_in="admin@example.org")
    editor = ui.client(signed_in="editor@example.org")
    page = f"/admin/users/{person_id(ui, 'editor@example.org')}"
    short = post(admin, page, f"{page}/password", password="short", **{"password-again": "short"})
    assert short.status_code == 400 and "au moins 12 caractères" in short.text
    differ = post(admin, page, f"{page}/password", password=NEW_PASSWORD, **{"password-again": "not the same one"})
    assert differ.status_code == 400 and '<a href="#password-again">' in differ.text
    done = post(admin, page, f"{page}/password", password=NEW_PASSWORD, **{"password-again": NEW_PASSWORD})
    assert done.status_code == 303 and "Le mot de passe a été remplacé." in admin.get(page).text
    assert editor.get("/", follow_redirects=False).status_code == 303
    assert sign_in(ui.client(), "editor@example.org").status_code == 400
    assert sign_in(ui.client(), "editor@example.org", NEW_PASSWORD).status_code == 303
    mine = f"/admin/users/{person_id(ui, 'admin@example.org')}"
    assert post(admin, mine, f"{mine}/password", password=NEW_PASSWORD,
                **{"password-again": NEW_PASSWORD}).status_code == 403  # one's own: the "My password" page


def test_deleting_a_person_asks_first_then_ends_their_sessions(ui):
    admin = ui.client(signed_in="admin@example.org")
    viewer = ui.client(signed_in="viewer@example.org")
    page = f"/admin/users/{person_id(ui, 'viewer@example.org')}"
    confirm = admin.get(f"{page}/delete")
    assert confirm.status_code == 200 and "Supprimer le compte de Viewer\u00a0?" in confirm.text
    assert ui.engine.users.get("viewer@example.org") is not None  # asking deletes nothing
    done = post(admin, f"{page}/delete", f"{page}/delete")
    assert done.status_code == 303 and done.headers["location"] == "/admin/users"
    assert "viewer@example.org" not in admin.get("/admin/users").text
    assert viewer.get("/", follow_redirects=False).status_code == 303
    assert admin.get(page).status_code == 404


def test_admin_forms_without_their_csrf_token_are_refused(ui):
    admin = ui.client(signed_in="admin@example.org")
    other = ui.client(signed_in="admin@example.org")
    foreign = token_of(other.get("/admin/users"))
    page = f"/admin/users/{person_id(ui, 'editor@example.org')}"
    token_id = ui.engine.tokens.create("ci", "editor")[0].id
    for action, fields in [("/admin/users/new", {"email": "x@example.org", "name": "X", "role": "admin",
                                                 "password": NEW_PASSWORD, "password-again": NEW_PASSWORD}),
                           (f"{page}/role", {"role": "admin"}),
                           (f"{page}/password", {"password": NEW_PASSWORD, "password-again": NEW_PASSWORD}),
                           (f"{page}/password-link", {}),
                           (f"{page}/delete", {}), ("/admin/tokens", {"name": "t", "role": "admin"}),
                           (f"/admin/tokens/{token_id}/revoke", {})]:
        for token in (None, foreign):
            answer = admin.post(action, data={**fields, **({"csrf": token} if token else {})})
            assert answer.status_code == 403 and "Ce formulaire a été refusé" in answer.text, action
            assert "bfr_" not in answer.text and "/choose-password/" not in answer.text
    assert ui.engine.users.get("editor@example.org").role == "editor" and len(ui.engine.users.list()) == 3
    assert [t["revoked"] for t in ui.engine.tokens.list()] == [False]


# API tokens

def test_a_new_token_is_shown_once_in_the_answer_and_never_again(ui):
    admin = ui.client(signed_in="admin@example.org")
    created = post(admin, "/admin/tokens", "/admin/tokens", name="site web", role="editor")
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-token"[^>]*value="(bfr_[^"]+)"', created.text).group(1)
    assert "Copiez-le maintenant\u00a0: il ne sera plus affiché." in created.text
    assert "set-cookie" not in created.headers and secret not in created.headers.get("location", "")
    answer = admin.get("/api/recipes", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200  # a real token of the API
    listed = admin.get("/admin/tokens")
    assert "site web" in listed.text and "rédacteur" in listed.text and secret not in listed.text
    assert "bfr_" not in listed.text and 'id="new-token"' not in listed.text


def test_a_token_needs_a_name_and_a_role_of_a_token(ui):
    admin = ui.client(signed_in="admin@example.org")
    nameless = post(admin, "/admin/tokens", "/admin/tokens", name=" ", role="editor")
    assert nameless.status_code == 400 and '<a href="#name">' in nameless.text and "bfr_" not in nameless.text
    approver = post(admin, "/admin/tokens", "/admin/tokens", name="x", role="approver")
    assert approver.status_code == 400 and 'value="x"' in approver.text  # tokens have no approver role
    assert ui.engine.tokens.list() == []


def test_revoking_a_token_asks_first_then_the_api_refuses_it(ui):
    admin = ui.client(signed_in="admin@example.org")
    info, secret = ui.engine.tokens.create("newsletter", "viewer")
    api = ui.client()
    assert api.get("/api/recipes", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    confirm = admin.get(f"/admin/tokens/{info.id}/revoke")
    assert confirm.status_code == 200 and "Révoquer le jeton «\u00a0newsletter\u00a0»\u00a0?" in confirm.text
    done = post(admin, f"/admin/tokens/{info.id}/revoke", f"/admin/tokens/{info.id}/revoke")
    assert done.status_code == 303 and "Le jeton a été révoqué" in admin.get("/admin/tokens").text
    assert api.get("/api/recipes", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert "Révoqué" in admin.get("/admin/tokens").text
    assert admin.get(f"/admin/tokens/{info.id}/revoke").status_code == 404  # already revoked
    assert admin.get("/admin/tokens/nothing/revoke").status_code == 404


# the first account's setup link

@pytest.fixture
def empty(make_engine):
    """An engine with no account, its app, and a one-time setup link's secret."""
    from beffroi import create_app

    engine = make_engine()
    return engine, create_app(engine), engine.users.setup_link()


def first(app, secret, client=LOCAL, **fields):
    browser = TestClient(app, **client)
    page = browser.get(f"/setup/{secret}")
    if page.status_code != 200:
        return page
    values = {"email": "maire@ville.example", "name": "La maire", "password": NEW_PASSWORD,
              "password-again": NEW_PASSWORD, **fields}
    return browser.post(f"/setup/{secret}", data={"csrf": token_of(page), **values}, follow_redirects=False)


def test_the_setup_link_creates_the_first_admin_once_and_signs_them_in(empty):
    engine, app, secret = empty
    browser = TestClient(app, **LOCAL)
    page = browser.get(f"/setup/{secret}")
    assert page.status_code == 200 and "<h1>Créer le premier compte</h1>" in page.text
    done = browser.post(f"/setup/{secret}", data={"csrf": token_of(page), "email": "maire@ville.example",
                                                  "name": "La maire", "password": NEW_PASSWORD,
                                                  "password-again": NEW_PASSWORD}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/admin/users"
    people = browser.get("/admin/users")
    assert people.status_code == 200 and "Votre compte administrateur est prêt" in people.text
    assert engine.users.get("maire@ville.example").role == "admin"
    again = first(app, secret, email="other@ville.example")
    assert again.status_code == 403 and "Ce lien de création ne peut pas être utilisé" in again.text
    assert engine.users.count() == 1


def test_a_refused_first_account_keeps_the_link_working(empty):
    engine, app, secret = empty
    short = first(app, secret, password="short", **{"password-again": "short"})
    assert short.status_code == 400 and "au moins 12 caractères" in short.text and 'value="La maire"' in short.text
    bad = first(app, secret, email="nobody")
    assert bad.status_code == 400 and '<a href="#email">' in bad.text
    assert engine.users.count() == 0
    assert first(app, secret).status_code == 303


@pytest.mark.parametrize("client", [
    {"base_url": "http://127.0.0.1:8000", "client": ("192.0.2.10", 50000)},  # another machine
    {"base_url": "http://beffroi.ville.example", "client": ("127.0.0.1", 50000)},  # a proxy on this machine
    {"base_url": "http://127.0.0.1:8000", "client": ("::ffff:192.0.2.10", 50000)},
])
def test_the_setup_link_works_only_from_a_browser_on_this_machine(empty, client):
    engine, app, secret = empty
    browser = TestClient(app, **client)
    page = browser.get(f"/setup/{secret}")
    assert page.status_code == 403 and "<form method=\"post\" action=\"/setup" not in page.text
    sent = browser.post(f"/setup/{secret}", data={"csrf": token_of(page), "email": "maire@ville.example",
                                                  "name": "X", "password": NEW_PASSWORD,
                                                  "password-again": NEW_PASSWORD})
    assert sent.status_code == 403 and engine.users.count() == 0
    assert first(app, secret).status_code == 303  # the link itself still works from this machine


def test_the_setup_link_expires_is_replaced_and_dies_once_someone_has_an_account(empty):
    engine, app, secret = empty
    assert first(app, "a-guessed-secret").status_code == 403
    late = engine.users.setup_link(lifetime=timedelta(seconds=-1))
    assert first(app, late).status_code == 403
    assert first(app, secret).status_code == 403  # a new link replaces the former one
    fresh = engine.users.setup_link()
    engine.users.create("it@ville.example", PASSWORD, role="admin")  # made with the CLI meanwhile
    assert first(app, fresh).status_code == 403


def test_the_setup_secret_is_stored_hashed(empty):
    engine, _, secret = empty
    from sqlalchemy import text

    with engine.db.engine.connect() as conn:
        stored = " ".join(row[0] for row in conn.execute(text("SELECT value FROM installation")))
    assert secret not in stored


# the store under the pages, on SQLite and on PostgreSQL

def test_a_setup_link_is_used_up_on_every_database(engine):
    secret = engine.users.setup_link()
    assert engine.users.setup_link_valid(secret) and not engine.users.setup_link_valid("guess")
    with pytest.raises(ValueError):
        engine.users.first_admin(secret, "not an address", NEW_PASSWORD)
    user = engine.users.first_admin(secret, "maire@ville.example", NEW_PASSWORD, name="La maire")
    assert user.role == "admin" and not engine.users.setup_link_valid(secret)
    with pytest.raises(LookupError):
        engine.users.first_admin(secret, "other@ville.example", NEW_PASSWORD)


def test_a_password_link_is_used_up_on_every_database(engine):
    engine.users.create("dora@example.org", None)
    secret = engine.users.password_link("dora@example.org")
    assert engine.users.password_link_owner(secret).email == "dora@example.org"
    assert engine.users.use_password_link(secret, NEW_PASSWORD).email == "dora@example.org"
    assert engine.users.verify("dora@example.org", NEW_PASSWORD) is not None
    with pytest.raises(LookupError):
        engine.users.use_password_link(secret, "another long password")
    assert engine.users.password_link("nobody@example.org") is None


def test_failures_counted_by_one_process_make_another_wait(engine):
    now = [5000.0]
    here = SignInThrottle(engine.db, clock=lambda: now[0])
    there = SignInThrottle(engine.db, clock=lambda: now[0])  # another worker, the same database
    for _ in range(5):
        here.failed("account:a@example.org", "address:192.0.2.1")
    assert there.wait("account:a@example.org") == 15 * 60
    assert there.wait("address:192.0.2.1", "account:b@example.org") == 15 * 60
    assert there.wait("account:b@example.org") == 0
    there.succeeded("account:a@example.org")
    assert here.wait("account:a@example.org") == 0 and here.wait("address:192.0.2.1") == 15 * 60
    now[0] += 10 * 60
    here.failed("address:192.0.2.1")
    assert there.wait("address:192.0.2.1") == 5 * 60  # when the 5th most recent failure leaves the window
    now[0] += 15 * 60
    assert here.wait("address:192.0.2.1") == 0
    here.failed("account:c@example.org")  # prunes the rows older than the window
    from sqlalchemy import text

    with engine.db.engine.connect() as conn:
        keys = [row[0] for row in conn.execute(text("SELECT key_hash FROM sign_in_failures"))]
    assert len(keys) == 1 and "c@example.org" not in keys[0] and len(keys[0]) == 64


def test_serve_prints_a_one_time_setup_link_beside_the_cli_hint(tmp_path):
    import httpx

    from .test_serve import Server

    server = Server(tmp_path)
    try:
        server.start()
        printed = server.output.read_text()
        assert "`beffroi user create EMAIL --role admin`" in printed
        link = re.search(r"^\s+(http://127\.0\.0\.1:\d+/setup/\S+)\s*$", printed, re.MULTILINE).group(1)
        assert link.startswith(server.url("/setup/"))
        with httpx.Client(trust_env=False) as browser:
            page = browser.get(link)
            assert page.status_code == 200
            done = browser.post(link, data={"csrf": token_of(page), "email": "maire@ville.example", "name": "La maire",
                                            "password": NEW_PASSWORD, "password-again": NEW_PASSWORD})
            assert done.status_code == 303 and done.headers["location"] == "/admin/users"
            assert browser.get(server.url("/admin/users")).status_code == 200  # signed in as the new admin
        assert httpx.get(link, trust_env=False).status_code == 403  # used up
        assert server.stop()
        server.start()
        assert server.output.read_text().count("/setup/") == 1  # someone has an account: no new link
    finally:
        if server.process and server.process.poll() is None:
            server.process.kill()
            server.process.wait()
