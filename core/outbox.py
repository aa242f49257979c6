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
        return [_item(r) for r in rows], total


def page(db: Database, *, channel: str | None = None, connection: str | None = None, run_id: str | None = None,
         before: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Recorded items newest first, `limit` of them, older than item id `before` when given (keyset pages)."""
    query = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)
    for column, value in ((OutboxRow.channel, channel), (OutboxRow.connection, connection),
                          (OutboxRow.run_id, run_id)):
        if value:
            query = query.where(column == value)
    if before is not None:
        query = query.where(OutboxRow.id < before)
    with db.session() as session:
        return [_item(row) for row in session.scalars(query)]


def _item(row: OutboxRow) -> dict[str, Any]:
    return {"id": row.id, "outbox": True, "channel": row.channel, "connection": row.connection, "run_id": row.run_id,
            "payload": row.payload, "created_at": row.created_at.isoformat()}
