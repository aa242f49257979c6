"""The publication calendar in real Chromium against `beffroi serve`, in French and in English, with the keyboard
only: a publication held until 10:00 the next day is on the week's grid and in its list; it is rescheduled from the
form; axe-core finds no WCAG 2.1 A/AA violation on either page, and nothing breaks the Content-Security-Policy."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from .conftest import axe_violations, problems, screenshot
from .keyboard import create_account, press, sign_in
from .test_admin_browser import tab_to
from .test_runs_browser import api

HELD = {"name": "budget", "title": "Budget 2027", "trigger": {"uses": "builtins.manual"},
        "window": {"at": "10:00", "next_day": True},
        "steps": [{"id": "post", "uses": "smms.publish", "with": {"text": "Le budget 2027 est adopté"}}]}
TEXTS = {"fr": {"calendar": "Calendrier", "scheduled": "programmé", "done": "La publication est reprogrammée."},
         "en": {"calendar": "Calendar", "scheduled": "scheduled", "done": "The publication is rescheduled."}}


def checked(page, name: str) -> None:
    assert axe_violations(page) == [], name
    assert problems(page) == [], name
    screenshot(page, name)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_calendar_and_a_rescheduling_with_the_keyboard(served, page, language):
    texts = TEXTS[language]
    create_account(served, "anne@ville.example")
    assert api(served, "POST", "/api/recipes", json=HELD).status_code == 201
    run = api(served, "POST", "/api/recipes/budget/runs?wait=true", json={}).json()
    assert run["status"] == "waiting", run
    sign_in(page, served, "anne@ville.example", language=language)

    tab_to(page, 'nav a[href="/calendar"]')
    page.keyboard.press("Enter")
    page.wait_for_url(served.url("/calendar"))
    assert page.get_by_role("heading", level=1).inner_text() == texts["calendar"]
    checked(page, f"calendar-month-{language}")

    # the week of tomorrow, through the form
    tomorrow = date.fromisoformat(run["wake_at"][:10])
    page.locator("#view").focus()
    page.keyboard.press("ArrowDown")  # Month → Week
    page.goto(served.url(f"/calendar?view=week&date={tomorrow.isoformat()}"))
    row = page.locator("table.runs tbody tr", has_text="Budget 2027")
    assert texts["scheduled"] in row.inner_text()
    checked(page, f"calendar-week-{language}")

    press(page, f'a[href="/calendar/runs/{run["id"]}/reschedule"]')
    page.locator("#at").wait_for()
    checked(page, f"calendar-reschedule-{language}")
    later = tomorrow + timedelta(days=1)
    page.locator("#at").focus()
    # Chromium's date-time field takes digits segment by segment, day or month first depending on the browser's own
    # language: a 03 typed in the first segment says which; the left arrow goes back to it. A year may have more
    # than four digits, so the right arrow leaves it.
    page.keyboard.type("03")
    month_first = page.locator("#at").input_value()[5:7] == "03"
    page.keyboard.press("ArrowLeft")
    first, second = (later.month, later.day) if month_first else (later.day, later.month)
    page.keyboard.type(f"{first:02d}{second:02d}{later.year}")
    page.keyboard.press("ArrowRight")
    page.keyboard.type("0830")
    page.keyboard.press("Enter")
    page.get_by_text(texts["done"]).wait_for()
    assert page.url.endswith(f"date={later.isoformat()}")
    detail = api(served, "GET", f"/api/runs/{run['id']}").json()
    assert detail["wake_at"].startswith(later.isoformat()), detail
