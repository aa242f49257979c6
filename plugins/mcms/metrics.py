"""Deliveries and taps of notifications in Beffroi's metric store, when a plugin provides one (analytics)."""
from __future__ import annotations

import logging
from typing import Any

from beffroi import ActionError, MetricRecorder, Services

log = logging.getLogger("beffroi.mcms")


def recorder(services: Services) -> MetricRecorder | None:
    """The metric store, or None when no plugin provides one (the notification is sent all the same)."""
    try:
        return services.get(MetricRecorder)
    except ActionError:
        return None


def track_sent(ctx: Any, campaign: str, output: dict[str, Any]) -> None:
    """`push_sent`: one event per step with its counts (a retried step keeps its first event)."""
    found = recorder(ctx.services)
    if found is None:
        return
    properties = {name: output[name] for name in ("channel", "connection", "topic", "recipients", "sent",
                                                  "already_sent", "failed", "removed")}
    found.record(ctx.db, key=f"{ctx.idempotency_key}:push_sent", name="push_sent", campaign=campaign,
                 properties=properties, recipe=ctx.recipe, run_id=ctx.run_id)


def track_click(db: Any, services: Services, key: str, campaign: str | None, topic: str | None, url: str) -> None:
    """`push_clicked`: a tapped notification (no data about the person: the topic and the page only)."""
    found = recorder(services)
    if found is None:
        return
    found.record(db, key=key, name="push_clicked", campaign=campaign, properties={"topic": topic, "url": url})
