"""The runs' pages through the ASGI app: lists filtered by status and by date (days in the installation's zone), keyset
pages with previous/next links, the run page (timeline, trigger event, redaction), its live stream of server-sent
events, retry, cancel and run now — with the roles and the CSRF checks of every form."""
from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from beffroi.store.models import RunRow
from beffroi_ui import pages_runs

from .helpers import RecordingPlugin, recipe
from .ui_helpers import PASSWORD, sign_in, token_of

HELLO = recipe({"id": "greet", "title": "Say hello", "uses": "data.set", "with": {"text": "Hello {{ trigger.name }}"}},
               name="hello")
FLAKY = recipe({"id": "one", "uses": "test.record", "with": {"text": "one"}},
               {"id": "two", "uses": "test.record", "with": {"text": "two", "fail_times": 1}}, name="flaky")


@pytest.fixture
def plugin():
    return RecordingPlugin()


def make_site(make_engine, plugin, url: str | None = None):
    """An engine with the test actions, its in-process workers, three people, and `site.client(email)`."""
    from beffroi import create_app

    engine = make_engine(url, plugins=[plugin], workers=2)
    for role in ("viewer", "editor", "admin"):
        engine.users.create(f"{role}@example.org", PASSWORD, role=role, name=role.title())
    app = create_app(engine)

    class Site:
        def __init__(self):
            self.engine, self.app = engine, app

        def client(self, signed_in: str | None = "editor@example.org", language: str = "en", app=app) -> TestClient:
            browser = TestClient(app, cookies={"beffroi_lang": language})
            if signed_in:
                assert sign_in(browser, signed_in).status_code == 303
            return browser

    return Site()


@pytest.fixture
def site(make_engine, plugin):
    """The site on SQLite."""
    return make_site(make_engine, plugin)


@pytest.fixture
def any_site(make_engine, plugin, database_url):
    """The site on SQLite, and on PostgreSQL where one is configured."""
    return make_site(make_engine, plugin, database_url)


def ran(engine, name: str, event=None, *, dry_run: bool = False) -> str:
    """A run of a stored recipe executed here, to its end (the page's tests need it finished)."""
    run_id = engine.trigger(name, event, dry_run=dry_run, submit=False)
    engine.execute(run_id)
    return run_id


def events(client: TestClient, run_id: str) -> list[tuple[str, dict]]:
    """The server-sent events of a run's stream, read until the server ends it."""
    found, kind = [], "message"
    with client.stream("GET", f"/runs/{run_id}/events") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                found.append((kind, json.loads(line[6:])))
                kind = "message"
    return found


def rows(page) -> list[str]:
    """The run ids listed on a page, in order."""
    return re.findall(r'<th scope="row"><a href="/runs/([0-9a-f]+)">', page.text)


def test_the_list_shows_each_run_with_its_status_in_words_times_duration_and_dry_run(site):
    site.engine.save_recipe(HELLO)
    site.engine.save_recipe(FLAKY)
    good, bad = ran(site.engine, "hello", {"name": "Ann"}), ran(site.engine, "flaky")
    dry = ran(site.engine, "hello", {"name": "Bob"}, dry_run=True)
    page = site.client().get("/runs")
    assert page.status_code == 200
    assert rows(page) == [dry, bad, good]
    assert '<caption id="runs-caption">3 runs, newest first</caption>' in page.text
    assert '<th scope="col">Status</th>' in page.text and '<th scope="col">Dry run</th>' in page.text
    assert '<span class="run-status run-status-failed">failed</span>' in page.text
    assert '<span class="run-status run-status-succeeded">succeeded</span>' in page.text
    assert '<a href="/recipes/flaky/runs">flaky</a>' in page.text
    assert "\u00a0ms</td>" in page.text or "\u00a0s</td>" in page.text  # a duration
    started = site.engine.runs.detail(good)["started_at"]
    assert f">{_when(started, 'en')}<" in page.text  # in the installation's zone (Europe/Brussels)
    french = site.client(language="fr").get("/runs")
    assert '<caption id="runs-caption">3 exécutions, de la plus récente à la plus ancienne</caption>' in french.text
    assert ">échouée<" in french.text and f">{_when(started, 'fr')}<" in french.text


def _when(value: str, language: str) -> str:
    from beffroi_ui import i18n

    return i18n.when(value, language, "Europe/Brussels")


def test_filter_by_status_and_by_days_of_the_installation_zone(any_site):
    any_site.engine.save_recipe(HELLO)
    any_site.engine.save_recipe(FLAKY)
    late, bad, recent = ran(any_site.engine, "hello", {"name": "A"}), ran(any_site.engine, "flaky"), \
        ran(any_site.engine, "hello", {"name": "B"})
    with any_site.engine.db.engine.begin() as conn:  # 23:30 UTC on 6 November is 00:30 on the 7th in Brussels
        for run_id, at in ((late, datetime(2025, 11, 6, 23, 30, tzinfo=UTC)),
                           (bad, datetime(2025, 11, 5, 12, 0, tzinfo=UTC))):
            conn.execute(update(RunRow).where(RunRow.id == run_id).values(created_at=at))
    browser = any_site.client()
    assert rows(browser.get("/runs?status=failed")) == [bad]
    assert rows(browser.get("/runs?status=failed&status=succeeded")) == [recent, late, bad]
    page = browser.get("/runs?status=succeeded")
    assert rows(page) == [recent, late]
    assert 'id="status-succeeded" name="status" value="succeeded" checked' in page.text  # the form keeps its choice
    assert rows(browser.get("/runs?from=2025-11-07&to=2025-11-07")) == [late]
    assert rows(browser.get("/runs?to=2025-11-06")) == [bad]
    assert rows(browser.get("/runs?from=2025-11-05&to=2025-11-06&status=succeeded")) == []
    assert "No run matches these filters." in browser.get("/runs?status=cancelled").text
    assert rows(browser.get("/recipes/hello/runs?status=succeeded")) == [recent, late]


def test_a_wrong_date_is_shown_beside_its_field_and_the_form_keeps_what_was_typed(site):
    page = site.client().get("/runs?from=2026-02-30&to=2026-01-01&status=failed")
    assert page.status_code == 400
    assert '<a href="#from">Enter a real date, for example 2026-12-31.</a>' in page.text
    assert re.search(r'<input id="from" name="from" type="date" value="2026-02-30" '
                     r'aria-describedby="dates-hint from-error" aria-invalid="true">', page.text)
    backwards = site.client().get("/runs?from=2026-02-01&to=2026-01-01")
    assert backwards.status_code == 400
    assert '<a href="#to">The end date must be on or after the start date.</a>' in backwards.text
    assert 'id="to-error"' in backwards.text and 'id="from-error"' not in backwards.text


def test_pages_of_runs_go_back_and_forth_with_the_filters_kept(any_site):
    any_site.engine.save_recipe(HELLO)
    recipe_, version = any_site.engine.recipes.get("hello")
    made = [any_site.engine.create_run(recipe_, {"n": n}, version=version) for n in range(120)]  # queued, never run
    browser = any_site.client()
    first = browser.get("/runs?status=queued")
    assert rows(first) == made[::-1][:50]
    assert "Previous page" not in first.text
    older = re.search(r'<a href="([^"]+)" rel="next">Next page<span class="visually-hidden"> \(older runs\)',
                      first.text).group(1).replace("&amp;", "&")
    assert "status=queued" in older and "before=" in older
    second = browser.get(older)
    assert rows(second) == made[::-1][50:100]
    third = browser.get(re.search(r'<a href="([^"]+)" rel="next">', second.text).group(1).replace("&amp;", "&"))
    assert rows(third) == made[::-1][100:] and 'rel="next"' not in third.text
    back = browser.get(re.search(r'<a href="([^"]+)" rel="prev">', third.text).group(1).replace("&amp;", "&"))
    assert rows(back) == rows(second)
    start = browser.get(re.search(r'<a href="([^"]+)" rel="prev">', back.text).group(1).replace("&amp;", "&"))
    assert rows(start) == rows(first)
    assert '<nav class="pagination" aria-label="Pages of runs">' in second.text
    assert rows(browser.get("/runs?before=not-a-cursor")) == rows(first)  # a spoilt link shows the first page


def test_a_recipe_runs_page_lists_its_own_runs_and_offers_run_now_to_editors(site):
    site.engine.save_recipe(HELLO)
    site.engine.save_recipe(FLAKY)
    mine, _other = ran(site.engine, "hello", {"name": "A"}), ran(site.engine, "flaky")
    page = site.client().get("/recipes/hello/runs")
    assert rows(page) == [mine]
    assert "<h1>Runs of “hello”</h1>" in page.text and 'href="/recipes/hello/run"' in page.text
    assert 'href="/recipes/hello/run"' not in site.client("viewer@example.org").get("/recipes/hello/runs").text
    assert site.client().get("/recipes/nothing/runs").status_code == 404


def test_the_run_page_shows_the_timeline_of_its_steps(any_site):
    any_site.engine.save_recipe(recipe(
        {"id": "greet", "title": "Say hello", "uses": "data.set", "with": {"text": "Hello {{ trigger.name }}"}},
        {"id": "each", "uses": "test.record", "for_each": "{{ trigger.people }}",
         "with": {"text": "{{ item }}", "fail_times": 1, "retryable": False}, "on_error": "continue"},
        {"id": "long", "uses": "data.set", "with": {"text": "{{ trigger.essay }}"}},
        {"id": "fails", "uses": "test.record", "with": {"text": "x", "fail_times": 3},
         "retry": {"attempts": 2, "backoff": "1ms"}},
        {"id": "never", "uses": "data.set", "with": {}}, name="timeline"))
    run_id = ran(any_site.engine, "timeline", {"name": "Ann", "people": ["a", "b"], "essay": "word " * 100})
    page = any_site.client().get(f"/runs/{run_id}")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Run of “timeline”</h1>" in html
    assert '<span class="run-status run-status-failed">failed</span>' in html
    assert "step &#39;fails&#39; failed: remote refused &#39;x&#39;" in html  # the run's error, in its words
    step = _step(html, "greet")
    assert "<h3>Say hello</h3>" in step and "<code>greet</code> · Prepare values" in step  # the catalog's plain words
    assert "&#34;text&#34;: &#34;Hello Ann&#34;" in step  # the output, shown open (short)
    assert '<div><dt>Attempts</dt><dd>1</dd></div>' in step and "<dt>Duration</dt>" in step
    assert "2 items (failed: 1, pending: 1)" in _step(html, "each") and "Item 1: remote refused" in _step(html, "each")
    long = _step(html, "long")
    assert '<details class="json" data-fold="output-long">' in long  # long JSON is folded
    huge_id = ran(any_site.engine, "timeline", {"name": "Bo", "people": [], "essay": "word " * 20_000})
    huge = any_site.client().get(f"/runs/{huge_id}")
    assert "Shortened: the first 50,000 characters of 100,0" in _step(huge.text, "long")
    fails = _step(html, "fails")
    assert "<dt>Attempts</dt><dd>2</dd>" in fails and "remote refused &#39;x&#39;" in fails
    assert '<span class="run-status run-status-pending">pending</span>' in _step(html, "never")
    assert "Trigger event" in html and '<details class="json" data-fold="trigger">' in html
    assert 'action="/runs/' + run_id + '/retry"' in html and "/cancel" not in html
    assert "Refresh" not in html and "data-events" not in html  # a finished run is not followed
    french = any_site.client(language="fr").get(f"/runs/{run_id}").text
    assert "Tentatives" in french and "échouée" in french
    assert "<code>greet</code> · Préparer des valeurs" in french  # the catalog's French


def _step(html: str, step_id: str) -> str:
    match = re.search(rf'<li id="step-{step_id}".*?\n</li>', html, re.DOTALL)
    assert match, f"no step {step_id}"
    return match.group(0)


def test_the_run_page_and_its_stream_never_show_a_secret(site):
    secret = "tok-5ecret-value-42"
    site.engine.connections.save("acct", "testapi", {"base_url": "http://127.0.0.1:9", "token": secret})
    site.engine.save_recipe(recipe({"id": "echo", "uses": "test.echo_connection", "connection": "acct",
                                    "with": {"text": "hi"}}, name="echo"))
    run_id = ran(site.engine, "echo", {"api_key": "key-of-the-sender", "name": "Ann"})
    assert site.engine.runs.detail(run_id)["status"] == "succeeded"
    browser = site.client()
    page = browser.get(f"/runs/{run_id}").text
    stream = json.dumps(events(browser, run_id))
    for shown in (page, stream):
        assert secret not in shown and "key-of-the-sender" not in shown
    assert "&#34;token_seen&#34;: &#34;***&#34;" in page and "&#34;api_key&#34;: &#34;***&#34;" in page


def test_a_viewer_sees_how_runs_went_but_not_their_contents_nor_any_control(site):
    site.engine.save_recipe(FLAKY)
    run_id = ran(site.engine, "flaky", {"name": "Ann"})
    viewer = site.client("viewer@example.org")
    assert viewer.get("/runs").status_code == 200
    page = viewer.get(f"/runs/{run_id}").text
    assert '<span class="run-status run-status-failed">failed</span>' in page
    assert "remote refused" not in page and "Ann" not in page
    assert "editors see" in page and "<form method=\"post\" action=\"/runs/" not in page
    streamed = json.dumps(events(viewer, run_id))
    assert "remote refused" not in streamed and "Ann" not in streamed and "/retry" not in streamed
    token = token_of(viewer.get("/runs"))
    for path in (f"/runs/{run_id}/retry", f"/runs/{run_id}/cancel", "/recipes/flaky/run"):
        assert viewer.post(path, data={"csrf": token, "payload": "{}"}).status_code == 403
    assert viewer.get("/recipes/flaky/run").status_code == 403
    assert site.engine.runs.detail(run_id)["status"] == "failed"


def test_every_form_of_the_runs_needs_its_csrf_token(site):
    site.engine.save_recipe(FLAKY)
    run_id = ran(site.engine, "flaky")
    editor = site.client()
    for path in (f"/runs/{run_id}/retry", f"/runs/{run_id}/cancel", "/recipes/flaky/run"):
        for data in ({}, {"csrf": "forged"}):
            answer = editor.post(path, data={**data, "payload": "{}"}, follow_redirects=False)
            assert answer.status_code == 403, path
    assert site.engine.runs.window().total == 1 and site.engine.runs.detail(run_id)["status"] == "failed"


def test_the_live_stream_follows_a_run_until_it_ends(site):
    site.engine.save_recipe(recipe({"id": "one", "uses": "test.record", "with": {"text": "one", "sleep": 0.6}},
                                   {"id": "two", "uses": "data.set", "with": {"done": True}}, name="slow"))
    editor = site.client()
    started = editor.post("/recipes/slow/run", data={"csrf": token_of(editor.get("/recipes/slow/run")),
                                                     "payload": "{}"}, follow_redirects=False)
    run_id = started.headers["location"].rsplit("/", 1)[1]
    page = editor.get(f"/runs/{run_id}").text
    assert f'data-events="/runs/{run_id}/events"' in page and ">Refresh</a>" in page
    assert '<script src="/static/runs.js" defer></script>' in page
    seen = events(editor, run_id)
    assert seen[-1] == ("end", {})
    changes = [data for kind, data in seen if kind == "run"]
    assert changes[0]["status"] in ("queued", "running") and not changes[0]["finished"]
    assert {part["id"] for part in changes[0]["parts"]} == {"step-one", "step-two", "run-summary"}  # all, at first
    assert changes[-1]["status"] == "succeeded" and changes[-1]["finished"]
    last = {part["id"]: part for data in changes for part in data["parts"]}
    assert 'data-status="succeeded"' in last["step-two"]["html"] and "&#34;done&#34;: true" in last["step-two"]["html"]
    assert last["run-summary"]["said"] == "Run status: succeeded."
    assert last["step-one"]["said"] == "Step one: succeeded."
    assert len(changes) >= 2 and all(data["parts"] for data in changes)  # only what changed is sent
    french = site.client(language="fr")
    assert [kind for kind, _ in events(french, run_id)] == ["run", "end"]  # a finished run: one look, the end


def test_a_stream_ends_after_its_lifetime_and_the_browser_is_told_when_to_reconnect(site, monkeypatch):
    site.engine.save_recipe(HELLO)
    recipe_, version = site.engine.recipes.get("hello")
    run_id = site.engine.create_run(recipe_, {"name": "Ann"}, version=version)  # queued; no worker takes it
    monkeypatch.setattr(pages_runs, "STREAM_LIFETIME", 0.0)
    editor = site.client()
    with editor.stream("GET", f"/runs/{run_id}/events") as answer:
        body = "".join(answer.iter_text())
    assert body.startswith("retry: 2000\n\n") and "event: run\n" in body and "event: end" not in body
    assert editor.get("/runs/nothing/events").status_code == 404


def test_retry_starts_again_from_the_failed_step(any_site, plugin):
    any_site.engine.save_recipe(FLAKY)
    run_id = ran(any_site.engine, "flaky")
    editor = any_site.client()
    page = editor.get(f"/runs/{run_id}")
    answer = editor.post(f"/runs/{run_id}/retry", data={"csrf": token_of(page)}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/runs/{run_id}"
    assert events(editor, run_id)[-1] == ("end", {})
    assert any_site.engine.runs.detail(run_id)["status"] == "succeeded"
    assert [call["text"] for call in plugin.calls] == ["one", "two"]  # step one was not done twice
    assert "The run starts again from its first unfinished step." in editor.get(f"/runs/{run_id}").text
    again = editor.post(f"/runs/{run_id}/retry", data={"csrf": token_of(page)})
    assert again.status_code == 409 and "this one is succeeded" in again.text
    assert editor.post("/runs/nothing/retry", data={"csrf": token_of(page)}).status_code == 404


def test_cancel_a_queued_run(site):
    site.engine.save_recipe(HELLO)
    recipe_, version = site.engine.recipes.get("hello")
    run_id = site.engine.create_run(recipe_, {"name": "Ann"}, version=version)
    editor = site.client(language="fr")
    page = editor.get(f"/runs/{run_id}")
    assert f'action="/runs/{run_id}/cancel"' in page.text and "Annuler l’exécution" in page.text
    answer = editor.post(f"/runs/{run_id}/cancel", data={"csrf": token_of(page)})
    assert answer.status_code == 200 and "L’exécution est annulée." in answer.text
    assert site.engine.runs.detail(run_id)["status"] == "cancelled"
    assert 'action="/runs/' + run_id + '/retry"' in answer.text  # a cancelled run can be resumed
    assert "Reprendre là où elle s’est arrêtée" in answer.text
    again = editor.post(f"/runs/{run_id}/cancel", data={"csrf": token_of(page)})
    assert again.status_code == 409 and "annulée" in again.text


def test_run_now_offers_the_trigger_sample_and_keeps_a_wrong_payload_beside_its_error(site):
    site.engine.save_recipe({**HELLO, "trigger": {"uses": "builtins.manual", "sample": {"name": "Sample"}}})
    editor = site.client()
    form = editor.get("/recipes/hello/run")
    assert form.status_code == 200
    assert '<label for="payload">Trigger event (JSON)</label>' in form.text
    assert "&#34;name&#34;: &#34;Sample&#34;" in form.text and 'name="dry_run" value="1"' in form.text
    token = token_of(form)
    typed = '{"name": "Ann",}'
    wrong = editor.post("/recipes/hello/run", data={"csrf": token, "payload": typed, "dry_run": "1"})
    assert wrong.status_code == 400
    assert '<a href="#payload">The trigger event is not valid JSON: look at line 1, column 16 (a name between double ' \
           'quotes was expected).</a>' in wrong.text
    assert 'aria-describedby="payload-hint payload-error" aria-invalid="true">{&#34;name&#34;: &#34;Ann&#34;,}' \
           '</textarea>' in wrong.text
    assert 'name="dry_run" value="1" checked' in wrong.text
    listed = editor.post("/recipes/hello/run", data={"csrf": token, "payload": "[1, 2]"})
    assert listed.status_code == 400 and "must be a JSON object" in listed.text
    assert site.engine.runs.window().total == 0
    french = site.client(language="fr").post("/recipes/hello/run", data={"csrf": token, "payload": typed})
    assert french.status_code == 403  # another session: another token
    done = editor.post("/recipes/hello/run", data={"csrf": token, "payload": '{"name": "Ann"}', "dry_run": "1"},
                       follow_redirects=False)
    assert done.status_code == 303
    run_id = done.headers["location"].removeprefix("/runs/")
    assert events(editor, run_id)[-1] == ("end", {})
    run = site.engine.runs.detail(run_id)
    assert run["trigger"] == {"name": "Ann"} and run["dry_run"] is True and run["status"] == "succeeded"
    assert editor.get("/recipes/nothing/run").status_code == 404


def test_the_runs_pages_render_in_50_ms_with_100000_runs_in_the_database(site):
    """Keyset pages, one index range per status, a count that stops at 10,000 and no JSON column read for a list:
    the time of a page does not grow with the number of runs (the server's time, the best of five answers, so that
    a busy machine does not decide)."""
    site.engine.save_recipe(HELLO)
    definition = json.dumps({**HELLO, "steps": [{**HELLO["steps"][0], "with": {"text": "x" * 500}}]})
    with site.engine.db.engine.begin() as conn:  # 1,000 recipes; 1 % failed, 1 % cancelled; over 60 days
        conn.execute(text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
            "INSERT INTO runs (id, recipe_name, definition, status, dry_run, trigger_event, created_at, started_at, "
            "finished_at) SELECT id, recipe, :definition, status, 0, '{\"n\": 1}', at, at, at FROM (SELECT "
            "lower(hex(randomblob(16))) AS id, 'recipe-' || (i % 1000) AS recipe, CASE abs(random()) % 100 "
            "WHEN 0 THEN 'failed' WHEN 1 THEN 'cancelled' ELSE 'succeeded' END AS status, strftime('%Y-%m-%d "
            "%H:%M:%f', 'now', '-' || (abs(random()) % 5184000) || ' seconds') || '000' AS at FROM n)"),
            {"definition": definition})
    newest = ran(site.engine, "hello", {"name": "Ann"})
    spent: list[float] = []

    async def timed(scope, receive, send):  # the server's own time for a request, from routing to the last byte:
        started = time.process_time()  # the CPU time it took (on a busy machine, wall time measures the neighbours)
        await site.app(scope, receive, send)
        spent.append(time.process_time() - started)

    with site.client(app=timed) as browser:
        first = browser.get("/runs")
        assert '<caption id="runs-caption">More than 10,000 runs, newest first</caption>' in first.text
        second = re.search(r'<a href="([^"]+)" rel="next">', first.text).group(1).replace("&amp;", "&")
        for path in ("/runs", second, "/runs?status=failed", "/runs?status=failed&status=cancelled",
                     "/runs?status=succeeded&status=failed", "/runs?status=queued&status=running&status=waiting",
                     "/runs?from=2026-01-01&to=2026-12-31&status=succeeded", "/recipes/recipe-7/runs?status=failed",
                     "/recipes/hello/runs", f"/runs/{newest}", f"/runs/{newest}/events"):
            spent.clear()
            for _ in range(5):
                assert browser.get(path).status_code == 200, path
            assert min(spent) <= 0.050, f"{path}: {min(spent) * 1000:.0f} ms"


def test_every_runs_page_has_the_shell_headers_one_h1_and_no_inline_script_or_style(site):
    site.engine.save_recipe({**HELLO, "title": "<script>alert(1)</script>"})
    run_id = ran(site.engine, "hello", {"name": "<img src=x onerror=alert(1)>"})
    for language in ("fr", "en"):
        browser = site.client(language=language)
        token = token_of(browser.get("/runs"))
        for page in (browser.get("/runs"), browser.get("/recipes/hello/runs"), browser.get(f"/runs/{run_id}"),
                     browser.get("/recipes/hello/run"), browser.get("/runs?from=nope"),
                     browser.post("/recipes/hello/run", data={"csrf": token, "payload": "{"}),
                     browser.get("/runs/nothing")):
            html = page.text
            assert page.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
            assert f'<html lang="{language}">' in html and html.count("<h1") == 1, page.url
            assert not re.search(r"<script(?![^>]*\bsrc=)", html), page.url
            assert "<style" not in html and not re.search(r"\sstyle=", html), page.url
            assert not re.search(r"<[^>]*\son[a-z]+=", html), page.url  # the event's text is escaped, never markup
            assert "<img" not in html and "<script>alert" not in html
    assert browser.get("/runs/nothing").status_code == 404
