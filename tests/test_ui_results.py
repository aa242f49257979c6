"""The results dashboard: what each publication sent and what came back, events per period and per campaign, each
chart with its table and a CSV download, for everyone signed in, in FR and EN."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .ui_helpers import ui  # noqa: F401  (the `ui` fixture)

EN = {"Accept-Language": "en"}


def _store(engine, data: dict) -> None:
    engine.save_recipe(data, author="editor@example.org")


def _run(engine, name: str, event: dict | None = None) -> str:
    recipe, _ = engine.recipes.get(name)
    run = engine.run_recipe(recipe, event or {})
    assert run["status"] == "succeeded", run
    return run["id"]


FLAGSHIP = {"name": "fete", "trigger": {"uses": "builtins.manual"}, "steps": [
    {"id": "announce", "uses": "smms.publish", "with": {"text": "Fête de la musique ce samedi"}},
    {"id": "mail", "uses": "email.send", "with": {"to": "a@example.org, b@example.org", "subject": "Fête",
                                                  "text": "Bonjour"}},
    {"id": "track", "uses": "analytics.track_event", "with": {"name": "click", "campaign": "fete-2026"}}]}
CLICKS = {"name": "count-event", "trigger": {"uses": "builtins.manual"}, "steps": [
    {"id": "track", "uses": "analytics.track_event",
     "with": {"name": "{{ trigger.name }}", "campaign": "{{ trigger.campaign }}"}}]}


def _events(engine, name: str, campaign: str, times: int) -> None:
    for _ in range(times):
        _run(engine, "count-event", {"name": name, "campaign": campaign})


def test_a_publication_shows_what_went_out_and_what_came_back(ui):
    engine = ui.engine
    _store(engine, FLAGSHIP)
    _store(engine, CLICKS)
    run_id = _run(engine, "fete")
    _events(engine, "visit", "fete-2026", 3)
    _events(engine, "unsubscribe", "rentree", 1)
    viewer = ui.client(signed_in="viewer@example.org", headers=EN)
    page = viewer.get("/results")
    assert page.status_code == 200
    text = html.unescape(page.text)
    row = text[text.index(f'href="/runs/{run_id}"'):]
    row = " ".join(re.sub(r"<[^>]+>", " ", row[:row.index("</tr>")]).split())
    assert "Social media – outbox – recorded in the outbox" in row, row
    assert "E-mail – outbox – 2 recipients" in row and "Clicks: 1" in row
    assert "count-event" not in text.split('id="periods"')[0]  # a recipe that publishes nothing is no publication
    periods = text[text.index('id="periods"'):text.index('id="campaigns"')]
    assert '<svg class="chart"' in periods and 'role="img"' in periods and "<caption" in periods
    assert "Clicks (1)" in periods and "Visits (3)" in periods and "Unsubscribes (1)" in periods  # legend: labels
    assert 'fill="url(#chart-periods-p1)"' in periods  # a pattern, not only a colour
    campaigns = text[text.index('id="campaigns"'):]
    assert campaigns.index("fete-2026") < campaigns.index("rentree")  # the largest first
    french = html.unescape(ui.client(signed_in="viewer@example.org").get("/results").text)
    assert "Résultats" in french and "Clics : 1" in french and "Événements par campagne" in french


def test_periods_campaign_filter_and_csv(ui):
    engine = ui.engine
    _store(engine, CLICKS)
    _events(engine, "click", "fete-2026", 2)
    _events(engine, "open", "rentree", 1)
    viewer = ui.client(signed_in="viewer@example.org", headers=EN)
    today = datetime.now(ZoneInfo(engine.settings.timezone)).date()  # the page's days are the installation's
    week = viewer.get(f"/results?period=week&from={today - timedelta(days=20)}&to={today}").text
    assert "week of" in week and '<th scope="col">Week</th>' in week
    only = html.unescape(viewer.get("/results?campaign=rentree").text)
    periods = only[only.index('id="periods"'):only.index('id="campaigns"')]
    assert "Opens (1)" in periods and "Clicks" not in periods
    links = dict(re.findall(r'<a href="(/results\.csv\?[^"]+)" download>([^<]+)</a>', only))
    assert len(links) == 2  # the two tables of metrics (no publication on these days)
    answer = viewer.get(html.unescape(next(iter(links))))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert rows[0] == ["Day", "Opens"] and sum(int(r[1]) for r in rows[1:]) == 1
    assert rows[-1][0] == today.isoformat()
    campaigns = list(csv.reader(io.StringIO(viewer.get("/results.csv?part=campaigns").text.lstrip("\ufeff"))))
    assert campaigns == [["Campaign", "Clicks", "Opens"], ["fete-2026", "2", "0"], ["rentree", "0", "1"]]
    assert viewer.get("/results.csv?part=secrets").status_code == 404
    _events(engine, "click", "=HYPERLINK(\"http://127.0.0.1/x\")", 1)
    formula = viewer.get("/results.csv?part=campaigns").text
    assert "'=HYPERLINK" in formula and "\n=HYPERLINK" not in formula  # a spreadsheet shows it as text


def test_publications_csv_and_pages(ui):
    engine = ui.engine
    _store(engine, FLAGSHIP)
    runs = [_run(engine, "fete") for _ in range(22)]
    viewer = ui.client(signed_in="viewer@example.org", headers=EN)
    first = viewer.get("/results").text
    assert first.count('<a href="/runs/') == 20 and f"/runs/{runs[-1]}" in first and f"/runs/{runs[1]}" not in first
    older = html.unescape(first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]).split("#")[0]
    second = viewer.get(older).text
    assert second.count('<a href="/runs/') == 2 and f"/runs/{runs[0]}" in second and "First page" in second
    rows = list(csv.reader(io.StringIO(viewer.get("/results.csv?part=publications").text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["Run", "Recipe", "Date", "Channel"] and len(rows) == 1 + 22 * 2  # a line per channel
    assert {row[3] for row in rows[1:]} == {"Social media", "E-mail"}


def test_bad_days_are_said_beside_their_field(ui):
    viewer = ui.client(signed_in="viewer@example.org", headers=EN)
    page = viewer.get("/results?from=2026-02-30")
    assert page.status_code == 400 and 'id="from-error"' in page.text
    wide = viewer.get("/results?period=week&from=2020-01-01&to=2026-01-01")
    assert wide.status_code == 400 and "Choose at most 400 days between the two dates." in wide.text
    days = viewer.get("/results?from=2026-01-01&to=2026-06-01")
    assert days.status_code == 400 and "Choose at most 92 days between the two dates. For longer, count per week " \
        "or per month." in days.text
    assert viewer.get("/results?period=month&from=2025-06-01&to=2026-06-01").status_code == 200
    assert viewer.get("/results.csv?part=periods&to=soon").status_code == 400
    assert ui.client().get("/results", follow_redirects=False).status_code == 303


def test_a_publication_in_the_city_app_shows_its_feed_and_its_push(ui):
    engine = ui.engine
    _store(engine, {"name": "app-news", "trigger": {"uses": "builtins.manual"}, "steps": [
        {"id": "item", "uses": "mcms.publish_item", "with": {"feed": "works", "title": "Rue fermée",
                                                             "text": "Travaux"}},
        {"id": "push", "uses": "mcms.push", "with": {"topic": "works", "title": "Rue fermée", "body": "Travaux"}}]})
    run_id = _run(engine, "app-news")
    text = html.unescape(ui.client(signed_in="viewer@example.org", headers=EN).get("/results").text)
    row = text[text.index(f'href="/runs/{run_id}"'):]
    row = " ".join(re.sub(r"<[^>]+>", " ", row[:row.index("</tr>")]).split())
    assert "Mobile app – works – see it" in row, row
    assert "Mobile app (webpush) – works – 0 recipients" in row, row
