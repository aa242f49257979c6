"""A batch of CSV rows stored in one transaction with a few multi-row statements instead of an ORM object per row.

The rules are upsert_contact's and add_to_list's (the same `apply_changes`, run on plain rows): tags and custom
fields merged, blank cells ignored, consent recorded in the history when it changes, and a person who left a list
stays off it. A row that breaks a database rule makes the whole batch fail: the importer then stores its rows one
by one with the ORM to find and report that row.
"""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy import bindparam, insert, select, update

from beffroi import utcnow

from .contacts import TEXT_FIELDS, _given, apply_changes, clean_consent_text
from .lists import ensure_list
from .records import clean_custom, clean_tags, clean_text, new_id
from .tables import ConsentRow, ContactRow, MembershipRow

CONTACTS = ContactRow.__table__
COLUMNS = [c.name for c in CONTACTS.columns]
CHANGEABLE = [c for c in COLUMNS if c not in ("id", "created_at")]
CACHE_KB = 32_768  # SQLite page cache of a connection while it imports


class Plain:
    """A contact row as plain attributes (what apply_changes reads and sets)."""

    id: str
    tags: Any
    custom: Any
    consent: bool
    consent_at: Any
    consent_source: str | None

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)

    def values(self) -> dict[str, Any]:
        """The row's columns."""
        return {name: self.__dict__[name] for name in COLUMNS}


def fresh(email: str, given: dict[str, Any], now) -> Plain:
    """A new contact with the given fields, cleaned as apply_changes cleans them."""
    row = Plain({**dict.fromkeys(COLUMNS), "id": new_id(), "email": email, "tags": [], "custom": {},
                 "consent": False, "created_at": now, "updated_at": now})
    for name in TEXT_FIELDS:
        if name in given:
            setattr(row, name, clean_text(name, given[name]))
    if "tags" in given:
        row.tags = clean_tags(given["tags"])
    if "custom" in given:
        row.custom = {k: v for k, v in clean_custom(given["custom"]).items() if v is not None}
    if given.get("consent"):
        row.consent, row.consent_at = True, now
        row.consent_source = clean_text("consent_source", given.get("consent_source"))
    return row


def store_batch(session, rows: list[tuple[int, str, dict[str, Any], str | None]], source: str) -> list[bool]:
    """Upsert the rows' contacts and subscribe them to their lists; whether each row created its contact."""
    now = utcnow()
    if session.bind.dialect.name == "sqlite":  # the indexes of 100,000 contacts outgrow SQLite's default 2 MB cache
        session.connection().exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KB}")
    emails = {email for _, email, _, _ in rows}
    known = {r.email: Plain(dict(r._mapping)) for r in session.execute(select(CONTACTS).where(
        CONTACTS.c.email.in_(emails)))}
    existing = {c.id for c in known.values()}
    changed: set[str] = set()
    consents: list[dict[str, Any]] = []
    created: list[bool] = []
    for _, email, fields, _ in rows:
        row = known.get(email)
        created.append(row is None)
        if row is None:  # what apply_changes gives on an empty contact, without comparing each field
            row = known[email] = fresh(email, _given(fields), now)
            diff: dict[str, Any] = {"consent": True} if row.consent else {}
        else:
            diff = apply_changes(cast(Any, row), _given(fields), merge=True, now=now)  # a row as ContactRow has it
        if diff:
            changed.add(row.id)
        if "consent" in diff:
            consents.append({"contact_id": row.id, "given": bool(row.consent), "at": row.consent_at,
                             "source": row.consent_source, "text": clean_consent_text(fields.get("consent_text"))})
    new = [c.values() for c in known.values() if c.id not in existing]
    if new:
        session.connection().execute(insert(CONTACTS), new)  # Core: one executemany, no ORM bookkeeping
    updated = [{**{f"v_{k}": v for k, v in c.values().items() if k in CHANGEABLE}, "b_id": c.id}
               for c in known.values() if c.id in existing and c.id in changed]
    if updated:
        statement = (update(CONTACTS).where(CONTACTS.c.id == bindparam("b_id"))
                     .values({k: bindparam(f"v_{k}") for k in CHANGEABLE}))
        session.connection().execute(statement, updated)
    if consents:
        session.connection().execute(insert(ConsentRow.__table__), consents)
    _subscribe(session, rows, known, existing, source, now)
    return created


def _subscribe(session, rows, known: dict[str, Plain], existing: set[str], source: str, now) -> None:
    """Memberships for the rows that name a list: added when missing, left as they are otherwise."""
    wanted = {(name, known[email].id) for _, email, _, name in rows if name}
    if not wanted:
        return
    lists = {name: ensure_list(session, name).id for name in {name for name, _ in wanted}}
    members = set()
    old = [contact for _, contact in wanted if contact in existing]
    if old:
        members = {(list_id, contact) for list_id, contact in session.execute(select(
            MembershipRow.list_id, MembershipRow.contact_id).where(MembershipRow.list_id.in_(lists.values()),
                                                                   MembershipRow.contact_id.in_(old)))}
    source_text = clean_text("source", source)
    added = [{"list_id": lists[name], "contact_id": contact, "subscribed": True, "source": source_text,
              "subscribed_at": now, "unsubscribed_at": None}
             for name, contact in sorted(wanted) if (lists[name], contact) not in members]
    if added:
        session.connection().execute(insert(MembershipRow.__table__), added)
