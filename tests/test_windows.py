"""Publish windows: the first instant an embargo, quiet hours, working days and a time of day allow."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from beffroi.windows import Window, next_allowed

BRUSSELS = ZoneInfo("Europe/Brussels")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BRUSSELS)


def allowed(now: str, **window) -> str:
    return next_allowed(Window(**window), at(now), BRUSSELS).strftime("%a %Y-%m-%d %H:%M")


def test_an_open_window_or_one_in_the_past_publishes_at_once():
    assert allowed("2026-12-08 14:00") == "Tue 2026-12-08 14:00"
    assert allowed("2026-12-08 14:00", not_before="2026-12-01T09:00") == "Tue 2026-12-08 14:00"
    assert allowed("2026-12-08 14:00", quiet_hours="22:00-07:00", working_days=True) == "Tue 2026-12-08 14:00"


def test_an_embargo_holds_until_its_time_in_local_time_or_with_its_offset():
    assert allowed("2026-12-08 14:00", not_before="2026-12-10T09:30") == "Thu 2026-12-10 09:30"
    assert allowed("2026-12-08 14:00", not_before="2026-12-10T09:30+00:00") == "Thu 2026-12-10 10:30"
    assert allowed("2026-12-08 14:00", not_before="2026-12-10") == "Thu 2026-12-10 00:00"


def test_quiet_hours_across_midnight_move_to_their_end():
    assert allowed("2026-12-08 23:15", quiet_hours="22:00-07:00") == "Wed 2026-12-09 07:00"
    assert allowed("2026-12-09 03:00", quiet_hours="22:00-07:00") == "Wed 2026-12-09 07:00"
    assert allowed("2026-12-09 07:00", quiet_hours="22:00-07:00") == "Wed 2026-12-09 07:00"  # the end is not quiet
    assert allowed("2026-12-09 12:30", quiet_hours="12:00-14:00") == "Wed 2026-12-09 14:00"


def test_ten_o_clock_the_next_working_day_skips_weekends_and_belgian_holidays():
    window = {"working_days": True, "at": "10:00", "next_day": True}
    assert allowed("2026-12-08 09:00", **window) == "Wed 2026-12-09 10:00"
    assert allowed("2026-12-11 16:00", **window) == "Mon 2026-12-14 10:00"  # Friday → Monday
    assert allowed("2026-12-24 11:00", **window) == "Mon 2026-12-28 10:00"  # Christmas, then a weekend
    assert allowed("2026-07-20 11:00", **window) == "Wed 2026-07-22 10:00"  # the National Day, 21 July
    assert allowed("2026-12-08 09:00", working_days=True, at="10:00") == "Tue 2026-12-08 10:00"  # today, still
    assert allowed("2026-12-08 11:00", working_days=True, at="10:00") == "Wed 2026-12-09 10:00"


def test_another_country_has_its_own_holidays():
    monday_14_july = at("2026-07-14 08:00")
    assert next_allowed(Window(working_days=True), monday_14_july, BRUSSELS, "BE") == monday_14_july
    assert next_allowed(Window(working_days=True), monday_14_july, BRUSSELS, "FR").date().isoformat() == "2026-07-15"


def test_wall_clock_times_hold_across_daylight_saving_changes():
    # clocks go forward on Sunday 29 March 2026 at 02:00: 10:00 is 08:00 UTC the day after, not 09:00
    moment = next_allowed(Window(at="10:00", next_day=True), at("2026-03-28 12:00"), BRUSSELS)
    assert moment.astimezone(ZoneInfo("UTC")).strftime("%d %H:%M") == "29 08:00"
    skipped = next_allowed(Window(at="02:30"), at("2026-03-29 00:00"), BRUSSELS)  # 02:30 does not exist that day
    assert skipped.astimezone(ZoneInfo("UTC")).strftime("%d %H:%M") == "29 01:30"


@pytest.mark.parametrize("window, message", [
    ({"quiet_hours": "22h-7h"}, "'22h' is not a time of day: write it as HH:MM"),
    ({"quiet_hours": "22:00"}, "is not a span of hours: write it as HH:MM-HH:MM"),
    ({"quiet_hours": "08:00-08:00"}, "start and end at the same time"),
    ({"at": "25:00"}, "'25:00' is not a time of day"),
    ({"at": "23:00", "quiet_hours": "22:00-07:00"}, "falls inside the quiet hours"),
    ({"next_day": True}, "next_day needs a time of day"),
    ({"not_before": "next tuesday"}, "is not a date-time: write it as YYYY-MM-DDTHH:MM"),
    ({"weekends": False}, "Extra inputs are not permitted"),
])
def test_a_window_that_cannot_work_is_refused_in_plain_words(window, message):
    with pytest.raises(ValidationError, match=message):
        Window(**window)


def test_a_templated_embargo_is_read_when_the_run_renders_it():
    window = Window(not_before="{{ trigger.embargo }}")
    assert next_allowed(window, at("2026-12-08 14:00"), BRUSSELS) == at("2026-12-08 14:00")
    assert next_allowed(window, at("2026-12-08 14:00"), BRUSSELS,
                        not_before=at("2026-12-09 08:00")) == at("2026-12-09 08:00")
