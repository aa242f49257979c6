"""A person's rights over the contact base (GDPR): access (everything kept about them) and erasure.

Erasure deletes the contact, their consent history and their list memberships; the delivery journal keeps
one row per message sent (so a campaign's counts stay right) with the person's address and data taken out.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from beffroi import deliveries_about, forget_deliveries, utcnow

from .browse import consents
from .lists import memberships
from .records import contact_dict, iso, reading, write
from .tables import ConsentRow, ContactRow, MembershipRow


def export(db, contact_id: str) -> dict[str, Any] | None:
    """Everything kept about one contact: the contact, their lists, consent history and deliveries; or None."""
    with reading(db) as session:
        row = session.get(ContactRow, contact_id)
        if row is None:
            return None
        found = {"contact": contact_dict(row), "lists": memberships(session, contact_id),
                 "consents": consents(session, contact_id)}
        email = row.email
    found["deliveries"] = deliveries_about(db, [email, contact_id], contact_id)
    return {"exported_at": iso(utcnow()), **found}


def erase(db, contact_id: str) -> bool:
    """Erase a contact and their personal data; False when there was none."""
    with reading(db) as session:
        email = session.scalar(select(ContactRow.email).where(ContactRow.id == contact_id))
    if email is None:
        return False
    forget_deliveries(db, [email, contact_id], contact_id)

    def work(session):
        session.execute(delete(ConsentRow).where(ConsentRow.contact_id == contact_id))
        session.execute(delete(MembershipRow).where(MembershipRow.contact_id == contact_id))
        return session.execute(delete(ContactRow).where(ContactRow.id == contact_id)).rowcount == 1

    return write(db, work)
