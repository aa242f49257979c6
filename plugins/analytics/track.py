"""`analytics.track_event`: record an event in Beffroi's metric store, and send it to the step's analytics tools.

The event is stored once per step (its idempotency key is unique), so a retried step counts once. Each
tool that got the event is written in the delivery journal (key: the step's idempotency key, target: the
connection's name), so a retry after a partial failure only sends to the tools that did not get it.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from beffroi import ActionError, ActionSpec, delivered, record_delivery

from . import matomo, plausible, store
from .connector import AnalyticsConnector, deliver

CONNECTORS: dict[str, AnalyticsConnector] = {"matomo": matomo, "plausible": plausible}
MAX_PROPERTIES_CHARS = 16_000

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TrackEventInput(BaseModel):
    """An event to record: what happened, its details, its campaign and the link it is about."""

    model_config = ConfigDict(extra="forbid")
    name: Text = Field(description="What happened, e.g. `post_published`")
    properties: dict[str, Any] = Field(default_factory=dict, description="Details kept with the event (published "
                                       "links, counts…); `url` is the link it is about, a numeric `value` goes to "
                                       "Matomo as the event value")
    campaign: Text | None = Field(None, description="The campaign it counts for, e.g. `spring-fair`")
    url: str | None = Field(None, max_length=2000, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$",
                            description="The page or link the event is about (kept as `properties.url`)")

    @field_validator("properties")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, default=str))
        if size > MAX_PROPERTIES_CHARS:
            raise ValueError(f"properties are {size} characters long as JSON; at most {MAX_PROPERTIES_CHARS}")
        return value

    @model_validator(mode="after")
    def _one_link(self) -> TrackEventInput:
        given = self.properties.get("url")
        if self.url is not None and given not in (None, self.url):
            raise ValueError("give the link as url or as properties.url, not two different ones")
        return self

    def stored_properties(self) -> dict[str, Any]:
        """The properties as stored: with the link under `url`."""
        return {**self.properties, "url": self.url} if self.url is not None else dict(self.properties)


class Delivery(BaseModel):
    """One analytics tool the event went to."""

    connection: str = Field(description="the connection's name")
    type: str = Field(description="its type: matomo, plausible")
    status: Literal["sent", "already_sent", "preview"] = Field(
        description="`already_sent`: an earlier attempt of this step sent it, so it was not sent again; "
                    "`preview`: a dry run, nothing was sent")


class TrackEventOutput(BaseModel):
    """The stored event's id, and the tools it was sent to."""

    event_id: int = Field(description="the event's id in Beffroi's metrics (0 in a dry run: nothing is stored)")
    name: str = Field(description="what happened, e.g. post_published")
    campaign: str | None = Field(description="the campaign it counts for")
    sent: list[Delivery] = Field(description="the analytics tools it went to")


def _connectors(ctx: Any) -> list[tuple[Any, AnalyticsConnector]]:
    """Each connection of the step with its connector; checked before anything is stored or sent."""
    found = []
    for connection in ctx.connections:
        connector = CONNECTORS.get(connection.type)
        if connector is None:
            raise ActionError(f"connection {connection.name!r} is a {connection.type} connection, which "
                              f"analytics.track_event cannot send to (it knows {', '.join(sorted(CONNECTORS))})",
                              retryable=False)
        found.append((connection, connector))
    return found


def run(payload: TrackEventInput, ctx: Any) -> TrackEventOutput:
    """Store the event (once per step), then send it to each connection that has not got it yet."""
    targets = _connectors(ctx)
    event = store.record(ctx.db, key=ctx.idempotency_key, name=payload.name, campaign=payload.campaign,
                         properties=payload.stored_properties(), recipe=ctx.recipe or None, run_id=ctx.run_id or None)
    sent: list[Delivery] = []
    failures: list[tuple[str, ActionError]] = []
    for connection, connector in targets:
        if delivered(ctx.db, ctx.idempotency_key, connection.name) is not None:
            sent.append(Delivery(connection=connection.name, type=connection.type, status="already_sent"))
            continue
        try:
            result = deliver(connector, event, connection.config, ctx)
        except ActionError as exc:
            failures.append((connection.name, exc))
            record_delivery(ctx, ctx.idempotency_key, connection.name, status="failed", error=str(exc))
            continue
        record_delivery(ctx, ctx.idempotency_key, connection.name, result=result)
        sent.append(Delivery(connection=connection.name, type=connection.type, status="sent"))
    if failures:
        reached = f"; {', '.join(d.connection for d in sent)} got it" if sent else ""
        raise ActionError("; ".join(f"{name}: {exc}" for name, exc in failures)
                          + f" (recorded in Beffroi's metrics as event {event.id}{reached})",
                          retryable=all(exc.retryable for _, exc in failures))
    return TrackEventOutput(event_id=event.id, name=event.name, campaign=event.campaign, sent=sent)


def preview(payload: TrackEventInput, ctx: Any) -> dict[str, Any]:
    """The output a run would give (event id 0), the event that would be stored and the request each tool would
    get; nothing is stored or sent."""
    event = store.Event(id=None, name=payload.name, campaign=payload.campaign, recipe=ctx.recipe or None,
                        run_id=ctx.run_id or None, properties=payload.stored_properties())
    targets = _connectors(ctx)
    would_send = [{"connection": connection.name, "type": connection.type,
                   "request": connector.build(event, connection.config, ctx).shown()}
                  for connection, connector in targets]
    sent = [Delivery(connection=connection.name, type=connection.type, status="preview").model_dump()
            for connection, _ in targets]
    return {"event_id": 0, "name": event.name, "campaign": event.campaign, "sent": sent,
            "would_store": {"name": event.name, "campaign": event.campaign, "recipe": event.recipe,
                            "properties": event.properties},
            "would_send": would_send}


SPEC = ActionSpec(key="analytics.track_event", title="Track an event", input_model=TrackEventInput,
                  output_model=TrackEventOutput, connection_type="analytics", run=run, preview=preview,
                  description="Records an event in Beffroi's metrics and, when the step names Matomo or "
                              "Plausible connections, sends it to them too.")
