"""The metric store as the `MetricRecorder` service: what other plugins record events through (`ctx.services`)."""
from __future__ import annotations

from typing import Any

from . import store


class BuiltinRecorder:
    """Events recorded in the built-in metric store, once per idempotency key."""

    def record(self, db: Any, *, key: str, name: str, campaign: str | None, properties: dict[str, Any],
               recipe: str | None = None, run_id: str | None = None) -> None:
        """Store one event (a repeat with the same key stores nothing)."""
        store.record(db, key=key, name=name, campaign=campaign, properties=properties, recipe=recipe, run_id=run_id)
