"""The recipes pages of the web UI: the home (search, pages, next scheduled time, recent failures, what runs next),
a recipe's overview, enable/disable, duplicate, delete with confirmation, versions with a diff and restore."""
from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from croniter import croniter
from sqlalchemy import event

from beffroi_ui.catalog import translated

from .helpers import RecordingPlugin, recipe
from .ui_helpers import token_of, ui  # noqa: F401

STEP = {"id": "greet", "uses": "data.set", "with": {"text": "Hello"}}


def save(engine, name: str, *, title: str = "", author: str = "api", **fields) -> None:
    engine.save_recipe({**recipe(STEP, name=name), "title": title, **fields}, author=author)


def weekly(name: str = "weekly", **fields) -> dict:
    return {**recipe(STEP, name=name, trigger="builtins.schedule"), "title": "Monday mail",
            "trigger": {"uses": "builtins.schedule", "schedule": "0 9 * * 1", "with": {"timezone": "Europe/Paris"}},
            **fields}


def post(browser, path: str, page: str = "/", **data):
    """Post a form of `page` with its CSRF token, as a browser does; the answer is not followed."""
    return browser.post(path, data={"csrf": token_of(browser.get(page)), **data}, follow_redirects=False)


def test_the_home_searches_recipes_by_name_and_title_in_any_case(ui):
    save(ui.engine, "city-news", title="Nouvelles de la ville")
    save(ui.engine, "press", title="Communiqués de presse")
    save(ui.engine, "odd-100", title="Done at 100% or_not")
    browser = ui.client(signed_in="viewer@example.org")
    everything = browser.get("/").text
    assert all(f"<code>{n}</code>" in everything for n in ("city-news", "press", "odd-100"))
    assert '<form method="get" action="/" role="search"' in everything and '<label for="q">' in everything
    by_title = browser.get("/", params={"q": "NOUVELLES"}).text
    assert "<code>city-news</code>" in by_title and "<code>press</code>" not in by_title
    assert "1 recette correspond à « NOUVELLES »." in by_title and 'value="NOUVELLES"' in by_title
    assert "<code>press</code>" in browser.get("/", params={"q": "pre"}).text
    # % and _ are searched as themselves, not as SQL wildcards
    literal = browser.get("/", params={"q": "100%"}).text
    assert "<code>odd-100</code>" in literal and "<code>press</code>" not in literal
    assert "<code>city-news</code>" not in browser.get("/", params={"q": "y_n"}).text
    none = browser.get("/", params={"q": "<nothing>"}, headers={"accept-language": "en"}).text
    assert "No recipe matches “&lt;nothing&gt;”." in none and '<a href="/">Show all recipes</a>' in none


def test_the_home_shows_fifty_recipes_a_page_with_previous_and_next_links(ui):
    for i in range(120):
        save(ui.engine, f"recipe-{i:03d}", title=f"Number {i}")
    browser = ui.client(signed_in="viewer@example.org", cookies={"beffroi_lang": "en"})
    first = browser.get("/").text
    assert first.count("<code>recipe-") == 50 and "<code>recipe-000</code>" in first
    assert "<code>recipe-050</code>" not in first and "120 recipes." in first and "Page 1 of 3." in first
    assert '<nav class="pagination" aria-label="Pages of recipes">' in first
    assert '<a href="/?page=2" rel="next">Next page' in first and 'rel="prev"' not in first
    last = browser.get("/?page=3").text
    assert last.count("<code>recipe-") == 20 and "<code>recipe-119</code>" in last
    assert '<a href="/?page=2" rel="prev">Previous page' in last and 'rel="next"' not in last
    searched = browser.get("/", params={"q": "recipe-0", "page": "2"}).text  # 100 matches: 2 pages, the search kept
    assert searched.count("<code>recipe-0") == 50 and "<code>recipe-099</code>" in searched
    assert '<a href="/?q=recipe-0&amp;page=1" rel="prev">' in searched and 'rel="next"' not in searched
    assert browser.get("/?page=abc").status_code == 200  # a page number that does not read is the first page
    assert "<code>recipe-119</code>" in browser.get("/?page=9").text  # past the end: the last page


def test_the_home_asks_only_for_the_runs_of_its_page_through_indexes(ui):
    for i in range(60):
        save(ui.engine, f"recipe-{i:03d}")
    for name in ("recipe-001", "recipe-059"):
        ui.engine.run_recipe(ui.engine.recipes.get(name)[0], {})
    browser = ui.client(signed_in="viewer@example.org")
    statements: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM runs" in statement:
            statements.append((statement, parameters))

    event.listen(ui.engine.db.engine, "before_cursor_execute", record)
    try:
        page = browser.get("/").text
    finally:
        event.remove(ui.engine.db.engine, "before_cursor_execute", record)
    assert "réussie" in page  # recipe-001's run, on the first page
    assert statements, "the home read no run"
    database = sqlite3.connect(ui.engine.settings.database_url.removeprefix("sqlite:///"))
    for statement, parameters in statements:
        plan = " / ".join(row[3] for row in database.execute("EXPLAIN QUERY PLAN " + statement, parameters))
        assert not re.search(r"\bSCAN runs\b", plan), (statement, plan)  # never a pass over every run
        assert "recipe-059" not in parameters  # only the recipes of the page
    database.close()


def test_the_home_shows_the_next_scheduled_time_and_what_runs_next(ui):
    ui.engine.save_recipe(weekly(), author="api")
    ui.engine.save_recipe(weekly("paused", enabled=False, title="Paused mail"), author="api")
    save(ui.engine, "by-hand")
    browser = ui.client(signed_in="viewer@example.org")
    now = datetime.now(UTC)
    page = browser.get("/").text
    # 9:00 in Paris on the next Monday, shown in the installation's zone (Brussels: the same hour)
    tick = croniter("0 9 * * 1", now.astimezone(ZoneInfo("Europe/Paris"))).get_next(datetime)
    expected = format_datetime(tick, "medium", tzinfo=ZoneInfo("Europe/Brussels"), locale="fr")
    assert "09:00:00" in expected
    row = re.search(r"<code>weekly</code>.*?</tr>", page, re.S).group(0)
    assert expected in row
    paused = re.search(r"<code>paused</code>.*?</tr>", page, re.S).group(0)
    assert expected not in paused and "Non programmée" in paused  # a disabled recipe does not run
    assert "Non programmée" in re.search(r"<code>by-hand</code>.*?</tr>", page, re.S).group(0)
    upcoming = page.split('id="next-title"', 1)[1]
    assert '<a href="/recipes/weekly">Monday mail</a>' in upcoming and expected in upcoming
    assert "Paused mail" not in upcoming


def test_the_home_lists_recent_failures_linked_to_their_runs(ui):
    from sqlalchemy import update

    from beffroi.store.models import RunRow

    engine = ui.engine
    for name in ("fine", "broken"):
        save(engine, name)
    failed = engine.run_recipe(engine.recipes.get("broken")[0], {})
    with engine.db.session() as session:  # as a run whose remote service refused it
        session.execute(update(RunRow).where(RunRow.id == failed["id"]).values(status="failed",
                                                                                error="remote <refused>\nline 2"))
    engine.run_recipe(engine.recipes.get("fine")[0], {})
    preview = engine.run_recipe(engine.recipes.get("fine")[0], {}, dry_run=True)
    with engine.db.session() as session:  # a preview that failed is not a failure of the recipe
        session.execute(update(RunRow).where(RunRow.id == preview["id"]).values(status="failed"))
    page = ui.client(signed_in="viewer@example.org").get("/").text
    failures = page.split('id="failures-title"', 1)[1].split("</section>", 1)[0]
    assert f'<a href="/runs/{failed["id"]}">broken' in failures and "fine" not in failures
    assert "remote &lt;refused&gt;" in failures and "line 2" not in failures
    assert f'<a href="/runs/{failed["id"]}">' in page.split("<code>broken</code>", 1)[1]  # its last run, linked


def test_a_viewer_sees_no_edit_controls_and_cannot_duplicate_or_delete(ui):
    save(ui.engine, "news")
    save(ui.engine, "news", title="News")  # an earlier version an editor could restore
    viewer = ui.client(signed_in="viewer@example.org")
    home = viewer.get("/").text
    assert "/duplicate" not in home and "/delete" not in home and "/enabled" not in home
    assert 'href="/recipes/new"' not in home
    overview = viewer.get("/recipes/news").text
    assert "/recipes/news/edit" not in overview and "/duplicate" not in overview and "/delete" not in overview
    assert 'href="/recipes/news/versions"' in overview and 'href="/recipes/news/runs"' in overview
    assert "/restore" not in viewer.get("/recipes/news/versions").text
    assert viewer.get("/recipes/news/delete").status_code == 403
    for action in ("duplicate", "delete", "enabled"):
        refused = post(viewer, f"/recipes/news/{action}")
        assert refused.status_code == 403 and "rôle rédacteur" in refused.text, action
    assert ui.engine.recipes.get_row("news")["version"] == 2 and len(ui.engine.recipes.list()) == 1
    editor = ui.client(signed_in="editor@example.org").get("/").text
    assert 'href="/recipes/new"' in editor and 'action="/recipes/news/duplicate"' in editor
    assert 'href="/recipes/news/delete"' in editor
    assert 'action="/recipes/news/versions/1/restore"' in ui.client(signed_in="editor@example.org").get(
        "/recipes/news/versions").text


def test_duplicate_saves_a_disabled_copy_under_a_free_name_by_the_person(ui):
    save(ui.engine, "news", title="News")
    editor = ui.client(signed_in="editor@example.org")
    assert post(editor, "/recipes/news/duplicate").status_code == 303
    copy = ui.engine.recipes.get_row("news-copy")
    assert copy["enabled"] is False and copy["definition"]["title"] == "News (copie)"
    assert copy["definition"]["steps"] == ui.engine.recipes.get_row("news")["definition"]["steps"]
    assert ui.engine.recipes.history("news-copy")[0]["author"] == "editor@example.org"
    again = post(editor, "/recipes/news/duplicate")
    assert again.headers["location"] == "/recipes/news-copy-2"
    shown = editor.get(again.headers["location"])
    assert "La recette a été dupliquée" in shown.text and "<code>news-copy-2</code>" in shown.text
    forged = editor.post("/recipes/news/duplicate", data={"csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and "recipe" not in forged.headers.get("location", "")
    assert post(editor, "/recipes/nothing/duplicate").status_code == 404
    assert {r["name"] for r in ui.engine.recipes.list()} == {"news", "news-copy", "news-copy-2"}


def test_delete_asks_first_naming_what_is_lost_and_needs_the_form_token(ui):
    save(ui.engine, "news", title="News")
    save(ui.engine, "news", title="News again")
    run = ui.engine.run_recipe(ui.engine.recipes.get("news")[0], {})
    editor = ui.client(signed_in="editor@example.org", cookies={"beffroi_lang": "en"})
    confirm = editor.get("/recipes/news/delete")
    assert confirm.status_code == 200
    text = confirm.text
    assert "<h1>Delete the recipe News again?</h1>" in text and "This cannot be undone." in text
    assert "its history: 2 saved versions;" in text and "Its 1 run stays in the list of runs" in text
    assert 'action="/recipes/news/delete"' in text and 'name="csrf"' in text
    assert editor.post("/recipes/news/delete", data={"csrf": "forged"}).status_code == 403
    assert editor.post("/recipes/news/delete", data={}).status_code == 403
    assert ui.engine.recipes.get_row("news")["version"] == 2  # still there
    done = post(editor, "/recipes/news/delete", "/recipes/news/delete")
    assert done.status_code == 303 and done.headers["location"] == "/"
    home = editor.get("/").text
    assert "The recipe was deleted. Its runs are kept." in home and "<code>news</code>" not in home
    assert ui.engine.runs.detail(run["id"]) is not None  # the run stays for the record
    assert editor.get("/recipes/news/delete").status_code == 404


def test_a_recipe_overview_says_in_words_what_starts_it_and_what_it_does(ui):
    ui.engine.save_recipe({**weekly(), "description": "Le courriel <du lundi>", "steps": [
        STEP, {"id": "each", "title": "One per item", "uses": "data.set", "with": {"x": 1},
               "for_each": "{{ trigger.items }}", "on_error": "continue"}]}, author="api")
    editor = ui.client(signed_in="editor@example.org", cookies={"beffroi_lang": "en"})
    page = editor.get("/recipes/weekly")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Monday mail</h1>" in text and "Le courriel &lt;du lundi&gt;" in text
    title = translated(ui.engine.registry.triggers["builtins.schedule"].title, "en")  # the catalog's plain words
    assert f"<strong>{title}</strong>" in text and "<code>0 9 * * 1</code>" in text and "Europe/Paris" in text
    assert "Next run:" in text and "Enabled" in text
    action = translated(ui.engine.registry.actions["data.set"].title, "en")
    assert f"<strong>{action}</strong>" in text and "<strong>One per item</strong> – " + action in text
    assert "<code>{{ trigger.items }}</code>" in text and "the recipe goes on" in text
    for link in ("/recipes/weekly/edit", "/recipes/weekly/test", "/recipes/weekly/runs", "/recipes/weekly/versions"):
        assert f'href="{link}"' in text, link
    assert "Never run" in text
    french = ui.client(signed_in="editor@example.org", cookies={"beffroi_lang": "fr"}).get("/recipes/weekly").text
    assert "<strong>Selon un horaire</strong>" in french  # the catalog's French
    assert "<strong>One per item</strong> – Préparer des valeurs" in french


def test_an_unknown_recipe_is_a_404_page(ui):
    browser = ui.client(signed_in="editor@example.org")
    for path in ("/recipes/nothing", "/recipes/nothing/versions", "/recipes/nothing/delete",
                 "/recipes/nothing/versions/diff?from=1&to=2"):
        page = browser.get(path)
        assert page.status_code == 404 and "<h1>Page introuvable</h1>" in page.text, path
    assert post(browser, "/recipes/nothing/delete").status_code == 404
    assert post(browser, "/recipes/nothing/versions/1/restore").status_code == 404


def test_enabling_a_recipe_whose_connection_is_missing_says_why(ui):
    ui.engine.save_recipe({**recipe({"id": "post", "uses": "smms.publish", "connection": "intranet",
                                     "with": {"text": "Hello"}}, name="fetch"), "enabled": False}, author="api")
    editor = ui.client(signed_in="editor@example.org", cookies={"beffroi_lang": "en"})
    refused = post(editor, "/recipes/fetch/enabled", enabled="1")
    assert refused.status_code == 422 and "This recipe cannot be enabled" in refused.text
    assert "no connection named &#39;intranet&#39;" in refused.text and 'class="error-summary"' in refused.text
    assert ui.engine.recipes.get_row("fetch")["enabled"] is False
    save(ui.engine, "news")
    done = post(editor, "/recipes/news/enabled", enabled="0", back="/recipes/news")
    assert done.headers["location"] == "/recipes/news" and ui.engine.recipes.get_row("news")["enabled"] is False
    assert ui.engine.recipes.history("news")[0]["author"] == "editor@example.org"
    elsewhere = post(editor, "/recipes/news/enabled", enabled="1", back="https://elsewhere.example/")
    assert elsewhere.headers["location"] == "/"


def test_versions_list_authors_and_times_and_show_a_diff_marked_in_text(ui):
    save(ui.engine, "news", title="News", author="anne@ville.example")
    ui.engine.save_recipe({**recipe(STEP, {"id": "more", "uses": "data.set", "with": {"text": "<b>Bye</b>"}},
                                    name="news"), "title": "News"}, author="bob@ville.example")
    browser = ui.client(signed_in="viewer@example.org", cookies={"beffroi_lang": "en"})
    page = browser.get("/recipes/news/versions").text
    assert "anne@ville.example" in page and "bob@ville.example" in page
    assert '<select id="from" name="from">' in page and '<label for="to">' in page
    assert '<option value="1" selected>' in page and '<option value="2" selected>' in page
    diff = browser.get("/recipes/news/versions/diff", params={"from": "1", "to": "2"})
    assert diff.status_code == 200
    text = diff.text
    assert "<h1>Changes from version 1 to version 2</h1>" in text
    assert "<caption>" in text and '<th scope="col">Change</th>' in text
    assert re.search(r'<tr class="diff-added">.*?<span aria-hidden="true">\+</span><span class="visually-hidden">'
                     r'added</span>.*?<code>.*?&lt;b&gt;Bye&lt;/b&gt;', text, re.S)
    assert "lines added" in text and "0 lines removed" in text
    back = browser.get("/recipes/news/versions/diff", params={"from": "2", "to": "1"}).text
    assert re.search(r'<tr class="diff-removed">.*?−.*?removed</span>', back, re.S)
    same = browser.get("/recipes/news/versions/diff", params={"from": "2", "to": "2"}).text
    assert "These two versions are the same." in same
    assert browser.get("/recipes/news/versions/diff", params={"from": "9", "to": "1"}).status_code == 404
    assert browser.get("/recipes/news/versions/diff", params={"from": "x"}).status_code == 404


def test_a_webhook_secret_never_shows_in_a_diff(ui):
    hook = {**recipe(STEP, name="signup"), "trigger": {"uses": "builtins.webhook",
                                                       "with": {"secret": "s3cret-value-0123456789abcdef"}}}
    ui.engine.save_recipe(hook, author="api")
    changed = {**hook, "trigger": {"uses": "builtins.webhook", "with": {"secret": "an0ther-secret-0123456789abcdef"}}}
    ui.engine.save_recipe(changed, author="api")
    text = ui.client(signed_in="editor@example.org").get("/recipes/signup/versions/diff?from=1&to=2").text
    assert "s3cret" not in text and "an0ther" not in text
    assert "s3cret" not in ui.client(signed_in="editor@example.org").get("/recipes/signup").text


def test_restore_saves_an_earlier_version_as_a_new_one_by_the_person(ui):
    save(ui.engine, "news", title="First title", author="anne@ville.example")
    save(ui.engine, "news", title="Second title", author="bob@ville.example")
    ui.engine.set_enabled("news", False, author="api")
    editor = ui.client(signed_in="editor@example.org")
    page = editor.get("/recipes/news/versions").text
    assert 'action="/recipes/news/versions/1/restore"' in page
    assert 'action="/recipes/news/versions/3/restore"' not in page  # the current one
    assert editor.post("/recipes/news/versions/1/restore", data={"csrf": "forged"}).status_code == 403
    done = post(editor, "/recipes/news/versions/1/restore", "/recipes/news/versions")
    assert done.status_code == 303 and done.headers["location"] == "/recipes/news/versions"
    row = ui.engine.recipes.get_row("news")
    assert row["version"] == 4 and row["definition"]["title"] == "First title"
    assert row["enabled"] is False  # restoring a definition does not switch the trigger on
    newest = ui.engine.recipes.history("news")[0]
    assert newest["version"] == 4 and newest["author"] == "editor@example.org"
    assert "La version a été restaurée" in editor.get("/recipes/news/versions").text
    viewer = ui.client(signed_in="viewer@example.org")
    assert post(viewer, "/recipes/news/versions/1/restore").status_code == 403
    assert post(editor, "/recipes/news/versions/99/restore").status_code == 404


def test_a_version_that_no_longer_validates_is_refused_with_its_problems(ui, make_engine):
    # version 1 used an action of a plugin this installation no longer loads
    with_plugin = make_engine(plugins=[RecordingPlugin()])
    with_plugin.save_recipe(recipe({"id": "note", "uses": "test.record", "with": {"text": "x"}}, name="legacy"),
                            author="api")
    save(ui.engine, "legacy", title="Now with data.set")
    editor = ui.client(signed_in="editor@example.org", cookies={"beffroi_lang": "en"})
    refused = post(editor, "/recipes/legacy/versions/1/restore", "/recipes/legacy/versions")
    assert refused.status_code == 422
    assert "Version 1 cannot be restored" in refused.text and "Nothing was changed." in refused.text
    assert "test.record" in refused.text and 'class="error-summary"' in refused.text
    assert ui.engine.recipes.get_row("legacy")["version"] == 2
    # its overview still reads, naming the action that is not available
    assert ui.client(signed_in="viewer@example.org").get("/recipes/legacy/versions/diff?from=1&to=2").status_code == 200


def test_the_next_scheduled_time_is_the_tick_the_scheduler_fires_next(make_engine):
    from datetime import timedelta

    from beffroi.scheduler import Scheduler

    engine = make_engine()
    engine.save_recipe({**weekly("nightly"), "trigger": {"uses": "builtins.schedule", "schedule": "30 2 * * *"}})
    trigger = engine.recipes.get_row("nightly")["definition"]["trigger"]
    scheduler = Scheduler(engine)
    now = datetime(2026, 10, 24, 12, tzinfo=UTC)
    assert scheduler.run_once(now) == []  # the first pass only notes where the schedule stands
    fired = []
    for _ in range(2):  # across the night when Brussels' clocks go back: 2:30 comes twice and fires once
        upcoming = engine.next_fire(trigger, now)
        assert scheduler.run_once(upcoming - timedelta(seconds=1)) == []  # (the repeated 2:30 passes here)
        assert len(scheduler.run_once(upcoming)) == 1
        fired.append(upcoming)
        now = upcoming
    assert fired == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 26, 1, 30, tzinfo=UTC)]
    assert engine.next_fire({"uses": "builtins.manual"}, now) is None


def test_the_queries_of_the_recipes_pages_on_sqlite_and_postgresql(engine):
    save(engine, "city-news", title="Nouvelles 100% ville", author="anne")
    save(engine, "city-news", title="Nouvelles de la ville", author="bob")
    engine.save_recipe(weekly(), author="anne")
    engine.save_recipe(weekly("paused", enabled=False), author="anne")
    runs = [engine.run_recipe(engine.recipes.get(name)[0], {})["id"] for name in ("city-news", "weekly", "city-news")]
    rows, total = engine.recipes.page("NOUVELLES")
    assert total == 1 and rows[0]["name"] == "city-news" and rows[0]["definition"]["title"] == "Nouvelles de la ville"
    assert engine.recipes.page("100%")[1] == 0 and engine.recipes.page("y_n")[1] == 0  # no wildcard in a search
    assert [r["name"] for r in engine.recipes.page("", limit=2, offset=1)[0]] == ["paused", "weekly"]
    assert [(name, title) for name, title, _ in engine.recipes.scheduled()] == [("weekly", "Monday mail")]
    assert [entry["name"] for entry in engine.upcoming(5)] == ["weekly"]
    latest = engine.runs.latest_by_recipe(["city-news", "paused"])
    assert list(latest) == ["city-news"] and latest["city-news"]["id"] == runs[2]
    assert set(engine.runs.latest_by_recipe()) == {"city-news", "weekly"}
    assert [r["id"] for r in engine.runs.newest("succeeded", 2)] == [runs[2], runs[1]]
    assert [r["id"] for r in engine.runs.newest("succeeded", 5, recipe="city-news")] == [runs[2], runs[0]]
    assert engine.runs.newest("failed", 5, recipe="city-news") == []
    assert [(v["version"], v["author"]) for v in engine.recipes.history("city-news")] == [(2, "bob"), (1, "anne")]
    assert engine.recipes.version("city-news", 1)["definition"]["title"] == "Nouvelles 100% ville"


def test_every_recipes_page_has_one_h1_and_no_inline_script_or_style(ui):
    ui.engine.save_recipe(weekly(), author="api")
    ui.engine.save_recipe({**weekly(), "title": "Monday <mail>"}, author="api")
    ui.engine.save_recipe({**recipe({"id": "post", "uses": "smms.publish", "connection": "nowhere",
                                     "with": {"text": "Hi"}}, name="waiting"), "enabled": False}, author="api")
    for language in ("fr", "en"):
        editor = ui.client(signed_in="editor@example.org", cookies={"beffroi_lang": language})
        seen = [editor.get(path) for path in ("/", "/?q=mon", "/recipes/weekly", "/recipes/weekly/versions",
                                              "/recipes/weekly/versions/diff?from=1&to=2", "/recipes/weekly/delete")]
        seen.append(post(editor, "/recipes/waiting/enabled", enabled="1"))
        for page in seen:
            html = page.text
            assert page.status_code in (200, 422) and page.headers["content-security-policy"], page.url
            assert f'<html lang="{language}">' in html and html.count("<h1") == 1, page.url
            assert not re.search(r"<script(?![^>]*\bsrc=)", html) and not re.search(r"\sstyle=", html), page.url
            assert not re.search(r"\son[a-z]+=", html) and "<mail>" not in html, page.url
            assert '<link rel="stylesheet" href="/static/recipes.css">' in html, page.url
    assert ui.client().get("/static/recipes.css").status_code == 200
