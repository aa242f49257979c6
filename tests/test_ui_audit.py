"""The audit log's page: admins and approvers read it, filtered by who, what, target and days, a page at a time."""
from __future__ import annotations

from datetime import timedelta

from beffroi import utcnow

from .ui_helpers import ui  # noqa: F401  (the `ui` fixture)

EN = {"Accept-Language": "en"}


def test_the_log_is_for_admins_and_approvers_only(ui):
    ui.engine.users.create("head@example.org", "correct horse battery staple", role="approver", name="Head")
    for who, status in (("viewer@example.org", 403), ("editor@example.org", 403), ("head@example.org", 200),
                        ("admin@example.org", 200)):
        browser = ui.client(signed_in=who, headers=EN)
        assert browser.get("/audit").status_code == status
        assert ('href="/audit"' in browser.get("/").text) is (status == 200)  # in the menu only for them
    assert ui.client().get("/audit", follow_redirects=False).headers["location"] == "/login?next=%2Faudit"


def test_entries_read_in_words_newest_first_in_each_language(ui):
    engine = ui.engine
    engine.accounts.create_token("site-form", "editor", actor="admin@example.org")
    engine.accounts.set_role("editor@example.org", "approver", actor="admin@example.org")
    english = ui.client(signed_in="admin@example.org", headers=EN).get("/audit").text
    assert english.index("Role changed") < english.index("API token created")
    assert "former role: editor" in english and "role: approver" in english
    assert "<caption" in english and '<th scope="col">Who</th>' in english
    french = ui.client(signed_in="admin@example.org").get("/audit").text
    assert "Rôle modifié" in french and "ancien rôle : editor" in french and "Journal d’audit" in french


def test_filters_narrow_and_pages_follow_the_filters(ui):
    engine = ui.engine
    for number in range(60):
        engine.audit.record("ana@example.org", "recipe.saved", "recipe", f"news-{number:02d}", {"version": 1})
    engine.audit.record("token:bot", "connection.deleted", "connection", "old-smtp")
    engine.audit.record("ben@example.org", "recipe.deleted", "recipe", "news-07",
                        at=utcnow() - timedelta(days=40))
    admin = ui.client(signed_in="admin@example.org", headers=EN)
    first = admin.get("/audit?what=recipe").text
    assert "old-smtp" not in first and first.count('<th scope="row"') == 50
    assert "news-59" in first and "news-11" in first and "news-10" not in first  # newest recorded first
    older = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "what=recipe" in older and "before=" in older
    second = admin.get(older).text
    assert second.count('<th scope="row"') == 11 and "news-10" in second and 'rel="next"' not in second
    assert "First page" in second
    who = admin.get("/audit?who=token%3Abot").text
    assert who.count('<th scope="row"') == 1 and "Connection deleted" in who
    target = admin.get("/audit?target=news-07").text
    assert target.count('<th scope="row"') == 2
    today = utcnow().date()
    recent = admin.get(f"/audit?target=news-07&from={today - timedelta(days=2)}").text
    assert recent.count('<th scope="row"') == 1 and "Recipe saved" in recent
    old = admin.get(f"/audit?to={today - timedelta(days=30)}").text
    assert old.count('<th scope="row"') == 1 and "ben@example.org" in old
    assert "No change matches these filters." in admin.get("/audit?who=nobody%40example.org").text


def test_a_bad_date_is_said_beside_its_field(ui):
    admin = ui.client(signed_in="admin@example.org", headers=EN)
    page = admin.get("/audit?from=2026-13-45&to=2026-01-01")
    assert page.status_code == 400
    assert 'id="from-error"' in page.text and 'href="#from"' in page.text and "Enter a real date" in page.text
    backwards = admin.get("/audit?from=2026-02-01&to=2026-01-01")
    assert backwards.status_code == 400 and "The end date must be on or after the start date." in backwards.text
