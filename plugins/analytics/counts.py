"""The metric store's counts for the results pages (core's `MetricCounts`): per run from the events, per day and
per campaign from the daily counts kept as events are stored (store.count_day)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select

from .tables import AnalyticsDayRow, AnalyticsEventRow


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

    def per_day(self, db: Any, *, first: date, last: date,
                campaign: str | None = None) -> list[tuple[date, str, int]]:
        """Events per UTC day and name, oldest first."""
        table = AnalyticsDayRow
        query = (select(table.day, table.name, func.sum(table.events))
                 .where(table.day >= first.isoformat(), table.day <= last.isoformat())
                 .group_by(table.day, table.name).order_by(table.day))
        if campaign is not None:
            query = query.where(table.campaign == campaign)
        with db.session() as session:
            return [(date.fromisoformat(day), name, int(count)) for day, name, count in session.execute(query)]

    def per_campaign(self, db: Any, *, first: date, last: date) -> list[tuple[str, str, int]]:
        """Events per campaign and name over the days."""
        table = AnalyticsDayRow
        query = (select(table.campaign, table.name, func.sum(table.events))
                 .where(table.day >= first.isoformat(), table.day <= last.isoformat())
                 .group_by(table.campaign, table.name))
        with db.session() as session:
            return [(campaign, name, int(count)) for campaign, name, count in session.execute(query)]
