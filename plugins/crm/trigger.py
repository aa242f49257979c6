"""Trigger `crm.contact_created`: polls the contact base for contacts created since the last poll.

The cursor is the (created_at, id) of the newest contact seen. Each poll also returns the contacts of
the last few minutes before the cursor again: a contact whose transaction committed late (created
earlier, visible later) is still found, and the engine's seen keys keep the others from firing twice.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, or_, select

from beffroi import PolledItem, PollResult, TriggerSpec

from .records import contact_dict, reading
from .tables import ContactRow

BATCH = 200  # new contacts per poll; more wait for the next poll
LATE = timedelta(minutes=2)
LATE_MAX = 1000


class ContactCreatedConfig(BaseModel):
    """No options: every new contact of the built-in contact base starts a run."""

    model_config = ConfigDict(extra="forbid")


class ContactEvent(BaseModel):
    """The new contact, as `trigger.*` in the recipe."""

    id: str
    email: str = Field(description="email address (lowercase)")
    first_name: str | None = None
    last_name: str | None = None
    organisation: str | None = None
    tags: list[str] = []
    consent: bool = Field(False, description="whether the person agreed to receive messages")
    consent_at: str | None = Field(None, description="when consent was recorded (ISO 8601)")
    consent_source: str | None = None
    custom: dict[str, Any] = {}
    created_at: str
    updated_at: str


def _after(mark: tuple[datetime, str]):
    at, contact_id = mark
    return or_(ContactRow.created_at > at, and_(ContactRow.created_at == at, ContactRow.id > contact_id))


def _late(session, mark: tuple[datetime, str]) -> list[ContactRow]:
    """Contacts of the few minutes up to the mark (included), newest first."""
    at, _ = mark
    query = (select(ContactRow).where(ContactRow.created_at >= at - LATE, ~_after(mark))
             .order_by(ContactRow.created_at.desc(), ContactRow.id.desc()).limit(LATE_MAX))
    return list(session.scalars(query))


def _encode(mark: tuple[datetime, str] | None) -> dict:
    return {"after": [mark[0].isoformat(), mark[1]] if mark else None}


def _decode(cursor: Any) -> tuple[datetime, str] | None:
    after = cursor.get("after") if isinstance(cursor, dict) else None
    return (datetime.fromisoformat(after[0]), after[1]) if after else None


def poll(config: ContactCreatedConfig, cursor: Any, ctx) -> PollResult:
    """New contacts since the cursor, oldest first; the first poll returns the recent ones only to seed."""
    if ctx.db is None:
        raise RuntimeError("crm.contact_created needs the engine's database in its context")
    with reading(ctx.db) as session:
        if cursor is None:  # first poll: remember where the base stands; nothing before it fires
            newest = session.scalars(select(ContactRow).order_by(ContactRow.created_at.desc(), ContactRow.id.desc())
                                     .limit(1)).first()
            mark = (newest.created_at, newest.id) if newest is not None else None
            rows = _late(session, mark) if mark else []
            return PollResult(items=[PolledItem(key=r.id, event=contact_dict(r)) for r in reversed(rows)],
                              cursor=_encode(mark))
        mark = _decode(cursor)
        late = _late(session, mark) if mark else []
        query = select(ContactRow).order_by(ContactRow.created_at, ContactRow.id).limit(BATCH)
        new = list(session.scalars(query.where(_after(mark)) if mark else query))
        if new:
            mark = (new[-1].created_at, new[-1].id)
        rows = [*reversed(late), *new]
        return PollResult(items=[PolledItem(key=r.id, event=contact_dict(r)) for r in rows], cursor=_encode(mark))


SPEC = TriggerSpec(key="crm.contact_created", title="New contact", kind="poll", config_model=ContactCreatedConfig,
                   event_model=ContactEvent, poll=poll,
                   sample_event=ContactEvent(
                       id="7d0c2f8e9b6a4c1d8e3f5a6b7c8d9e0f", email="journaliste@presse.example", first_name="Camille",
                       last_name="Dubois", organisation="Le Quotidien", tags=["presse"], consent=True,
                       consent_at="2026-11-30T14:02:00+00:00", consent_source="website form /newsletter",
                       created_at="2026-11-30T14:02:00+00:00", updated_at="2026-11-30T14:02:00+00:00"),
                   description="A contact was added to the built-in contact base (form, import, API or a recipe).")
