"""`mcms.push`: a push notification to the subscribers of a topic, through the step's connection.

Each connection type of the `mcms` tool type delivers in its own way (the `PushChannel` protocol): `webpush`
encrypts for every subscribed browser (also what a step without a connection uses), `ntfy` publishes once
to a topic of an ntfy server, `fcm` sends once to a topic of Firebase Cloud Messaging. The preview shows the
message, its length against what common platforms show, and how many subscribers would get it.
"""
from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field

from beffroi import ActionError, ActionSpec

from . import fcm, metrics, ntfy, webpush
from .notification import Notification, lengths, payload_bytes, warnings


class PushChannel(Protocol):
    """How one connection type delivers a notification (`deliver`) and says what it would do (`describe`)."""

    def deliver(self, note: Notification, ctx: Any) -> dict[str, Any]: ...

    def describe(self, note: Notification, ctx: Any) -> dict[str, Any]: ...


CHANNELS: dict[str, Any] = {"webpush": webpush, "ntfy": ntfy, "fcm": fcm}


class Failure(BaseModel):
    """A subscriber who did not get it, and why."""

    endpoint: str = Field(description="the subscription's push service (its private part left out)")
    error: str = Field(description="what the push service answered")


class PushOutput(BaseModel):
    """Counts of the notification's delivery."""

    channel: str = Field(description="webpush, ntfy or fcm")
    connection: str = Field(description="The connection it went through (`webpush` when the step names none)")
    topic: str = Field(description="The topic")
    recipients: int = Field(description="Subscribers of the topic (1 for a topic of an ntfy server or of FCM)")
    sent: int = Field(description="Sent by this attempt (in a dry run: how many would be sent)")
    already_sent: int = Field(description="Sent by an earlier attempt of this step (not sent again)")
    removed: int = Field(description="Subscriptions the push service said are gone, removed")
    failed: int = Field(description="Subscribers who did not get it")
    failures: list[Failure] = Field(description="Who failed and why (the first 200)")
    message: dict[str, Any] = Field(description="What subscribers receive: title, body, url, topic, tag")
    warnings: list[str] = Field([], description="What to shorten before sending")


def _channel(ctx: Any) -> tuple[str, str, Any]:
    """(type, connection name, channel module) of the step."""
    if ctx.connection is None:
        return "webpush", "webpush", webpush
    kind = ctx.connection.type
    if kind not in CHANNELS:
        raise ActionError(f"the connection {ctx.connection.name!r} ({kind}) cannot send push notifications; choose "
                          f"one of type {', '.join(CHANNELS)}", retryable=False)
    return kind, ctx.connection.name, CHANNELS[kind]


def _common(note: Notification, kind: str, name: str, result: dict[str, Any]) -> dict[str, Any]:
    size = len(payload_bytes(result["message"]))
    return {"channel": kind, "connection": name, "topic": note.topic, **result,
            "warnings": warnings(note, size if kind == "webpush" else 0)}


def run(note: Notification, ctx: Any) -> dict[str, Any]:
    """Deliver the notification; a message too large for Web Push is refused before anything is sent."""
    kind, name, channel = _channel(ctx)
    output = _common(note, kind, name, channel.deliver(note, ctx))
    metrics.track_sent(ctx, note.campaign or ctx.recipe, output)
    return output


def preview(note: Notification, ctx: Any) -> dict[str, Any]:
    """The message as subscribers would get it, its lengths per platform and how many would get it."""
    kind, name, channel = _channel(ctx)
    out = _common(note, kind, name, channel.describe(note, ctx))
    return {**out, "lengths": lengths(note), "would_send": {"channel": kind, "to": out["sent"],
                                                             "message": out["message"]}}


SPEC = ActionSpec(
    key="mcms.push", title="Send a push notification", input_model=Notification, output_model=PushOutput,
    connection_type="mcms", run=run, preview=preview, default_timeout=3600,
    description="Sends a notification (title, text, link tagged for analytics) to everyone subscribed to a topic: "
                "browsers through Web Push, a topic of an ntfy server or of Firebase Cloud Messaging. If it stops, "
                "running it again sends only to those who did not get it yet.")
