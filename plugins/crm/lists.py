"""Mailing lists and memberships: add, remove, unsubscribe, and who a campaign may be sent to.

A membership is never silently re-subscribed: once a person unsubscribed from a list, adding them
again (an import, a form) keeps them unsubscribed unless the caller passes `resubscribe=True`
(a new, explicit request from the person). Removing a contact from a list deletes a subscribed
membership but keeps an unsubscribed one, the record of the person's own choice.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from beffroi import utcnow

from .records import (
    Duplicate,
    InvalidValue,
    NotFound,
    clean_text,
    iso,
    new_id,
    normalise_email,
    normalise_list_name,
    reading,
    write,
)
from .tables import ContactRow, ListRow, MembershipRow


def resolve_contact(session, email_or_id: str) -> ContactRow:
    """The contact named by an email address (contains @) or an id; NotFound otherwise."""
    value = str(email_or_id or "").strip()
    if "@" in value:
        row = session.scalar(select(ContactRow).where(ContactRow.email == normalise_email(value)))
    else:
        row = session.get(ContactRow, value) if value else None
    if row is None:
        raise NotFound(f"no contact {value!r} in the contact base (create it first, e.g. with crm.upsert_contact)",
                       "email")
    return row


def find_list(session, name: str) -> ListRow | None:
    """The list with this name, or None."""
    return session.scalar(select(ListRow).where(ListRow.name == normalise_list_name(name)))


def ensure_list(session, name: str, title: str | None = None) -> ListRow:
    """The list with this name, created when missing."""
    row = find_list(session, name)
    if row is None:
        row = ListRow(id=new_id(), name=normalise_list_name(name), title=clean_title(title), created_at=utcnow())
        session.add(row)
        session.flush()
    return row


def clean_title(title: Any) -> str | None:
    """A list title trimmed (up to 300 characters)."""
    text = str(title).strip() if title is not None else ""
    if len(text) > 300:
        raise InvalidValue("a list title has at most 300 characters", "title")
    return text or None


def create_list(db, name: str, title: str | None = None) -> dict[str, Any]:
    """A new list; Duplicate when the name is taken."""

    def work(session):
        if find_list(session, name) is not None:
            raise Duplicate(f"a list named {normalise_list_name(name)!r} already exists", "name")
        return list_dict(ensure_list(session, name, title))

    return write(db, work)


def list_dict(row: ListRow, counts: tuple[int, int, int] = (0, 0, 0)) -> dict[str, Any]:
    """A list with its member counts: subscribed, unsubscribed, and recipients (subscribed with consent)."""
    subscribed, unsubscribed, with_consent = counts
    return {"name": row.name, "title": row.title, "created_at": iso(row.created_at),
            "members": {"subscribed": subscribed, "unsubscribed": unsubscribed, "recipients": with_consent}}


def all_lists(db) -> list[dict[str, Any]]:
    """Every list by name, with its member counts.

    Counted from the memberships' own index (subscribed or not, per list), then the subscribed members without
    consent, found from the contacts without consent: few in a base that sends, so no join over every member.
    """
    by_state = (select(MembershipRow.list_id, MembershipRow.subscribed, func.count())
                .group_by(MembershipRow.list_id, MembershipRow.subscribed))
    without_consent = (select(MembershipRow.list_id, func.count())
                       .join(ContactRow, ContactRow.id == MembershipRow.contact_id)
                       .where(ContactRow.consent.is_(False), MembershipRow.subscribed.is_(True))
                       .group_by(MembershipRow.list_id))
    with reading(db) as session:
        counts: dict[str, list[int]] = {}
        for list_id, subscribed, count in session.execute(by_state):
            counts.setdefault(list_id, [0, 0, 0])[0 if subscribed else 1] += count
        for list_id, count in session.execute(without_consent):
            counts.setdefault(list_id, [0, 0, 0])[2] = count
        return [list_dict(row, (a, b, a - c)) for row in session.scalars(select(ListRow).order_by(ListRow.name))
                for a, b, c in [counts.get(row.id, [0, 0, 0])]]


def list_names(db) -> list[dict[str, Any]]:
    """Every list by name, with its title (no counts: for choosing a list)."""
    with reading(db) as session:
        return [{"name": name, "title": title}
                for name, title in session.execute(select(ListRow.name, ListRow.title).order_by(ListRow.name))]


def add_in(session, contact: ContactRow, list_name: str, source: str | None = None, *,
           resubscribe: bool = False) -> dict[str, Any]:
    """add_to_list inside the caller's session, for a contact row already found."""
    source = clean_text("source", source)
    listed = ensure_list(session, list_name)
    member = session.get(MembershipRow, (listed.id, contact.id))
    now = utcnow()
    if member is None:
        member = MembershipRow(list_id=listed.id, contact_id=contact.id, subscribed=True, source=source,
                               subscribed_at=now)
        session.add(member)
        status = "added"
    elif member.subscribed:
        status = "already"
    elif resubscribe:
        member.subscribed, member.subscribed_at, member.unsubscribed_at = True, now, None
        member.source = source or member.source
        status = "resubscribed"
    else:
        status = "unsubscribed"  # they left this list themselves: only their own new request brings them back
    session.flush()
    return {"contact_id": contact.id, "email": contact.email, "list": listed.name, "status": status,
            "subscribed": status != "unsubscribed"}


def add_to_list(db, email_or_id: str, list_name: str, source: str | None = None, *,
                resubscribe: bool = False) -> dict[str, Any]:
    """Subscribe a contact to a list (created if missing); `status` says added, already, resubscribed,
    or unsubscribed (they had left it and `resubscribe` was not asked: they stay off the list)."""
    return write(db, lambda s: add_in(s, resolve_contact(s, email_or_id), list_name, source, resubscribe=resubscribe))


def remove_in(session, contact: ContactRow, list_name: str) -> dict[str, Any]:
    """remove_from_list inside the caller's session."""
    listed = find_list(session, list_name)
    member = session.get(MembershipRow, (listed.id, contact.id)) if listed is not None else None
    removed = member is not None and member.subscribed
    if removed:
        session.delete(member)
        session.flush()
    return {"contact_id": contact.id, "email": contact.email, "list": normalise_list_name(list_name),
            "removed": removed}


def remove_from_list(db, email_or_id: str, list_name: str) -> dict[str, Any]:
    """Take a contact off a list; `removed` is False when they were not on it (an unsubscription is kept)."""
    return write(db, lambda s: remove_in(s, resolve_contact(s, email_or_id), list_name))


def unsubscribe(db, contact_id: str, list_name: str) -> dict[str, Any]:
    """Withdraw a contact's consent for one list (kept as an unsubscribed membership with its date).

    Idempotent: a second call changes nothing and answers `already: True`. NotFound when the contact
    no longer exists. Their consent for other lists is untouched.
    """

    def work(session):
        contact = session.get(ContactRow, contact_id)
        if contact is None:
            raise NotFound(f"no contact with id {contact_id!r}")
        listed = ensure_list(session, list_name)
        member = session.get(MembershipRow, (listed.id, contact.id))
        already = member is not None and not member.subscribed
        if member is None:  # not on the list: record the refusal anyway, so no later import adds them
            member = MembershipRow(list_id=listed.id, contact_id=contact.id, subscribed=False, source=None)
            session.add(member)
        if not already:
            member.subscribed, member.unsubscribed_at = False, utcnow()
        session.flush()
        return {"contact_id": contact.id, "email": contact.email, "list": listed.name, "already": already,
                "unsubscribed_at": iso(member.unsubscribed_at)}

    return write(db, work)


def _members(list_name: str):
    return (select(ContactRow, MembershipRow).join(MembershipRow, MembershipRow.contact_id == ContactRow.id)
            .join(ListRow, ListRow.id == MembershipRow.list_id).where(ListRow.name == normalise_list_name(list_name)))


def _known_list(session, list_name: str) -> None:
    if find_list(session, list_name) is None:
        raise NotFound(f"no list named {normalise_list_name(list_name)!r}", "list")


def recipients(db, list_name: str) -> list[dict[str, Any]]:
    """Who a campaign to this list goes to: members subscribed AND with consent, by email address.

    Each: id, email, first_name, last_name, organisation, custom. NotFound for an unknown list.
    """
    query = _members(list_name).where(MembershipRow.subscribed.is_(True), ContactRow.consent.is_(True))
    with reading(db) as session:
        _known_list(session, list_name)
        return [{"id": c.id, "email": c.email, "first_name": c.first_name, "last_name": c.last_name,
                 "organisation": c.organisation, "custom": dict(c.custom or {})}
                for c, _ in session.execute(query.order_by(ContactRow.email))]


def skipped_count(db, list_name: str) -> int:
    """Members of the list a campaign skips: unsubscribed, or without consent. NotFound for an unknown list."""
    query = _members(list_name).where((MembershipRow.subscribed.is_(False)) | (ContactRow.consent.is_(False)))
    with reading(db) as session:
        _known_list(session, list_name)
        return session.scalar(select(func.count()).select_from(query.subquery()))


def memberships(session, contact_id: str) -> list[dict[str, Any]]:
    """A contact's lists: name, subscribed, source, subscribed_at, unsubscribed_at."""
    rows = session.execute(select(ListRow.name, MembershipRow).join(MembershipRow, MembershipRow.list_id == ListRow.id)
                           .where(MembershipRow.contact_id == contact_id).order_by(ListRow.name))
    return [{"list": name, "subscribed": m.subscribed, "source": m.source, "subscribed_at": iso(m.subscribed_at),
             "unsubscribed_at": iso(m.unsubscribed_at)} for name, m in rows]
