"""Signing in to the web UI: sessions in cookies, CSRF tokens on every form, throttled failures, roles, passwords."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest

from beffroi import SignInThrottle

from .helpers import recipe
from .ui_helpers import PASSWORD, sign_in, token_of, ui  # noqa: F401


def test_pages_need_a_signed_in_person_and_come_back_after_sign_in(ui):
    browser = ui.client()
    answer = browser.get("/password?x=1", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fpassword%3Fx%3D1"
    signed = sign_in(browser, "editor@example.org", next="/password?x=1")
    assert signed.status_code == 303 and signed.headers["location"] == "/password?x=1"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("beffroi_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here (a local test); see the next test for HTTPS
    page = browser.get("/password")
    assert page.status_code == 200 and "<h1>Changer mon mot de passe</h1>" in page.text


def test_the_session_cookie_is_secure_over_https(ui):
    browser = ui.client(base_url="https://testserver")
    signed = sign_in(browser, "editor@example.org")
    assert signed.status_code == 303 and "Secure" in signed.headers["set-cookie"]


def test_a_session_is_stored_as_a_hash_only(ui):
    signed = sign_in(ui.client(), "viewer@example.org")
    clear = signed.cookies["beffroi_session"]
    from sqlalchemy import text

    with ui.engine.db.engine.connect() as conn:
        stored = [row[0] for row in conn.execute(text("SELECT id_hash FROM user_sessions"))]
    assert len(stored) == 1 and clear not in stored[0] and len(stored[0]) == 64


@pytest.mark.parametrize("email, password", [("editor@example.org", "wrong password, long enough"),
                                             ("nobody@example.org", PASSWORD)])
def test_a_failed_sign_in_says_the_same_for_an_unknown_account_and_a_wrong_password(ui, email, password):
    answer = sign_in(ui.client(), email, password)
    assert answer.status_code == 400
    assert "L’adresse e-mail ou le mot de passe n’est pas correct." in answer.text
    assert 'class="error-summary"' in answer.text and '<a href="#email">' in answer.text  # the summary links the field
    assert 'aria-describedby="email-error"' in answer.text and 'aria-invalid="true"' in answer.text
    assert f'value="{email}"' in answer.text and password not in answer.text  # the address is kept, never the password
    assert "beffroi_session" not in answer.headers.get("set-cookie", "")


def test_empty_fields_are_named_each_beside_its_field(ui):
    answer = sign_in(ui.client(), "", "")
    assert answer.status_code == 400
    assert answer.text.count('class="error-message"') == 2
    assert '<a href="#email">' in answer.text and '<a href="#password">' in answer.text


def test_five_failures_make_an_account_wait_and_say_how_long(ui):
    now = [1000.0]
    ui.app.state.sign_in_throttle = SignInThrottle(ui.engine.db, clock=lambda: now[0])
    browser = ui.client()
    for _ in range(5):
        assert sign_in(browser, "editor@example.org", "not the password at all").status_code == 400
    blocked = sign_in(browser, "editor@example.org")  # even the right password waits
    assert blocked.status_code == 429
    assert "Trop de connexions échouées. Attendez 15 minutes avant de réessayer." in blocked.text
    now[0] += 14 * 60 + 1
    assert "Attendez 1 minute avant" in sign_in(browser, "editor@example.org").text
    now[0] += 60
    assert sign_in(browser, "editor@example.org").status_code == 303


def test_failures_from_one_address_on_many_accounts_make_that_address_wait(ui):
    browser = ui.client()
    for number in range(5):
        assert sign_in(browser, f"guess{number}@example.org", "not the password at all").status_code == 400
    assert sign_in(browser, "admin@example.org").status_code == 429


def test_a_form_without_its_csrf_token_is_refused_in_plain_words(ui):
    browser = ui.client()
    browser.get("/login")
    answer = browser.post("/login", data={"email": "editor@example.org", "password": PASSWORD})
    assert answer.status_code == 403
    assert "Ce formulaire a été refusé" in answer.text and "<h1>Refusé</h1>" in answer.text
    signed = ui.client(signed_in="editor@example.org")
    other = ui.client(signed_in="editor@example.org")
    wrong = signed.post("/logout", data={"csrf": token_of(other.get("/"))}, follow_redirects=False)
    assert wrong.status_code == 403  # the token of another session
    assert signed.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_a_cross_site_form_without_the_cookie_token_is_refused(ui):
    attacker = ui.client()
    token = token_of(ui.client().get("/login"))  # a token, but not this browser's
    answer = attacker.post("/login", data={"csrf": token, "email": "editor@example.org", "password": PASSWORD})
    assert answer.status_code == 403


def test_sign_out_ends_the_session_for_good(ui):
    browser = ui.client(signed_in="editor@example.org")
    clear = browser.cookies["beffroi_session"]
    out = browser.post("/logout", data={"csrf": token_of(browser.get("/"))}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert ui.engine.users.session(clear) is None
    page = browser.get("/login")
    assert "Vous êtes déconnecté·e." in page.text and 'role="status"' in page.text
    replay = ui.client(cookies={"beffroi_session": clear})
    assert replay.get("/", follow_redirects=False).headers["location"] == "/login"


def test_an_expired_session_sends_back_to_sign_in(ui):
    browser = ui.client(signed_in="editor@example.org")
    ui.engine.users.expire_sessions("editor@example.org")
    answer = browser.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert 'beffroi_session=""' in browser.get("/login").headers.get("set-cookie", "")  # the dead cookie is dropped


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x",
                                    "/%0d%0aLocation: x", "http:/evil.example", "evil.example", "/\tx"])
def test_next_never_leaves_the_site(ui, target):
    answer = sign_in(ui.client(), "editor@example.org", next=target)
    location = answer.headers["location"]
    assert answer.status_code == 303 and location.startswith("/") and not location.startswith(("//", "/\\"))
    assert not urlsplit(location).netloc and not any(c in location for c in "\r\n\t")


def test_a_local_next_with_a_query_is_kept(ui):
    assert sign_in(ui.client(), "editor@example.org", next="/runs?status=failed").headers["location"] == \
        "/runs?status=failed"


def test_a_viewer_sees_no_edit_controls_and_cannot_post_edits(ui):
    ui.engine.save_recipe(recipe({"id": "a", "uses": "data.set", "with": {"message": "hi"}}, name="news"))
    viewer = ui.client(signed_in="viewer@example.org")
    home = viewer.get("/")
    assert "news" in home.text and "Désactiver" not in home.text and "/enabled" not in home.text
    refused = viewer.post("/recipes/news/enabled", data={"csrf": token_of(home), "enabled": "0"})
    assert refused.status_code == 403 and "rôle rédacteur" in refused.text
    assert ui.engine.recipes.get_row("news")["enabled"] is True
    editor = ui.client(signed_in="editor@example.org")
    done = editor.post("/recipes/news/enabled", data={"csrf": token_of(editor.get("/")), "enabled": "0"})
    assert done.status_code == 200 and "La recette est désactivée." in done.text
    assert ui.engine.recipes.get_row("news")["enabled"] is False
    assert ui.engine.recipes.versions("news")[0]["author"] == "editor@example.org"
    missing = editor.post("/recipes/nothing/enabled", data={"csrf": token_of(editor.get("/")), "enabled": "1"})
    assert missing.status_code == 404


def test_changing_ones_password(ui):
    browser = ui.client(signed_in="editor@example.org")
    elsewhere = ui.client(signed_in="editor@example.org")

    def change(current, new, confirm):
        return browser.post("/password", data={"csrf": token_of(browser.get("/password")), "current": current,
                                               "new": new, "confirm": confirm}, follow_redirects=False)

    wrong = change("not my password at all", "a new long password", "a new long password")
    assert wrong.status_code == 400 and "Votre mot de passe actuel n’est pas correct." in wrong.text
    short = change(PASSWORD, "short", "short")
    assert "au moins 12 caractères" in short.text and 'aria-describedby="new-hint new-error"' in short.text
    differ = change(PASSWORD, "a new long password", "another long password")
    assert "Les deux nouveaux mots de passe ne sont pas identiques." in differ.text
    done = change(PASSWORD, "a new long password", "a new long password")
    assert done.status_code == 303
    assert "Votre mot de passe a été changé." in browser.get("/").text  # still signed in here
    assert elsewhere.get("/", follow_redirects=False).status_code == 303  # the other session ended
    assert sign_in(ui.client(), "editor@example.org").status_code == 400
    assert sign_in(ui.client(), "editor@example.org", "a new long password").status_code == 303


def test_passwords_never_reach_the_logs(ui, caplog):
    caplog.set_level(logging.DEBUG)
    browser = ui.client()
    sign_in(browser, "editor@example.org", "a wrong password 123")
    sign_in(browser, "editor@example.org")
    browser.post("/password", data={"csrf": token_of(browser.get("/password")), "current": PASSWORD,
                                    "new": "the next password 456", "confirm": "the next password 456"})
    for secret in ("a wrong password 123", PASSWORD, "the next password 456"):
        assert secret not in caplog.text
