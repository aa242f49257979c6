"""The metric recorder: what a plugin keeping metrics (analytics) offers the plugins that publish (mcms)."""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


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
