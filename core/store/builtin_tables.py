"""Tables of the built-in tool plugins: CRM contacts and lists, analytics events, outbox, delivery journals."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


class ContactRow(Base):
    """A person in the built-in contact base, with their GDPR consent (when, from where)."""

    __tablename__ = "crm_contacts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(300))
    tags: Mapped[Any] = mapped_column(JSON, default=list)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None]
    consent_source: Mapped[str | None] = mapped_column(String(200))
    custom: Mapped[Any] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_crm_contacts_created", "created_at", "id"),)


class ListRow(Base):
    """A mailing list (e.g. `press`)."""

    __tablename__ = "crm_lists"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MembershipRow(Base):
    """A contact on a list: subscribed, or unsubscribed (kept, with its date, as proof)."""

    __tablename__ = "crm_memberships"
    list_id: Mapped[str] = mapped_column(ForeignKey("crm_lists.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str | None] = mapped_column(String(200))
    subscribed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_crm_memberships_contact", "contact_id"),)


class AnalyticsEventRow(Base):
    """One tracked event in the built-in metric store."""

    __tablename__ = "analytics_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    campaign: Mapped[str | None] = mapped_column(String(200))
    recipe: Mapped[str | None] = mapped_column(String(100))
    run_id: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    properties: Mapped[Any] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_analytics_name_time", "name", "occurred_at"),
                      Index("ix_analytics_campaign_time", "campaign", "occurred_at"),
                      Index("ix_analytics_recipe_time", "recipe", "occurred_at"))


class OutboxRow(Base):
    """What an outbox connection recorded instead of publishing or sending (the zero-setup default)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(50))
    connection: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    run_id: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryRow(Base):
    """A side effect already done for an idempotency key (a post on one account, a mail to one recipient).

    Checked before acting again, so a retried or resumed step never posts or sends twice.
    """

    __tablename__ = "deliveries"
    idempotency_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    target: Mapped[str] = mapped_column(String(320), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
