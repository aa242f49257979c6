"""What the results pages show, computed once for the page and its CSV files: the filters, the events per period
and per campaign (from the metric store's hourly counts, grouped in the installation's time zone) and the
publications (runs that published) with what went out and what came back."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date

from beffroi import ActionError, MetricCounts, Services, publications_page, publishing_recipes

from . import i18n
from .date_range import DateRange
from .routes import FieldProblem
from .web import N_, Visitor

PERIODS = {"day": N_("Day"), "week": N_("Week"), "month": N_("Month")}
SPANS = {"day": 30, "week": 12 * 7, "month": 365}  # days shown when no dates are given
MAX_DAYS = {"day": 92, "week": 400, "month": 400}  # a chart of more bars than that cannot be read
EVENT_NAMES = {"click": N_("Clicks"), "visit": N_("Visits"), "open": N_("Opens"), "unsubscribe": N_("Unsubscribes")}
CHANNEL_NAMES = {"smms": N_("Social media"), "email": N_("E-mail"), "wcms": N_("Website"), "mcms": N_("Mobile app")}
PUBLICATIONS_PAGE = 20
CAMPAIGNS_SHOWN = 20


@dataclass
class ResultFilters:
    """The dashboard's filters, checked: period, days (defaults: the last SPANS[period] days), campaign, cursor."""

    period: str = "day"
    days: DateRange = field(default_factory=DateRange)
    campaign: str = ""
    before: tuple[datetime, str] | None = None
    first_day: date = date.min
    last_day: date = date.min

    @property
    def problems(self) -> list[FieldProblem]:
        return self.days.problems

    @classmethod
    def read(cls, seen: Visitor) -> ResultFilters:
        query = seen.request.query_params
        period = query.get("period", "day") if query.get("period", "day") in PERIODS else "day"
        days = DateRange.read(seen, query.get("from", ""), query.get("to", ""))
        found = cls(period, days, query.get("campaign", "").strip()[:200], _cursor(query.get("before", "")))
        zone = ZoneInfo(seen.engine.settings.timezone)
        today = datetime.now(zone).date()
        last = (days.end.date() - timedelta(days=1)) if days.end else today
        first = days.start.date() if days.start else last - timedelta(days=SPANS[period] - 1)
        if days.start and not days.end:
            last = max(first, min(today, first + timedelta(days=SPANS[period] - 1)))
        if (last - first).days >= MAX_DAYS[period]:
            days.problems.append(FieldProblem("to", seen.gettext(
                "Choose at most %(days)s days between the two dates.", days=MAX_DAYS[period])
                + (" " + seen.gettext("For longer, count per week or per month.") if period == "day" else "")))
            first = last - timedelta(days=SPANS[period] - 1)
        found.first_day, found.last_day = first, last
        if not days.problems:  # the form shows the days counted, typed or not
            days.since, days.until = first.isoformat(), last.isoformat()
        return found

    def bounds(self, zone: str) -> tuple[datetime, datetime]:
        """The first instant of the first day and the first instant after the last, in UTC."""
        tz = ZoneInfo(zone)
        return (datetime.combine(self.first_day, time(), tz).astimezone(UTC),
                datetime.combine(self.last_day + timedelta(days=1), time(), tz).astimezone(UTC))

    def pairs(self, **extra: str) -> list[tuple[str, str]]:
        """The query string of these filters (the days as shown), plus `extra`."""
        found = [("period", self.period), ("from", self.first_day.isoformat()), ("to", self.last_day.isoformat())]
        if self.campaign:
            found.append(("campaign", self.campaign))
        return found + list(extra.items())

    def link(self, path: str, **extra: str) -> str:
        return f"{path}?{urlencode(self.pairs(**extra))}"


def _cursor(text: str) -> tuple[datetime, str] | None:
    moment, _, run_id = text.partition("~")
    try:
        return (datetime.fromisoformat(moment), run_id) if run_id and len(run_id) <= 32 else None
    except ValueError:
        return None


def _bucket(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _buckets(first: date, last: date, period: str) -> list[date]:
    found, day = [], _bucket(first, period)
    while day <= last:
        found.append(day)
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1) if period == "month" else \
            day + timedelta(days=7 if period == "week" else 1)
    return found


def bucket_label(seen: Visitor, day: date, period: str) -> str:
    """A period as people read it in the visitor's language: 7 Dec, week of 7 Dec, Dec 2026."""
    if period == "month":
        return format_date(day, "LLL y", locale=seen.language)
    shown = format_date(day, "d MMM", locale=seen.language)
    return seen.gettext("week of %(day)s", day=shown) if period == "week" else shown


def event_label(seen: Visitor, name: str) -> str:
    return seen.gettext(EVENT_NAMES[name]) if name in EVENT_NAMES else name


def _ordered(names: set[str]) -> list[str]:
    return [n for n in EVENT_NAMES if n in names] + sorted(names - set(EVENT_NAMES))


def metrics(seen: Visitor) -> MetricCounts | None:
    """The metric store's counts (None when no plugin provides them: the analytics plugin is disabled)."""
    try:
        return Services(seen.engine.registry.services).get(MetricCounts)
    except ActionError:  # ServiceUnavailable
        return None


def per_period(seen: Visitor, filters: ResultFilters, counts: MetricCounts) -> dict[str, Any]:
    """Events per period and name: {periods: [(day, label)], names: [(name, label)], values: {name: [n…]}}."""
    starts = _buckets(filters.first_day, filters.last_day, filters.period)
    index = {day: position for position, day in enumerate(starts)}
    values: dict[str, list[int]] = {}
    for day, name, count in counts.per_day(seen.engine.db, first=filters.first_day, last=filters.last_day,
                                           campaign=filters.campaign or None):
        position = index.get(_bucket(day, filters.period))
        if position is not None:
            values.setdefault(name, [0] * len(starts))[position] += count
    names = _ordered(set(values))
    labels = [bucket_label(seen, day, filters.period) for day in starts]
    return {"periods": list(zip(starts, labels, strict=True)),
            "names": [(name, event_label(seen, name)) for name in names], "values": values,
            "rows": [(label, [values[name][i] for name in names]) for i, label in enumerate(labels)]}


def per_campaign(seen: Visitor, filters: ResultFilters, counts: MetricCounts) -> dict[str, Any]:
    """Events per campaign and name over the days, the largest campaigns first."""
    table: dict[str, dict[str, int]] = {}
    for campaign, name, count in counts.per_campaign(seen.engine.db, first=filters.first_day, last=filters.last_day):
        table.setdefault(campaign, {})[name] = table.get(campaign, {}).get(name, 0) + count
    names = _ordered({name for row in table.values() for name in row})
    ordered = sorted(table.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return {"names": [(name, event_label(seen, name)) for name in names], "total": len(ordered),
            "rows": [{"campaign": campaign, "label": campaign or seen.gettext("(no campaign)"),
                      "counts": [row.get(name, 0) for name in names],
                      "link": replace(filters, campaign=campaign, before=None).link("/results")}
                     for campaign, row in ordered]}


def publications(seen: Visitor, filters: ResultFilters, counts: MetricCounts | None,
                 limit: int = PUBLICATIONS_PAGE) -> tuple[list[dict[str, Any]], str | None]:
    """The publications of the days, newest first, with what went out and came back; and the next page's cursor."""
    since, until = filters.bounds(seen.engine.settings.timezone)
    found = publications_page(seen.engine.db, recipes=publishing_recipes(seen.engine.db), since=since, until=until,
                              before=filters.before, limit=limit + 1)
    more = len(found) > limit
    found = found[:limit]
    back = counts.per_run(seen.engine.db, [p["id"] for p in found]) if counts and found else {}
    zone = seen.engine.settings.timezone
    for publication in found:
        publication["when"] = i18n.when(publication["started_at"] or publication["created_at"], seen.language, zone)
        for line in publication["channels"]:
            line["channel_label"] = seen.gettext(CHANNEL_NAMES.get(line["channel"], line["channel"]))
        came = back.get(publication["id"], {})
        publication["results"] = [(event_label(seen, name), came[name]) for name in _ordered(set(came))]
    last = found[-1] if more else None
    return found, f"{last['created_at'].isoformat()}~{last['id']}" if last else None
