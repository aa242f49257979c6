"""The city app's tables: app-feed items, Web Push subscriptions and the VAPID key pair (migration 0014)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from beffroi import Base, utcnow


class FeedItemRow(Base):
    """A news item of an app feed, shown between its publish and expire times."""

    __tablename__ = "mcms_items"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    feed: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    image_url: Mapped[str | None] = mapped_column(String(2000))
    image_alt: Mapped[str | None] = mapped_column(String(1000))
    language: Mapped[str | None] = mapped_column(String(20))
    published_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_mcms_items_feed_published", "feed", "published_at", "id"),)


class SubscriptionRow(Base):
    """A browser's Web Push subscription to one topic (its endpoint and the keys to encrypt for it)."""

    __tablename__ = "mcms_subscriptions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of topic and endpoint
    topic: Mapped[str] = mapped_column(String(100))
    endpoint: Mapped[str] = mapped_column(String(2000))
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_mcms_subscriptions_topic", "topic", "id"),)


class KeyRow(Base):
    """The installation's VAPID key pair: the public key as browsers need it, the private key sealed."""

    __tablename__ = "mcms_keys"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(200))
    private_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
