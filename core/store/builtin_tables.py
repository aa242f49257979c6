"""Tables core keeps for every plugin: the outbox and the delivery journal.

The crm and analytics plugins declare their own tables (`beffroi_plugins.crm.tables`, `…analytics.tables`) on
`Base`; their migrations live with the others in `migrations/versions` (core never imports a plugin).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


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

    # the outbox page's filters, newest first (keyset on id)
    __table_args__ = (Index("ix_outbox_channel", "channel", "id"), Index("ix_outbox_connection", "connection", "id"),
                      Index("ix_outbox_run", "run_id", "id"))


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

    __table_args__ = (Index("ix_deliveries_target", "target"),)  # a person's deliveries (GDPR access, erasure)
