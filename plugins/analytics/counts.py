"""The metric store's counts for the results pages (core's `MetricCounts`): per run from the events, per hour and
per campaign from the hourly counts kept as events are stored (store.count_hour)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from .store import hour_of
from .tables import AnalyticsEventRow, AnalyticsHourRow


def _hours(since: datetime, until: datetime) -> tuple[str, str]:
    """The hour keys from `since`'s hour to the hour before `until` (an `until` on the hour is left out)."""
    return hour_of(since), hour_of(until - timedelta(microseconds=1))


class BuiltinCounts:
    """MetricCounts over the built-in store's tables."""

    def per_run(self, db: Any, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Events per name of each run."""
        found: dict[str, dict[str, int]] = {}
        if not run_ids:
            return found
        table = AnalyticsEventRow
        with db.session() as session:
            for run_id, name, count in session.execute(
                    select(table.run_id, table.name, func.count()).where(table.run_id.in_(list(run_ids)))
                    .group_by(table.run_id, table.name)):
                found.setdefault(run_id, {})[name] = count
        return found

    def per_hour(self, db: Any, *, since: datetime, until: datetime,
                 campaign: str | None = None) -> list[tuple[datetime, str, int]]:
        """Events per hour and name, oldest first."""
        first, last = _hours(since, until)
        table = AnalyticsHourRow
        query = (select(table.hour, table.name, func.sum(table.events)).where(table.hour >= first, table.hour <= last)
                 .group_by(table.hour, table.name).order_by(table.hour))
        if campaign is not None:
            query = query.where(table.campaign == campaign)
        with db.session() as session:
            return [(datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC), name, int(count))
                    for hour, name, count in session.execute(query)]

    def per_campaign(self, db: Any, *, since: datetime, until: datetime) -> list[tuple[str, str, int]]:
        """Events per campaign and name over the period, largest campaigns' rows as they come."""
        first, last = _hours(since, until)
        table = AnalyticsHourRow
        query = (select(table.campaign, table.name, func.sum(table.events))
                 .where(table.hour >= first, table.hour <= last).group_by(table.campaign, table.name))
        with db.session() as session:
            return [(campaign, name, int(count)) for campaign, name, count in session.execute(query)]
