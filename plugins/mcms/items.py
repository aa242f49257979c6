"""App-feed items in Beffroi's database: storing one once per step, and reading what a feed shows now."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from .tables import FeedItemRow

FEED_SIZE = 50  # a feed shows the newest items only: an app reads it often


@dataclass(frozen=True)
class Item:
    """A stored item, as the feeds render it."""

    id: str
    feed: str
    title: str
    text: str
    url: str | None
    image_url: str | None
    image_alt: str | None
    language: str | None
    published_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, row: FeedItemRow) -> Item:
        """The item of a row, its times in UTC."""
        return cls(id=row.id, feed=row.feed, title=row.title, text=row.text, url=row.url, image_url=row.image_url,
                   image_alt=row.image_alt, language=row.language, published_at=as_utc(row.published_at),
                   expires_at=as_utc(row.expires_at) if row.expires_at else None)

    def visible(self, now: datetime) -> bool:
        """True while the feed shows it: published, not expired."""
        return self.published_at <= now and (self.expires_at is None or now < self.expires_at)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC time (a naive one is UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def store(db: Any, key: str, values: dict[str, Any]) -> tuple[Item, bool]:
    """The item stored for this idempotency key, stored now unless an earlier attempt did; (item, created)."""
    existing = _by_key(db, key)
    if existing is not None:
        return existing, False
    row = FeedItemRow(id=uuid.uuid4().hex, idempotency_key=key, **values)
    try:
        with db.write_lock, db.session() as session:
            session.add(row)
            session.flush()
            item = Item.of(row)
    except IntegrityError:  # another attempt of the same step stored it at the same moment
        found = _by_key(db, key)
        assert found is not None
        return found, False
    return item, True


def _by_key(db: Any, key: str) -> Item | None:
    with db.sessions() as session:
        row = session.scalar(select(FeedItemRow).where(FeedItemRow.idempotency_key == key))
        return Item.of(row) if row is not None else None


def current(db: Any, feed: str, now: datetime, limit: int = FEED_SIZE) -> list[Item]:
    """What the feed shows at `now`: published, not expired, newest first, at most `limit`."""
    query = (select(FeedItemRow)
             .where(FeedItemRow.feed == feed, FeedItemRow.published_at <= now,
                    or_(FeedItemRow.expires_at.is_(None), FeedItemRow.expires_at > now))
             .order_by(FeedItemRow.published_at.desc(), FeedItemRow.id.desc()).limit(limit))
    with db.sessions() as session:
        return [Item.of(row) for row in session.scalars(query)]
