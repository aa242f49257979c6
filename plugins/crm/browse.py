"""Reading the contact base a page at a time: contacts searched and filtered, a list's members, consent history.

Pages are keyset pages in e-mail order: a cursor is the id of the contact at the edge of the page (never an
address, so no personal data lands in an address bar or a server log).
Totals are counted up to COUNT_CAP (beyond it a page says "more than 1,000").
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, select

from beffroi import ContactFilters, ContactWindow

from .records import NotFound, contact_dict, iso, normalise_list_name, reading
from .tables import ConsentRow, ContactRow, ListRow, MembershipRow

COUNT_CAP = 1_000


def like(text: str) -> str:
    """`%text%` with LIKE's wildcards escaped (escape character: backslash)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def filtered(filters: ContactFilters, dialect: str = "sqlite", *, walking: bool = True):
    """The conditions on crm_contacts that the filters ask for (words in any case: SQLite's LIKE already ignores
    the case of ASCII letters, as lower() does there, so it is used as is; PostgreSQL has ILIKE)."""
    conditions = []
    for word in filters.q.split():
        pattern = like(word.lower())
        conditions.append(or_(*(
            (column.like(pattern, escape="\\") if dialect == "sqlite" else column.ilike(pattern, escape="\\"))
            for column in (ContactRow.email, ContactRow.first_name, ContactRow.last_name, ContactRow.organisation))))
    if filters.list_name.strip():
        listed = select(ListRow.id).where(ListRow.name == normalise_list_name(filters.list_name)).scalar_subquery()
        if not walking:  # every contact is looked at: the members once as a set, not once per contact
            conditions.append(ContactRow.id.in_(select(MembershipRow.contact_id).where(
                MembershipRow.list_id == listed, MembershipRow.subscribed.is_(True))))
        else:
            conditions.append(member_of(listed, subscribed=True))
    if filters.tag.strip():  # tags are a JSON array stored as text on both databases: look for the quoted tag
        conditions.append(cast(ContactRow.tags, String).like(like(json.dumps(filters.tag.strip())), escape="\\"))
    if filters.consent == "given":  # most contacts: through a function, so the consent index is not taken for it
        conditions.append(func.coalesce(ContactRow.consent, False).is_(True))
    elif filters.consent == "withdrawn":
        conditions.append(and_(ContactRow.consent.is_(False), ContactRow.consent_at.is_not(None)))
    elif filters.consent == "none":
        conditions.append(and_(ContactRow.consent.is_(False), ContactRow.consent_at.is_(None)))
    return conditions


def member_of(list_id, *, subscribed: bool | None = None):
    """The contact is on the list. EXISTS, not IN or a join: the database then walks the contacts in e-mail
    order and stops at the page's end, where a join would gather and sort every member of a big list first."""
    found = select(MembershipRow.contact_id).where(MembershipRow.list_id == list_id,
                                                   MembershipRow.contact_id == ContactRow.id)
    if subscribed is not None:
        found = found.where(MembershipRow.subscribed.is_(subscribed))
    return found.exists()


def window(session, query, key, *, before: str | None, after: str | None, limit: int, total_of):
    """A keyset page of `query` (rows whose first element is a ContactRow) in `key` (e-mail) order.

    `total_of()` counts the whole list; None: not counted (a search through every contact would read them all
    a second time): the total is then the page's own count, `capped` when there are other pages."""
    cursor = before or after
    edge = session.scalar(select(ContactRow.email).where(ContactRow.id == cursor)) if cursor else None
    backwards = edge is not None and before is not None
    if edge is not None:
        query = query.where(key < edge if backwards else key > edge)
    rows = list(session.execute(query.order_by(key.desc() if backwards else key).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    total, capped = total_of() if total_of is not None else (len(rows), more or edge is not None)
    found = ContactWindow(items=[], total=total, capped=capped)
    if rows:
        first, last = rows[0][0].id, rows[-1][0].id
        found.newer = first if (more if backwards else edge is not None) else None
        found.older = last if (edge is not None if backwards else more) else None
    return rows, found


def _capped_count(session, query) -> tuple[int, bool]:
    count = session.scalar(select(func.count()).select_from(query.limit(COUNT_CAP + 1).subquery()))
    return min(count, COUNT_CAP), count > COUNT_CAP


def search(db, filters: ContactFilters, *, before: str | None = None, after: str | None = None,
           limit: int = 50) -> ContactWindow:
    """A page of contacts matching the filters, by e-mail address (NotFound: no list of that name)."""
    with reading(db) as session:
        dialect = session.bind.dialect.name
        # words are looked for in every contact: then read the table through and sort what matches (trim() keeps
        # the e-mail index out), rather than walk the index and fetch each contact in turn
        walking = not filters.q.split()
        key = ContactRow.email if walking else func.trim(ContactRow.email)
        conditions, counted = filtered(filters, dialect, walking=walking), filtered(filters, dialect, walking=False)
        if filters.list_name.strip() and session.scalar(
                select(ListRow.id).where(ListRow.name == normalise_list_name(filters.list_name))) is None:
            raise NotFound(f"no list named {normalise_list_name(filters.list_name)!r}", "list")
        query = select(ContactRow).where(*conditions)
        rows, found = window(session, query, key, before=before, after=after, limit=limit,
                             total_of=(lambda: _capped_count(session, select(ContactRow.id).where(*counted)))
                             if walking else None)
        found.items = [contact_dict(row) for row, in rows]
        return found


def members(db, list_name: str, *, before: str | None = None, after: str | None = None,
            limit: int = 50) -> ContactWindow:
    """A page of a list's members (subscribed or not), by e-mail address; NotFound for an unknown list."""
    with reading(db) as session:
        listed = session.scalar(select(ListRow).where(ListRow.name == normalise_list_name(list_name)))
        if listed is None:
            raise NotFound(f"no list named {normalise_list_name(list_name)!r}", "list")
        query = select(ContactRow).where(member_of(listed.id))
        counted = select(MembershipRow.contact_id).where(MembershipRow.list_id == listed.id)
        rows, found = window(session, query, ContactRow.email, before=before, after=after, limit=limit,
                             total_of=lambda: _capped_count(session, counted))
        ids = [c.id for c, in rows]
        states = {m.contact_id: m for m in session.scalars(select(MembershipRow).where(
            MembershipRow.list_id == listed.id, MembershipRow.contact_id.in_(ids)))} if ids else {}
        found.items = [{**contact_dict(c), "subscribed": states[c.id].subscribed, "source": states[c.id].source,
                        "subscribed_at": iso(states[c.id].subscribed_at),
                        "unsubscribed_at": iso(states[c.id].unsubscribed_at)} for c, in rows]
        found.extra = {"name": listed.name, "title": listed.title}
        return found


def consents(session, contact_id: str) -> list[dict[str, Any]]:
    """A contact's consent history, oldest first: given (or withdrawn), at, source, text."""
    rows = session.scalars(select(ConsentRow).where(ConsentRow.contact_id == contact_id).order_by(ConsentRow.id))
    return [{"given": r.given, "at": iso(r.at), "source": r.source, "text": r.text} for r in rows]
