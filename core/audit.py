"""The audit log: who changed what (a recipe, a connection, a person, a contact) and who decided what, and when.

Entries are appended, never edited. `detail` holds facts about the change (a version number, a role, a reason),
never a secret or a person's data beyond the target's name: an erased contact leaves only "a contact was erased".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import literal_column, select, type_coerce

from .store import Database
from .store.models import AuditRow, utcnow


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str  # who: a person's e-mail, "token:<name>", "system"
    action: str  # what, as a dotted verb: recipe.saved, connection.deleted, approval.approved…
    target_type: str  # recipe | connection | user | token | contact | list | run
    target: str  # the name or id of what changed
    detail: dict[str, Any]


class AuditLog:
    """Append and read the audit log (newest first, keyset pages)."""

    def __init__(self, db: Database):
        self.db = db

    def record(self, actor: str | None, action: str, target_type: str, target: str,
               detail: dict[str, Any] | None = None, *, at: datetime | None = None) -> int:
        """Append one entry; returns its id."""
        with self.db.session() as session:
            row = AuditRow(at=at or utcnow(), actor=(actor or "system")[:320], action=action[:64],
                           target_type=target_type[:32], target=str(target)[:320], detail=detail or {})
            session.add(row)
            session.flush()
            return row.id

    def page(self, *, limit: int = 50, before: int | None = None, actor: str | None = None,
             action: str | None = None, target_type: str | None = None, target: str | None = None,
             since: datetime | None = None, until: datetime | None = None) -> list[AuditEntry]:
        """Entries newest first, `limit` of them, older than entry id `before` when given; each filter narrows:
        `action` matches a whole verb (`recipe.saved`) or its family (`recipe`)."""
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if before is not None:
            query = query.where(AuditRow.id < before)
        if actor:
            query = query.where(AuditRow.actor == actor)
        if action:
            query = query.where((AuditRow.action == action) | AuditRow.action.startswith(action + ".",
                                                                                         autoescape=True))
        if target_type:
            query = query.where(AuditRow.target_type == target_type)
        if target:
            query = query.where(AuditRow.target == target)
        at: Any = AuditRow.at
        if self.db.is_sqlite and not (actor or target):
            # `+at` keeps SQLite off the index on `at`: through it, SQLite sorted every entry of the days by id
            # (70 ms for a busy day); read newest first by id instead, skipping those outside the days
            at = type_coerce(literal_column("+audit_log.at"), AuditRow.at.type)
        if since is not None:
            query = query.where(at >= since)
        if until is not None:
            query = query.where(at < until)
        with self.db.session() as session:
            return [AuditEntry(row.id, row.at, row.actor, row.action, row.target_type, row.target, row.detail or {})
                    for row in session.scalars(query)]
