"""What a plugin keeping metrics (analytics) offers the others: counts of tracked events per run, per day, per
campaign (the results pages read them) and a recorder of events (the plugins that publish, e.g. mcms, write them)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class MetricCounts(Protocol):
    """Counts of tracked events (clicks, visits, opens, unsubscribes…); the analytics plugin provides its store's.

    A plugin provides it with `register_services` (`ServiceSpec(protocol=MetricCounts, provider=…)`); the web UI
    obtains it with `Services(engine.registry.services).get(MetricCounts)`. Days are UTC calendar days (as the
    analytics API's summary counts them), both bounds included.
    """

    def per_run(self, db: Any, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """{run id: {event name: count}} for the events these runs recorded (runs with none are left out)."""
        ...

    def per_day(self, db: Any, *, first: date, last: date,
                campaign: str | None = None) -> list[tuple[date, str, int]]:
        """(day, event name, count) from day `first` to day `last`, oldest first; `campaign` narrows to one
        campaign ('' for events of no campaign)."""
        ...

    def per_campaign(self, db: Any, *, first: date, last: date) -> list[tuple[str, str, int]]:
        """(campaign, '' for none; event name; count) over the days from `first` to `last`."""
        ...


@runtime_checkable
class MetricRecorder(Protocol):
    """Records events in Beffroi's own metric store; the analytics plugin provides it.

    A plugin provides it with `register_services` (`ServiceSpec(protocol=MetricRecorder, provider=…)`); an
    action obtains it with `ctx.services.get(MetricRecorder)`, which says so when no plugin provides one.
    """

    def record(self, db: Any, *, key: str, name: str, campaign: str | None, properties: dict[str, Any],
               recipe: str | None = None, run_id: str | None = None) -> None:
        """Store one event, once per idempotency `key` (a repeat with the same key stores nothing)."""
        ...
