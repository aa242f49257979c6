"""What the results pages read from a metric store: counts of tracked events per run, per hour, per campaign."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class MetricCounts(Protocol):
    """Counts of tracked events (clicks, visits, opens, unsubscribes…); the analytics plugin provides its store's.

    A plugin provides it with `register_services` (`ServiceSpec(protocol=MetricCounts, provider=…)`); the web UI
    obtains it with `Services(engine.registry.services).get(MetricCounts)`. Times are aware datetimes.
    """

    def per_run(self, db: Any, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """{run id: {event name: count}} for the events these runs recorded (runs with none are left out)."""
        ...

    def per_hour(self, db: Any, *, since: datetime, until: datetime,
                 campaign: str | None = None) -> list[tuple[datetime, str, int]]:
        """(hour's start in UTC, event name, count) from `since` (inclusive) to `until` (exclusive), by hour;
        `campaign` narrows to one campaign ('' for events of no campaign)."""
        ...

    def per_campaign(self, db: Any, *, since: datetime, until: datetime) -> list[tuple[str, str, int]]:
        """(campaign, '' for none; event name; count) over the hours from `since` to `until`."""
        ...
