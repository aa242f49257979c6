"""The publication calendar as the page shows it: a month or a week as a grid of days, and the same entries as a
list (a table), in the installation's time zone and the visitor's language."""
from __future__ import annotations

import calendar as weeks
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_day_names

from .routes import FieldProblem
from .tool_types import tool_type_name
from .web import N_, Visitor

VIEWS = {"month": N_("Month"), "week": N_("Week"), "day": N_("Day")}
CHANNELS = ("smms", "email", "wcms", "mcms")
STATES = {"scheduled": N_("scheduled"), "awaiting": N_("awaiting approval"), "planned": N_("planned"),
          "published": N_("published"), "failed": N_("failed")}


@dataclass
class CalendarQuery:
    """What the visitor asked for: a view, a day in it, a channel; problems with what they typed."""

    view: str
    day: date
    channel: str | None
    problems: list[FieldProblem] = field(default_factory=list)

    @classmethod
    def read(cls, seen: Visitor) -> CalendarQuery:
        query = seen.request.query_params
        view = query.get("view", "month") if query.get("view", "month") in VIEWS else "month"
        channel = query.get("channel") if query.get("channel") in CHANNELS else None
        today = seen.engine.clock().astimezone(ZoneInfo(seen.engine.settings.timezone)).date()
        typed, problems = query.get("date", "").strip(), []
        try:
            day = date.fromisoformat(typed) if typed else today
        except ValueError:
            day = today
            problems.append(FieldProblem("date", seen.gettext("Enter a date such as %(example)s.",
                                                              example=today.isoformat())))
        return cls(view, day, channel, problems)

    def span(self) -> tuple[date, date]:
        """The first day shown and the day after the last one."""
        if self.view == "day":
            return self.day, self.day + timedelta(days=1)
        if self.view == "week":
            monday = self.day - timedelta(days=self.day.weekday())
            return monday, monday + timedelta(days=7)
        first = self.day.replace(day=1)
        monday = first - timedelta(days=first.weekday())
        last = first.replace(day=weeks.monthrange(first.year, first.month)[1])
        return monday, last + timedelta(days=7 - last.weekday())

    def moved(self, step: int) -> date:
        """The day of the previous (-1) or next (1) month, week or day."""
        if self.view == "day":
            return self.day + timedelta(days=step)
        if self.view == "week":
            return self.day + timedelta(days=7 * step)
        month = self.day.month - 1 + step
        return date(self.day.year + month // 12, month % 12 + 1, 1)

    def link(self, **changes: Any) -> str:
        values = {"view": self.view, "date": self.day.isoformat(), "channel": self.channel or "", **changes}
        return "/calendar?" + urlencode({k: v for k, v in values.items() if v})


def bounds(query: CalendarQuery, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The span shown, as UTC instants (local midnights)."""
    first, after = query.span()
    return (datetime.combine(first, time(0), zone).astimezone(UTC), datetime.combine(after, time(0), zone)
            .astimezone(UTC))


def shown(seen: Visitor, entry: Any, zone: ZoneInfo) -> dict[str, Any]:
    """An entry with its local day and time, words for its state and channels, and where it links to."""
    local = entry.at.astimezone(zone)
    return {"entry": entry, "day": local.date(), "time": format_time(local, "short", locale=seen.language),
            "date": format_date(local, "full", locale=seen.language), "state": seen.gettext(STATES[entry.state]),
            "channels": ", ".join(tool_type_name(kind, seen.gettext) for kind in entry.channels),
            "link": f"/runs/{entry.run_id}" if entry.run_id else f"/recipes/{entry.recipe}",
            "movable": entry.state == "scheduled"}


def grid(query: CalendarQuery, items: list[dict[str, Any]], language: str) -> dict[str, Any]:
    """Weeks of days (Monday first), each day with its entries; the weekday names as headers."""
    first, after = query.span()
    by_day: dict[date, list[dict[str, Any]]] = {}
    for item in items:
        by_day.setdefault(item["day"], []).append(item)
    days = [first + timedelta(days=n) for n in range((after - first).days)]
    names = get_day_names("wide", locale=language)
    return {"headers": [names[n] for n in range(7)],
            "weeks": [[{"date": day, "number": day.day, "label": format_date(day, "full", locale=language),
                        "outside": query.view == "month" and day.month != query.day.month,
                        "entries": by_day.get(day, [])} for day in days[i:i + 7]] for i in range(0, len(days), 7)]}


def title(seen: Visitor, query: CalendarQuery) -> str:
    """'décembre 2026', 'Semaine du lundi 14 décembre 2026' or a day, as the caption of the grid and the list."""
    if query.view == "month":
        return format_date(query.day, "LLLL y", locale=seen.language)
    first, _ = query.span()
    day = format_date(first, "full", locale=seen.language)
    return seen.gettext("Week of %(day)s", day=day) if query.view == "week" else day
