"""A batch of CSV rows stored in one transaction with a few multi-row statements instead of an ORM object per row.

The rules are upsert_contact's and add_to_list's (the same `apply_changes`, run on plain rows): tags and custom
fields merged, blank cells ignored, consent recorded in the history when it changes, and a person who left a list
stays off it (a membership is only ever inserted, never changed: INSERT … ON CONFLICT DO NOTHING). Contacts are
read once per batch by address; only those a row changes are written back. A row that breaks a database rule makes
the whole batch fail: the importer then stores its rows one by one with the ORM to find and report that row.
"""
from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import ARRAY, ColumnElement, Select, any_, bindparam, func, literal_column, select

from beffroi import utcnow

from .bulk import Bulk
from .contacts import TEXT_FIELDS, apply_changes, clean_consent_text
from .lists import ensure_list
from .records import clean_text, new_id
from .tables import ConsentRow, ContactRow, MembershipRow

CONTACTS, CONSENTS, MEMBERS = ContactRow.__table__, ConsentRow.__table__, MembershipRow.__table__
COLUMNS = tuple(c.name for c in CONTACTS.columns)
READ = ("id", "email", *TEXT_FIELDS, "tags", "custom", "consent")
UNREAD = {"consent_at": None, "consent_source": None}
FIELDS = (*TEXT_FIELDS, "tags", "custom", "updated_at")  # what an update may change; and with consent:
CONSENT = ("consent", "consent_at", "consent_source")
CONSENT_COLUMNS = ("contact_id", "given", "at", "source", "text")
MEMBER_COLUMNS = ("list_id", "contact_id", "subscribed", "source", "subscribed_at", "unsubscribed_at")
EMPTY = {**dict.fromkeys(COLUMNS), "consent": False}
CACHE_KB = 32_768  # SQLite page cache of a connection while it imports
Row = tuple[int, str, dict[str, Any], str | None]  # line, e-mail, the fields upsert_contact takes, list


class Plain:
    """A contact row as plain attributes (what apply_changes reads and sets)."""

    id: str
    email: str
    tags: Any
    custom: Any
    consent: bool
    consent_at: Any
    consent_source: str | None

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)

    def values(self, columns: tuple[str, ...]) -> tuple:
        """The row's values in `columns` order."""
        return tuple(self.__dict__[name] for name in columns)


def fresh(email: str, given: dict[str, Any], now) -> Plain:
    """A new contact with the given fields (already cleaned: csv_import), as apply_changes sets them on an empty one."""
    row = Plain({**EMPTY, "id": new_id(), "email": email, "created_at": now, "updated_at": now})
    for name in TEXT_FIELDS:
        if name in given:
            setattr(row, name, given[name])
    row.tags = given.get("tags", [])
    row.custom = {k: v for k, v in given["custom"].items() if v is not None} if "custom" in given else {}
    if given.get("consent"):
        row.consent, row.consent_at, row.consent_source = True, now, given.get("consent_source")
    return row


def known_contacts(session, emails: set[str]) -> dict[str, Plain]:
    """The stored contacts with these addresses, by address (as one parameter, an array: no statement with
    thousands of parameters to build and parse). Their consent date and source are not read: an import only
    ever replaces them (with a change of consent), never merges them."""
    wanted: ColumnElement[bool]
    if session.bind.dialect.name == "sqlite":
        found: Select[Any] = select(literal_column("value")).select_from(func.json_each(bindparam(
            "emails", json.dumps(sorted(emails)))))
        wanted = CONTACTS.c.email.in_(found)
    else:
        wanted = CONTACTS.c.email == any_(bindparam("emails", sorted(emails), type_=ARRAY(CONTACTS.c.email.type)))
    query = select(*(CONTACTS.c[name] for name in READ)).where(wanted)
    return {values[1]: Plain({**UNREAD, **dict(zip(READ, values))}) for values in session.connection().execute(query)}


def store_batch(session, rows: list[Row], source: str) -> list[bool]:
    """Upsert the rows' contacts and subscribe them to their lists; whether each row created its contact.

    Each row's fields are upsert_contact's, none blank, through contacts.clean_changes."""
    now = utcnow()
    if session.bind.dialect.name == "sqlite":  # the indexes of 100,000 contacts outgrow SQLite's default 2 MB cache
        session.connection().exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KB}")
    known = known_contacts(session, {email for _, email, _, _ in rows})
    existing = set(known)
    changed: dict[str, bool] = {}  # e-mail of a stored contact a row changes → whether its consent changed
    consents: list[tuple] = []
    created: list[bool] = []
    for _, email, fields, _ in rows:
        row = known.get(email)
        created.append(row is None)
        if row is None:  # what apply_changes gives on an empty contact, without comparing each field
            row = known[email] = fresh(email, fields, now)
            diff: dict[str, Any] = {"consent": True} if row.consent else {}
        else:
            diff = apply_changes(cast(Any, row), fields, merge=True, now=now, cleaned=True)  # as on a ContactRow
            if diff and email in existing:
                changed[email] = changed.get(email, False) or "consent" in diff
        if "consent" in diff:
            consents.append((row.id, bool(row.consent), row.consent_at, row.consent_source,
                             clean_consent_text(fields.get("consent_text"))))
    bulk = Bulk(session)
    bulk.insert(CONTACTS, COLUMNS, [c.values(COLUMNS) for email, c in known.items() if email not in existing])
    for columns, consent in ((FIELDS, False), ((*FIELDS, *CONSENT), True)):
        bulk.update(CONTACTS, "id", columns, [known[email].values(("id", *columns))
                                              for email, with_consent in changed.items() if with_consent == consent])
    bulk.insert(CONSENTS, CONSENT_COLUMNS, consents)
    _subscribe(session, bulk, rows, known, existing, source, now)
    return created


def _subscribe(session, bulk: Bulk, rows: list[Row], known: dict[str, Plain], existing: set[str], source: str,
               now) -> None:
    """Memberships for the rows that name a list: added when missing, left as they are otherwise."""
    wanted = dict.fromkeys((name, email) for _, email, _, name in rows if name)  # each pair once
    if not wanted:
        return
    lists = {name: ensure_list(session, name).id for name in sorted({name for name, _ in wanted})}
    source_text = clean_text("source", source)
    for stored in (False, True):  # a contact created by this batch is on no list yet: its rows need no check
        bulk.insert(MEMBERS, MEMBER_COLUMNS, [(lists[name], known[email].id, True, source_text, now, None)
                                              for name, email in wanted if (email in existing) == stored],
                    skip_existing=stored)
