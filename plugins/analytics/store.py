"""The built-in metric store: events in SQL, recorded once per idempotency key, listed and counted for the API.

Times are stored and compared in UTC; a filter bound without a time zone is read as UTC.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from beffroi import Database

from .tables import AnalyticsDayRow, AnalyticsEventRow


@dataclass(frozen=True)
class Event:
    """One tracked event as stored (or, in a preview, as it would be stored: `id` None)."""

    id: int | None
    name: str
    campaign: str | None
    recipe: str | None
    run_id: str | None
    properties: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def url(self) -> str | None:
        """The page or link the event is about (`properties.url`), when there is one."""
        value = self.properties.get("url")
        return value if isinstance(value, str) and value else None

    def public(self) -> dict[str, Any]:
        """The event as the API shows it."""
        return {"id": self.id, "name": self.name, "campaign": self.campaign, "recipe": self.recipe,
                "run_id": self.run_id, "properties": self.properties, "occurred_at": self.occurred_at.isoformat()}


def _event(row: AnalyticsEventRow) -> Event:
    return Event(id=row.id, name=row.name, campaign=row.campaign, recipe=row.recipe, run_id=row.run_id,
                 properties=row.properties or {}, occurred_at=as_utc(row.occurred_at))


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def find(db: Database, key: str) -> Event | None:
    """The event recorded for an idempotency key, if any."""
    with db.session() as session:
        row = session.scalar(select(AnalyticsEventRow).where(AnalyticsEventRow.idempotency_key == key))
        return _event(row) if row is not None else None


def record(db: Database, *, key: str, name: str, campaign: str | None, properties: dict[str, Any],
           recipe: str | None, run_id: str | None) -> Event:
    """Store an event once per idempotency key; a retried step gets the event its first attempt stored."""
    existing = find(db, key)
    if existing is not None:
        return existing
    try:
        with db.session() as session:
            row = AnalyticsEventRow(name=name, campaign=campaign, recipe=recipe, run_id=run_id, idempotency_key=key,
                                    properties=properties, occurred_at=datetime.now(UTC))
            session.add(row)
            session.flush()
            event = _event(row)
            count_day(session, event)
    except IntegrityError:  # another worker stored it between our look-up and insert (the unique key says so)
        existing = find(db, key)
        if existing is None:
            raise
        return existing
    return event


def day_of(moment: datetime) -> str:
    """The UTC day a time falls in, as the daily counts key it: YYYY-MM-DD."""
    return as_utc(moment).strftime("%Y-%m-%d")


def count_day(session: Any, event: Event) -> None:
    """Add one to the count of the event's UTC day, name and campaign (in the event's own transaction)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(AnalyticsDayRow).values(day=day_of(event.occurred_at), name=event.name,
                                                campaign=event.campaign or "", events=1)
    session.execute(statement.on_conflict_do_update(
        index_elements=["day", "name", "campaign"], set_={"events": AnalyticsDayRow.events + 1}))


@dataclass(frozen=True)
class EventFilter:
    """Which events to list or count; every field is optional. `since` is inclusive, `until` exclusive."""

    name: str | None = None
    campaign: str | None = None
    recipe: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def clauses(self) -> list[Any]:
        """SQL conditions for this filter."""
        table = AnalyticsEventRow
        found: list[Any] = []
        for column, value in ((table.name, self.name), (table.campaign, self.campaign), (table.recipe, self.recipe)):
            if value is not None:
                found.append(column == value)
        # SQLite keeps the wall-clock text without its zone, so bounds must be in UTC like the stored times.
        if self.since is not None:
            found.append(table.occurred_at >= as_utc(self.since))
        if self.until is not None:
            found.append(table.occurred_at < as_utc(self.until))
        return found


def list_events(db: Database, where: EventFilter, *, limit: int, offset: int) -> tuple[list[Event], int]:
    """One page of matching events, newest first, and how many match in all."""
    conditions = where.clauses()
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(AnalyticsEventRow).where(*conditions)) or 0
        rows = session.scalars(select(AnalyticsEventRow).where(*conditions)
                               .order_by(AnalyticsEventRow.occurred_at.desc(), AnalyticsEventRow.id.desc())
                               .limit(limit).offset(offset)).all()
        return [_event(r) for r in rows], total


def _utc_day(db: Database) -> Any:
    """SQL for the UTC calendar day (YYYY-MM-DD) of an event."""
    column = AnalyticsEventRow.occurred_at
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.date(column)  # SQLite stores UTC text already


def summary(db: Database, where: EventFilter) -> dict[str, Any]:
    """Counts of matching events per UTC day (oldest first) and per campaign (largest first)."""
    conditions = where.clauses()
    day = _utc_day(db).label("day")
    count = func.count().label("n")  # not "count": a Row is a Sequence, whose count() that name would hide
    with db.session() as session:
        days = session.execute(select(day, count).where(*conditions).group_by(day).order_by(day)).all()
        campaigns = session.execute(select(AnalyticsEventRow.campaign, count).where(*conditions)
                                    .group_by(AnalyticsEventRow.campaign)).all()
    campaigns = sorted(campaigns, key=lambda row: (-row.n, row.campaign is None, row.campaign or ""))
    return {"total": sum(row.n for row in days), "timezone": "UTC",
            "days": [{"day": str(row.day), "count": row.n} for row in days],
            "campaigns": [{"campaign": row.campaign, "count": row.n} for row in campaigns]}
