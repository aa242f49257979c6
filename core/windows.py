"""Publish windows: when a step with side effects may run (an embargo, quiet hours, working days, a time of day).

A recipe (for all its steps that publish or send) or one step sets `window:`:

    window:
      not_before: "2026-12-10T09:00"    # an embargo: a local date-time, or a template ("{{ trigger.embargo }}")
      quiet_hours: "22:00-07:00"        # never inside these hours (local time; may span midnight)
      working_days: true                # weekdays that are not public holidays (BEFFROI_HOLIDAYS, default BE)
      at: "10:00"                       # at this time of day…
      next_day: true                    # …of a later day than the run's start ("10:00 the next working day")

A recipe's window is read from when the run reached the first step it holds ("10:00 the next working day" after
that moment); the later steps it holds go out with that one, not a day later because they were reached after
10:00. A step's own window is read from when the run reached that step.

`next_allowed(window, now)` is the first instant at or after `now` the window allows: a window already open
(or in the past) gives `now` itself, so the step runs at once. Times are wall-clock times in the installation's
time zone, correct across daylight-saving changes; a time that does not exist on a day (02:30 when clocks go
forward at 02:00) is read with the offset before the change (03:30 by the new clock).
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_SEARCH_DAYS = 800  # more than two years: a window that never opens is refused at save time, not searched for ever


def clock(text: str) -> time:
    """'7:30' → time(7, 30); ValueError with a plain message otherwise."""
    match = _CLOCK.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of day: write it as HH:MM, for example 10:00")
    return time(int(match.group(1)), int(match.group(2)))


class Window(BaseModel):
    """When steps that publish or send may run. Every part is optional; together they all must hold."""

    model_config = ConfigDict(extra="forbid")
    not_before: str | None = Field(None, description="embargo: not before this local date-time (YYYY-MM-DDTHH:MM) "
                                                     "or the date-time a template gives")
    quiet_hours: str | None = Field(None, description="never between these times, e.g. 22:00-07:00")
    working_days: bool = Field(False, description="only on weekdays that are not public holidays")
    at: str | None = Field(None, description="at this time of day, e.g. 10:00")
    next_day: bool = Field(False, description="on a later day than the one the run reaches the step")

    @field_validator("quiet_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.split("-")
        if len(parts) != 2:
            raise ValueError(f"{value!r} is not a span of hours: write it as HH:MM-HH:MM, for example 22:00-07:00")
        start, end = (clock(part) for part in parts)
        if start == end:
            raise ValueError("the quiet hours start and end at the same time")
        return f"{start:%H:%M}-{end:%H:%M}"

    @field_validator("at")
    @classmethod
    def _at(cls, value: str | None) -> str | None:
        return None if value is None else f"{clock(value):%H:%M}"

    @field_validator("not_before")
    @classmethod
    def _not_before(cls, value: str | None) -> str | None:
        if value is None or "{{" in value or "{%" in value:
            return value  # a template: checked as a template by validation, read as a date-time when the run renders it
        embargo(value, ZoneInfo("UTC"))
        return value

    @model_validator(mode="after")
    def _possible(self) -> Window:
        if self.at and self.quiet_hours and in_quiet_hours(clock(self.at), self.quiet_hours):
            raise ValueError(f"{self.at} falls inside the quiet hours {self.quiet_hours}: the step could never run")
        if self.next_day and not self.at:
            raise ValueError("next_day needs a time of day (at), for example at: 10:00")
        return self


def embargo(text: str, zone: ZoneInfo) -> datetime:
    """A date-time as written in a recipe or an event ('2026-12-10T09:00', a date alone, or with an offset), aware;
    a time without offset is local time in `zone`."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date-time: write it as YYYY-MM-DDTHH:MM, for example "
                         "2026-12-10T09:00") from None
    return _local(moment.date(), moment.time(), zone) if moment.tzinfo is None else moment


def in_quiet_hours(moment: time, quiet_hours: str) -> bool:
    """True when the time of day falls inside the span (which may cross midnight); the end is not quiet."""
    start, end = (clock(part) for part in quiet_hours.split("-"))
    return start <= moment < end if start < end else (moment >= start or moment < end)


@lru_cache(maxsize=16)
def _holiday_calendar(region: str):
    import holidays

    country, _, subdivision = region.partition("-")
    return holidays.country_holidays(country, subdiv=subdivision or None)


def is_working_day(day: date, region: str) -> bool:
    """A weekday that is not a public holiday of `region` ('BE', 'FR', 'DE-BY': country and subdivision)."""
    return day.weekday() < 5 and day not in _holiday_calendar(region)


def _local(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """The instant a local wall-clock time names, normalised to the offset in force at that instant."""
    # in a gap (02:30 when clocks go forward at 02:00), the offset before the change applies: 03:30 by the new clock
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC).astimezone(zone)


def next_allowed(window: Window, now: datetime, zone: ZoneInfo, region: str = "BE",
                 not_before: datetime | None = None) -> datetime:
    """The first instant at or after `now` that the window allows, aware in `zone`. `not_before`: the embargo
    already read (a rendered template); else the window's own `not_before` when it is a date-time."""
    start = now.astimezone(zone)
    if not_before is None and window.not_before and "{{" not in window.not_before:
        not_before = embargo(window.not_before, zone)
    if not_before is not None:
        start = max(start, not_before.astimezone(zone))
    day = start.date() + timedelta(days=1) if window.next_day else start.date()
    at = clock(window.at) if window.at else None
    for _ in range(_SEARCH_DAYS):
        if not window.working_days or is_working_day(day, region):
            found = _first_on(day, start, at, window.quiet_hours, zone)
            if found is not None:
                return found
        day += timedelta(days=1)
    raise ValueError("the window never opens in the next two years")


def _first_on(day: date, start: datetime, at: time | None, quiet_hours: str | None, zone: ZoneInfo
              ) -> datetime | None:
    """The first allowed instant on `day` that is not before `start`, or None."""
    midnight = _local(day, time(0, 0), zone)
    if at is not None:
        candidate = _local(day, at, zone)
        return candidate if candidate >= start else None
    candidate = max(start, midnight)
    if candidate.date() != day:
        return None
    if quiet_hours and in_quiet_hours(candidate.time(), quiet_hours):
        quiet_start, quiet_end = (clock(part) for part in quiet_hours.split("-"))
        if quiet_start < quiet_end or candidate.time() < quiet_end:
            candidate = _local(day, quiet_end, zone)  # the quiet hours end later today
        else:
            return None  # quiet until past midnight: tomorrow
    return candidate
