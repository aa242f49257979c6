"""One message to a topic per step (ntfy, FCM): the delivery journal keeps what was sent, so a retried step
returns it instead of sending again."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from beffroi import delivered, record_delivery

from .notification import Notification, message


def _counts(sent: bool, content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"recipients": 1, "sent": int(sent), "already_sent": int(not sent), "removed": 0, "failed": 0,
            "failures": [], "message": content, **extra}


def deliver(note: Notification, ctx: Any, send: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """`send(content)` once per step (it returns `{"id": …}`); the counts."""
    content = message(note, ctx, "push")
    recorded = delivered(ctx.db, ctx.idempotency_key, ctx.connection.name)
    if recorded is not None:
        return _counts(False, content, id=recorded.get("id", ""))
    result = send(content)
    record_delivery(ctx, ctx.idempotency_key, ctx.connection.name, result=result)
    return _counts(True, content, id=result["id"])


def describe(note: Notification, ctx: Any, request: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """What a run would send (`request(content)`: its address and body); nothing is sent."""
    content = message(note, ctx, "push")
    done = delivered(ctx.db, ctx.idempotency_key, ctx.connection.name) is not None
    return _counts(not done, content, request=request(content))
