"""A from/to pair of days typed in a list's filters, read in the installation's time zone (both days included)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .routes import FieldProblem
from .web import Visitor


@dataclass
class DateRange:
    """`since`/`until` as typed (YYYY-MM-DD), their problems, and the instants they bound (`start`, `end`)."""

    since: str = ""
    until: str = ""
    problems: list[FieldProblem] = field(default_factory=list)
    start: datetime | None = None  # the first instant of the `from` day
    end: datetime | None = None  # the first instant after the `to` day

    @classmethod
    def read(cls, seen: Visitor, since: str, until: str) -> DateRange:
        """Check both days (a located problem for each bad one); the bounds are set only when both are right."""
        found = cls(since.strip(), until.strip())
        days: dict[str, date] = {}
        for name, text in (("from", found.since), ("to", found.until)):
            if text:
                try:
                    days[name] = date.fromisoformat(text)
                except ValueError:
                    found.problems.append(FieldProblem(name, seen.gettext(
                        "Enter a real date, for example %(example)s.", example="2026-12-31")))
        if "from" in days and "to" in days and days["to"] < days["from"]:
            found.problems.append(FieldProblem("to", seen.gettext("The end date must be on or after the start date.")))
        if not found.problems:
            zone = ZoneInfo(seen.engine.settings.timezone)
            if "from" in days:
                found.start = datetime.combine(days["from"], time(), zone)
            if "to" in days:
                found.end = datetime.combine(days["to"] + timedelta(days=1), time(), zone)
        return found

    def pairs(self) -> list[tuple[str, str]]:
        """The query-string pairs that give these days again."""
        return [(name, value) for name, value in (("from", self.since), ("to", self.until)) if value]
