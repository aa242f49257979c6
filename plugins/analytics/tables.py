"""The metric store's tables: tracked events (core's migrations 0003, 0004, 0013) and their counts per day (0013)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from beffroi import Base, utcnow


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
                      Index("ix_analytics_recipe_time", "recipe", "occurred_at"),
                      Index("ix_analytics_run_name", "run_id", "name"))  # a publication's results


class AnalyticsDayRow(Base):
    """How many events of a name (and campaign; '' for none) were recorded on one UTC day: kept up to date as each
    event is stored, so the results pages add up days instead of counting a million events."""

    __tablename__ = "analytics_days"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # UTC, YYYY-MM-DD (sorts as time does)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(200), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)  # how many

    # SQLite keeps the rows in key order (no rowid): a range of days is read in one pass, counts included
    __table_args__ = (Index("ix_analytics_days_campaign", "campaign", "day"), {"sqlite_with_rowid": False})
