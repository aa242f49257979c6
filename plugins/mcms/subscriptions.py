"""Web Push subscriptions per topic: a browser's endpoint and keys, added and removed by the public endpoints."""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select

from .tables import SubscriptionRow

TOPIC = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
BATCH = 1000


class SubscriptionError(ValueError):
    """A subscription that cannot be one; the message names the field."""


@dataclass(frozen=True)
class Subscription:
    """What a push needs: where to send, and the browser's keys to encrypt for."""

    id: str
    endpoint: str
    p256dh: str
    auth: str

    def info(self) -> dict[str, Any]:
        """As the browser's PushSubscription JSON (what pywebpush takes)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def subscription_id(topic: str, endpoint: str) -> str:
    """The stable id of one endpoint's subscription to one topic."""
    return hashlib.sha256(f"{topic}\n{endpoint}".encode()).hexdigest()


def _key(value: Any, field: str, size: int) -> str:
    if not isinstance(value, str):
        raise SubscriptionError(f"{field}: expected the browser's key as base64url text")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise SubscriptionError(f"{field}: not base64url") from None
    if len(raw) != size or (size == 65 and raw[0] != 4):
        raise SubscriptionError(f"{field}: not a Web Push key ({size} bytes expected)")
    return value.rstrip("=")


def check(topic: Any, subscription: Any) -> tuple[str, Subscription]:
    """(topic, subscription) from what a browser posted; SubscriptionError naming the field that is wrong."""
    if not isinstance(topic, str) or not TOPIC.match(topic):
        raise SubscriptionError("topic: lowercase letters, digits and dashes (at most 100)")
    if not isinstance(subscription, dict):
        raise SubscriptionError("subscription: expected the browser's PushSubscription as JSON")
    endpoint = subscription.get("endpoint")
    if not isinstance(endpoint, str) or not re.match(r"^https?://[^/\s]+/\S*$", endpoint) or len(endpoint) > 2000:
        raise SubscriptionError("subscription.endpoint: expected the push service's https address")
    keys = subscription.get("keys")
    if not isinstance(keys, dict):
        raise SubscriptionError("subscription.keys: expected the p256dh and auth keys")
    p256dh = _key(keys.get("p256dh"), "subscription.keys.p256dh", 65)
    auth = _key(keys.get("auth"), "subscription.keys.auth", 16)
    return topic, Subscription(subscription_id(topic, endpoint), endpoint, p256dh, auth)


def add(db: Any, topic: str, sub: Subscription) -> bool:
    """Store a subscription (its keys renewed when already there); True when it is new."""
    with db.write_lock, db.session() as session:
        row = session.get(SubscriptionRow, sub.id)
        if row is not None:
            row.p256dh, row.auth = sub.p256dh, sub.auth
            return False
        session.add(SubscriptionRow(id=sub.id, topic=topic, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth))
        return True


def remove(db: Any, ids: list[str]) -> int:
    """Delete subscriptions by id (unsubscribed, or gone at the push service); how many were there."""
    if not ids:
        return 0
    with db.write_lock, db.session() as session:
        return session.execute(delete(SubscriptionRow).where(SubscriptionRow.id.in_(ids))).rowcount or 0


def of_topic(db: Any, topic: str) -> Iterator[Subscription]:
    """Every subscription to a topic, in batches by id (keyset), so a long list is never loaded at once."""
    after = ""
    while True:
        query = (select(SubscriptionRow.id, SubscriptionRow.endpoint, SubscriptionRow.p256dh, SubscriptionRow.auth)
                 .where(SubscriptionRow.topic == topic, SubscriptionRow.id > after)
                 .order_by(SubscriptionRow.id).limit(BATCH))
        with db.sessions() as session:
            rows = session.execute(query).all()
        yield from (Subscription(*row) for row in rows)
        if len(rows) < BATCH:
            return
        after = rows[-1][0]


def count(db: Any, topic: str) -> int:
    """How many subscribers a topic has."""
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(SubscriptionRow)
                              .where(SubscriptionRow.topic == topic)) or 0
