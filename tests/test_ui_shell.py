"""The web UI's shell: headers and markup of every page, languages, the recipes home, the 404 page, catalogs."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from beffroi import Settings
from beffroi.errors import SetupError
from beffroi_ui import i18n

from .helpers import recipe
from .ui_helpers import token_of, ui  # noqa: F401

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
       "form-action 'self'; base-uri 'none'")

def pages(ui):
    """Every page of this slice as its visitors see it, in French and in English."""
    seen = []
    for language in ("fr", "en"):
        anonymous = ui.client(cookies={"beffroi_lang": language})
        seen += [anonymous.get("/login"), anonymous.get("/nothing-here", headers={"accept": "text/html"})]
        person = ui.client(signed_in="editor@example.org", cookies={"beffroi_lang": language})
        seen += [person.get("/"), person.get("/password"),
                 person.post("/password", data={"csrf": token_of(person.get("/")), "current": "x", "new": "y"}),
                 person.post("/logout", data={"csrf": "forged"})]
    return seen

def test_every_page_has_the_security_headers_and_no_inline_script_or_style(ui):
    ui.engine.save_recipe(recipe({"id": "a", "uses": "data.set", "with": {"x": "<script>alert(1)</script>"}},
                                 name="news"))
    for page in pages(ui):
        assert page.headers["content-type"].startswith("text/html"), page.url
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["x-content-type-options"] == "nosniff"
        html = page.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), page.url  # no inline script…
        assert "<style" not in html and not re.search(r"\sstyle=", html), page.url  # …nor inline style
        assert not re.search(r"\son[a-z]+=", html), page.url  # nor event handler attributes

def test_every_page_has_a_language_a_skip_link_landmarks_and_one_h1(ui):
    for page in pages(ui):
        html = page.text
        assert re.search(r'<html lang="(fr|en)">', html)
        assert '<a class="skip-link" href="#main">' in html and '<main id="main"' in html
        assert "<header" in html and html.count("<h1") == 1, page.url
        assert 'role="status" aria-live="polite"' in html

def test_the_signed_in_shell_has_a_navigation_and_a_sign_out_form(ui):
    home = ui.client(signed_in="admin@example.org").get("/")
    assert '<nav aria-label="Menu principal">' in home.text and 'aria-current="page"' in home.text
    assert 'action="/logout"' in home.text and "Admin (administrateur)" in home.text

def test_the_language_is_the_choice_then_accept_language_then_french(ui):
    browser = ui.client()
    assert '<html lang="fr">' in browser.get("/login").text
    assert '<html lang="en">' in browser.get("/login", headers={"accept-language": "en-GB,en;q=0.9"}).text
    assert '<html lang="fr">' in browser.get("/login", headers={"accept-language": "nl-BE, fr;q=0.5, en;q=0.4"}).text
    assert '<html lang="fr">' in browser.get("/login", headers={"accept-language": "de, nl;q=0.5"}).text
    page = browser.get("/login?next=/password")
    switched = browser.post("/language", data={"csrf": token_of(page), "language": "en", "next": "/login?next=/x"},
                            follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/login?next=/x"
    assert "beffroi_lang=en" in switched.headers["set-cookie"]
    english = browser.get("/login", headers={"accept-language": "fr"})
    assert '<html lang="en">' in english.text and "<h1>Sign in to Beffroi</h1>" in english.text
    # the switch offers the other language, named in that language
    assert 'value="fr" lang="fr"' in english.text and ">Français</button>" in english.text

def test_the_language_switch_refuses_a_foreign_form_and_an_unknown_language(ui):
    browser = ui.client()
    token = token_of(browser.get("/login"))
    assert browser.post("/language", data={"language": "en", "next": "/"}).status_code == 403
    odd = browser.post("/language", data={"csrf": token, "language": "xx", "next": "https://evil.example"},
                       follow_redirects=False)
    assert odd.headers["location"] == "/" and "beffroi_lang" not in odd.headers.get("set-cookie", "")

def test_home_lists_recipes_with_their_state_and_last_run_in_the_local_time(ui):
    engine = ui.engine
    engine.save_recipe(recipe({"id": "a", "uses": "data.set", "with": {"x": 1}}, name="news"))
    engine.save_recipe({**recipe({"id": "a", "uses": "data.set", "with": {"x": 1}}, name="quiet"),
                        "title": "Calme <plat>", "enabled": False})
    run = engine.run_recipe(engine.recipes.get("news")[0], {})
    from sqlalchemy import update

    from beffroi.store.models import RunRow

    with engine.db.session() as session:  # a known time: 7 December 2026, 12:00 UTC is 13:00 in Brussels
        session.execute(update(RunRow).where(RunRow.id == run["id"]).values(
            finished_at=datetime(2026, 12, 7, 12, 0, tzinfo=UTC)))
    browser = ui.client(signed_in="viewer@example.org")
    french = browser.get("/").text
    assert "<code>news</code>" in french and "Calme &lt;plat&gt;" in french  # autoescaped
    assert "Activée" in french and "Désactivée" in french and "Jamais exécutée" in french
    assert "réussie" in french and "7 déc. 2026, 13:00:00" in french
    english = browser.get("/", headers={"accept-language": "en"}).text
    assert "succeeded" in english and "Dec 7, 2026, 1:00:00" in english and "Never run" in english

def test_the_time_zone_is_a_setting(monkeypatch):
    monkeypatch.delenv("BEFFROI_TIMEZONE", raising=False)
    assert Settings(_env_file=None).timezone == "Europe/Brussels"
    monkeypatch.setenv("BEFFROI_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SetupError, match=r"BEFFROI_TIMEZONE: .*unknown time zone"):
        Settings.from_environment()

def test_a_missing_page_is_a_page_for_browsers_and_problem_json_for_the_api(ui):
    browser = ui.client()
    page = browser.get("/no/such/page", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and "<h1>Page introuvable</h1>" in page.text
    api = browser.get("/api/nothing", headers={"accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    assert browser.get("/no/such/page").headers["content-type"] == "application/problem+json"

def test_the_api_docs_stay_and_the_stylesheet_is_served(ui):
    browser = ui.client()
    assert browser.get("/docs").status_code == 200
    css = browser.get("/static/beffroi.css")
    assert css.status_code == 200 and ":focus-visible" in css.text and "system-ui" in css.text

def _catalog(language: str):
    return i18n.catalog(language)

def test_every_message_of_the_ui_has_a_french_and_an_english_translation():
    with (UI_DIR / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    used = {message for _, _, message, _, _ in extract_from_dir(str(UI_DIR), method_map, options_map)}
    assert len(used) > 40
    for language in ("fr", "en"):
        catalog = _catalog(language)
        for message in used:
            key = message[0] if isinstance(message, tuple) else message
            entry = catalog.get(key)
            assert entry is not None, f"{language}: {key!r} is not in the catalog (pybabel update, ui/locale/README.md)"
            forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            assert all(forms) and not entry.fuzzy, f"{language}: {key!r} is not translated"
