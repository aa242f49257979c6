"""The calendar page: a month, a week or a day of what is scheduled, awaiting approval, planned and published, as a
grid and as a list; rescheduling a publication held by its window; the iCalendar feed at a private address."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from fastapi.testclient import TestClient

from beffroi import create_app

from .approval_helpers import friday_clock, settled
from .ui_helpers import PASSWORD, sign_in, token_of


@pytest.fixture
def clock():
    return friday_clock()


@pytest.fixture
def site(make_engine, clock):
    engine = make_engine(clock=clock)
    for role in ("viewer", "editor"):
        engine.users.create(f"{role}@example.org", PASSWORD, role=role, name=role.title())
    engine.save_recipe({"name": "budget", "title": "Budget 2027", "trigger": {"uses": "builtins.manual"},
                        "window": {"working_days": True, "at": "10:00", "next_day": True},
                        "steps": [{"id": "post", "uses": "smms.publish", "with": {"text": "Budget 2027"}}]})
    run_id = engine.trigger("budget", {}, submit=False)
    engine.execute(run_id)
    app = create_app(engine)

    class Site:
        def __init__(self):
            self.engine, self.run_id = engine, run_id

        def browser(self, email="editor@example.org", language="en") -> TestClient:
            client = TestClient(app, cookies={"beffroi_lang": language})
            assert sign_in(client, email).status_code == 303
            return client

        def anonymous(self) -> TestClient:
            return TestClient(app)

    return Site()


def text_of(page) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page.text)))


def test_the_week_shows_the_held_publication_in_the_grid_and_the_list(site):
    page = site.browser().get("/calendar?view=week&date=2026-12-14")
    assert page.status_code == 200
    text = text_of(page)
    assert "Week of Monday, December 14, 2026" in text
    assert "10:00 AM Budget 2027 (scheduled)" in text  # in the grid
    assert "Monday, December 14, 2026, 10:00 AM Budget 2027 scheduled Social media" in text  # in the list
    assert f'href="/calendar/runs/{site.run_id}/reschedule"' in page.text
    assert "<caption" in page.text and 'scope="col"' in page.text


def test_a_channel_filter_and_a_french_month(site):
    french = site.browser(language="fr")
    text = text_of(french.get("/calendar?date=2026-12-01"))
    assert "décembre 2026" in text and "lundi" in text and "programmé" in text and "Réseaux sociaux" in text
    assert "Budget 2027" not in text_of(french.get("/calendar?date=2026-12-01&channel=email"))


def test_a_viewer_reads_the_calendar_but_cannot_reschedule(site):
    viewer = site.browser("viewer@example.org")
    page = viewer.get("/calendar?view=week&date=2026-12-14")
    assert page.status_code == 200 and "Budget 2027" in page.text and "/reschedule" not in page.text
    assert viewer.get(f"/calendar/runs/{site.run_id}/reschedule").status_code == 403


def test_rescheduling_moves_the_publication_and_is_audited(site):
    editor = site.browser()
    form = editor.get(f"/calendar/runs/{site.run_id}/reschedule")
    assert 'value="2026-12-14T10:00"' in form.text
    answer = editor.post(f"/calendar/runs/{site.run_id}/reschedule",
                         data={"csrf": token_of(form), "at": "2026-12-15T08:30"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/calendar?view=week&date=2026-12-15"
    assert site.engine.runs.detail(site.run_id)["wake_at"] == "2026-12-15T07:30:00+00:00"
    assert "The publication is rescheduled." in editor.get(answer.headers["location"]).text
    [entry] = site.engine.audit.page(action="run.rescheduled")
    assert entry.actor == "editor@example.org"


def test_a_bad_time_is_said_beside_its_field_and_kept(site):
    editor = site.browser()
    form = editor.get(f"/calendar/runs/{site.run_id}/reschedule")
    answer = editor.post(f"/calendar/runs/{site.run_id}/reschedule", data={"csrf": token_of(form), "at": "tomorrow"})
    assert answer.status_code == 400
    assert 'aria-invalid="true"' in answer.text and 'value="tomorrow"' in answer.text
    assert "Enter a date and a time, such as 2026-12-14T10:00." in text_of(answer)
    assert site.engine.runs.detail(site.run_id)["wake_at"] == "2026-12-14T09:00:00+00:00"


def test_a_published_run_cannot_be_rescheduled(site, clock):
    clock.now = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
    assert site.engine.wake_due() == [site.run_id]
    assert settled(site.engine, site.run_id)["status"] == "succeeded"
    assert site.browser().get(f"/calendar/runs/{site.run_id}/reschedule").status_code == 409


def test_a_bad_date_in_the_address_is_said_not_a_500(site):
    page = site.browser().get("/calendar?date=2026-13-45&view=nonsense")
    assert page.status_code == 400 and "Enter a date such as" in text_of(page)


def test_the_ical_feed_needs_its_private_key(site):
    page = site.browser().get("/calendar")
    address = unescape(re.search(r'href="http://testserver(/calendar\.ics\?key=[^"]+)"', page.text).group(1))
    feed = site.anonymous().get(address)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    body = feed.text.replace("\r\n ", "")
    assert "BEGIN:VCALENDAR" in body and "SUMMARY:Budget 2027 (scheduled)" in body
    assert "DTSTART:20261214T090000Z" in body
    assert site.anonymous().get("/calendar.ics?key=forged").status_code == 404
    site.engine.users.delete("editor@example.org")
    assert site.anonymous().get(address).status_code == 404
    assert site.anonymous().get("/calendar", follow_redirects=False).status_code == 303  # the page needs a sign-in


def test_an_unknown_run_is_a_404_page(site):
    assert site.browser().get("/calendar/runs/nope/reschedule").status_code == 404
