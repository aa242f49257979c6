"""The delivery journal: side effects already done per idempotency key and target, so none is done twice."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from .redaction import redact, scrub
from .store import Database
from .store.builtin_tables import DeliveryRow


def done(db: Database, key: str, target: str) -> dict[str, Any] | None:
    """The recorded result when this target was already served for this key (e.g. a post on one account)."""
    with db.session() as session:
        row = session.scalar(select(DeliveryRow).where(DeliveryRow.idempotency_key == key, DeliveryRow.target == target,
                                                       DeliveryRow.status == "done"))
        return row.result if row is not None else None


def pending(db: Database, key: str, target: str) -> dict[str, Any] | None:
    """The result recorded with a `pending` mark (an attempt that was about to act and may have), if any."""
    with db.session() as session:
        row = session.scalar(select(DeliveryRow).where(DeliveryRow.idempotency_key == key, DeliveryRow.target == target,
                                                       DeliveryRow.status == "pending"))
        return (row.result or {}) if row is not None else None


def done_targets(db: Database, key: str) -> set[str]:
    """Every target already served for this key (a campaign's recipients already sent to)."""
    with db.session() as session:
        return set(session.scalars(select(DeliveryRow.target).where(DeliveryRow.idempotency_key == key,
                                                                    DeliveryRow.status == "done")))


def record(ctx: Any, key: str, target: str, *, result: Any = None, status: str = "done",
           error: str | None = None) -> None:
    """Record that a target was served (or failed) for a key; a later record replaces a failure.

    `ctx` is the step's ActionContext: a remote answer in `error` or `result` may echo a credential back,
    so both are cleaned of its connections' secrets here, once for every plugin.
    """
    secrets = ctx.secret_values
    result, error = redact(result, secrets), (scrub(error, secrets) if error else error)
    with ctx.db.session() as session:
        row = session.get(DeliveryRow, (key, target))
        if row is None:
            session.add(DeliveryRow(idempotency_key=key, target=target, status=status, result=result, error=error))
        elif row.status != "done":
            row.status, row.result, row.error = status, result, error


def record_many(db: Database, key: str, targets: list[str]) -> None:
    """Record that many targets were served for a key, in one transaction (a fan-out's accepted messages).

    One commit per message would make the journal the slowest part of a push to thousands of subscribers.
    """
    if not targets:
        return
    with db.session() as session:
        rows = session.scalars(select(DeliveryRow).where(DeliveryRow.idempotency_key == key,
                                                         DeliveryRow.target.in_(targets)))
        existing = {row.target: row for row in rows}
        for target in dict.fromkeys(targets):
            row = existing.get(target)
            if row is None:
                session.add(DeliveryRow(idempotency_key=key, target=target, status="done", result=None))
            elif row.status != "done":
                row.status, row.result, row.error = "done", None, None


def once(session: Session, key: str, target: str, work: Callable[[], Any]) -> Any:
    """`work()`'s result, done at most once per key and target, recorded in the caller's transaction.

    For work in Beffroi's own database (the contact base): the work and its record commit together, and a
    repeat returns the recorded result without calling `work` again.
    """
    row = session.get(DeliveryRow, (key, target))
    if row is not None and row.status == "done":
        return row.result
    result = work()
    if row is None:
        session.add(DeliveryRow(idempotency_key=key, target=target, status="done", result=result))
    else:
        row.status, row.result, row.error = "done", result, None
    return result



def _concerning(targets: list[str], mention: str | None):
    """Rows served to one of `targets`, or whose recorded result names `mention` (a contact's id)."""
    found = [DeliveryRow.target.in_(targets)]
    if mention:
        found.append(cast(DeliveryRow.result, String).like(f"%{mention}%"))
    return select(DeliveryRow).where(or_(*found)).order_by(DeliveryRow.created_at)


def about(db: Database, targets: list[str], mention: str | None = None) -> list[dict[str, Any]]:
    """What the journal holds about a person: rows served to their address or id, or whose result names their id."""
    with db.session() as session:
        return [{"idempotency_key": r.idempotency_key, "target": r.target, "status": r.status,
                 "created_at": r.created_at.isoformat() if r.created_at else None, "result": r.result,
                 "error": r.error} for r in session.scalars(_concerning(targets, mention))]


def forget(db: Database, targets: list[str], mention: str | None = None) -> int:
    """Take a person (erased) out of the journal, keeping one row per delivery so that counts stay right.

    Each row found as `about` finds it keeps its key, status and time; a target that is the person becomes a
    random `erased:…` name, and the result and error (which may quote them) are emptied. Returns the rows changed.
    """
    with db.session() as session:
        rows = list(session.scalars(_concerning(targets, mention)))
        for row in rows:
            session.delete(row)
        session.flush()
        for row in rows:
            target = f"erased:{uuid.uuid4().hex}" if row.target in targets else row.target
            session.add(DeliveryRow(idempotency_key=row.idempotency_key, target=target, status=row.status,
                                    result=None, error=None, created_at=row.created_at))
        return len(rows)
