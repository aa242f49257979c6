"""The outbox: what a zero-setup `outbox` connection would have published or sent, recorded for review."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from .store import Database
from .store.builtin_tables import OutboxRow


def record(db: Database, *, channel: str, connection: str, key: str, payload: Any, run_id: str | None = None) -> int:
    """Store one outgoing item (idempotent by key: a retried step does not record it twice); returns its id."""
    with db.session() as session:
        row = session.scalar(select(OutboxRow).where(OutboxRow.idempotency_key == key))
        if row is None:
            row = OutboxRow(channel=channel, connection=connection, idempotency_key=key, payload=payload, run_id=run_id)
            session.add(row)
            session.flush()
        return row.id


def items(db: Database, *, channel: str | None = None, connection: str | None = None, limit: int = 50,
          offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Recorded items, newest first, with the total count."""
    query = select(OutboxRow)
    if channel:
        query = query.where(OutboxRow.channel == channel)
    if connection:
        query = query.where(OutboxRow.connection == connection)
    with db.session() as session:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = session.scalars(query.order_by(OutboxRow.id.desc()).limit(limit).offset(offset)).all()
        return [{"id": r.id, "outbox": True, "channel": r.channel, "connection": r.connection, "run_id": r.run_id,
                 "payload": r.payload, "created_at": r.created_at.isoformat()} for r in rows], total
