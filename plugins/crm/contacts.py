"""The contact base's data functions: contacts (upsert, find, edit, search) and, re-exported, lists and links.

The plugin's routes, actions and tests use these: `upsert_contact`, `get_contact`, `find_contact`, `add_to_list`,
`remove_from_list`, `unsubscribe`, `recipients`, `skipped_count`, `unsubscribe_url` (other plugins use the
ContactDirectory service instead, see `directory`).
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select

from beffroi import utcnow

from .lists import add_to_list, memberships, recipients, remove_from_list, skipped_count, unsubscribe
from .records import (
    Duplicate,
    InvalidValue,
    NotFound,
    clean_custom,
    clean_tags,
    clean_text,
    contact_dict,
    new_id,
    normalise_email,
    normalise_list_name,
    reading,
    write,
)
from .tables import ConsentRow, ContactRow, ListRow, MembershipRow
from .unsubscribe import unsubscribe_url

__all__ = ["add_to_list", "create_contact", "delete_contact", "find_contact", "get_contact", "recipients",
           "remove_from_list", "search_contacts", "skipped_count", "unsubscribe", "unsubscribe_url", "update_contact",
           "upsert_contact"]
TEXT_FIELDS = ("first_name", "last_name", "organisation")


def clean_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes with their values as a contact stores them: the address normalised, names trimmed, tags and
    custom fields checked (InvalidValue for the first that breaks a rule, in that order). The consent source is
    checked only when the consent changes (apply_changes), other keys are kept as they are."""
    clean = dict(changes)
    if "email" in clean:
        clean["email"] = normalise_email(clean["email"])
    for field in TEXT_FIELDS:
        if field in clean:
            clean[field] = clean_text(field, clean[field])
    if "tags" in clean:
        clean["tags"] = clean_tags(clean["tags"])
    if "custom" in clean:
        clean["custom"] = clean_custom(clean["custom"])
    return clean


def apply_changes(row: ContactRow, changes: dict[str, Any], *, merge: bool, now=None, cleaned: bool = False
                  ) -> dict[str, list]:
    """Set the given fields on a contact row; returns {field: [old, new]} for what actually changed.

    `merge=True` (upserts) adds tags and custom fields to the existing ones (a custom value None removes
    that field); `merge=False` (edits) replaces them. Consent is recorded with its date and source
    only when its value changes: re-confirming a consent keeps the first date as the proof.
    `cleaned`: the changes already went through clean_changes (a CSV import cleans each row as it reads it).
    """
    now = now or utcnow()
    diff: dict[str, list] = {}
    if not cleaned:
        changes = clean_changes(changes)

    def put(field: str, value: Any) -> None:
        old = getattr(row, field)
        if old != value:
            diff[field] = [old, value]
            setattr(row, field, value)

    for field in ("email", *TEXT_FIELDS):
        if field in changes:
            put(field, changes[field])
    if "tags" in changes:
        put("tags", clean_tags([*(row.tags or []), *changes["tags"]]) if merge else changes["tags"])
    if "custom" in changes:
        custom = changes["custom"]
        if merge:
            custom = {k: v for k, v in {**(row.custom or {}), **custom}.items() if v is not None}
        put("custom", custom)
    if changes.get("consent") is not None:
        consent = bool(changes["consent"])
        if consent != bool(row.consent):
            put("consent", consent)
            put("consent_at", now)
            put("consent_source", clean_text("consent_source", changes.get("consent_source")))
    if diff:
        row.updated_at = now
    return {k: [_plain(a), _plain(b)] for k, (a, b) in diff.items()}


def record_consent(session, row: ContactRow, changed: dict[str, list], text: Any = None) -> None:
    """Append the consent just given or withdrawn to the contact's history (with the text agreed to, if known)."""
    if "consent" in changed:  # added by flush_consents, once the contact row is in the database (its foreign key)
        session.info.setdefault("consents", []).append(ConsentRow(
            contact_id=row.id, given=bool(row.consent), at=row.consent_at or utcnow(), source=row.consent_source,
            text=clean_consent_text(text)))


def flush_consents(session) -> None:
    """Write the contacts changed so far, then the consent history entries recorded for them."""
    session.flush()
    waiting = session.info.pop("consents", [])
    if waiting:
        session.add_all(waiting)
        session.flush()


def clean_consent_text(value: Any) -> str | None:
    """The text of a consent trimmed (empty → None), at most 5,000 characters."""
    text = str(value).strip() if value is not None else ""
    if len(text) > 5000:
        raise InvalidValue("the text of the consent is longer than 5000 characters", "consent_text")
    return text or None


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    """Upsert fields that carry a value: None and blank text never erase what is known."""
    return {k: v for k, v in fields.items() if v is not None and not (isinstance(v, str) and not v.strip())}


def upsert_in(session, email: str, fields: dict[str, Any]) -> dict[str, Any]:
    """upsert_contact inside the caller's session."""
    email = normalise_email(email)
    unknown = set(fields) - {*TEXT_FIELDS, "tags", "custom", "consent", "consent_source", "consent_text"}
    if unknown:
        raise TypeError(f"unknown contact field(s): {', '.join(sorted(unknown))}")
    row = session.scalar(select(ContactRow).where(ContactRow.email == email))
    created = row is None
    if row is None:
        now = utcnow()
        row = ContactRow(id=new_id(), email=email, tags=[], custom={}, consent=False, created_at=now, updated_at=now)
    changes = apply_changes(row, _given(fields), merge=True, now=row.updated_at if created else None)
    if created:
        session.add(row)
    record_consent(session, row, changes, fields.get("consent_text"))
    flush_consents(session)
    return {**contact_dict(row), "created": created, "changed": sorted(changes)}


def upsert_contact(db, email: str, **fields: Any) -> dict[str, Any]:
    """Create or update the contact with this email; returns it with `created` and the `changed` fields.

    Fields: first_name, last_name, organisation, tags (added to the existing ones), consent (bool) with
    consent_source and consent_text (kept in the consent history), custom (merged). None or blank values
    leave what is known untouched.
    """
    return write(db, lambda s: upsert_in(s, email, fields))


def create_contact(db, email: str, **fields: Any) -> dict[str, Any]:
    """A new contact; Duplicate when the email address is taken."""

    def work(session):
        normalised = normalise_email(email)
        if session.scalar(select(ContactRow.id).where(ContactRow.email == normalised)) is not None:
            raise Duplicate(f"a contact with the email address {normalised} already exists", "email")
        return upsert_in(session, normalised, fields)

    return write(db, work)


def get_contact(db, contact_id: str, *, with_lists: bool = False) -> dict[str, Any] | None:
    """A contact by id (with its list memberships when asked), or None."""
    with reading(db) as session:
        row = session.get(ContactRow, contact_id)
        if row is None:
            return None
        found = contact_dict(row)
        if with_lists:
            found["lists"] = memberships(session, contact_id)
        return found


def find_contact(db, email: str) -> dict[str, Any] | None:
    """A contact by email address (any case, spaces ignored), or None."""
    with reading(db) as session:
        row = session.scalar(select(ContactRow).where(ContactRow.email == normalise_email(email)))
        return contact_dict(row) if row is not None else None


def update_contact(db, contact_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Edit a contact: the given fields replace the stored ones (tags too; custom is replaced, not merged)."""

    def work(session):
        row = session.get(ContactRow, contact_id)
        if row is None:
            raise NotFound(f"no contact with id {contact_id!r}")
        if "email" in changes:
            email = normalise_email(changes["email"])
            other = session.scalar(select(ContactRow.id).where(ContactRow.email == email))
            if other is not None and other != contact_id:
                raise Duplicate(f"another contact already has the email address {email}", "email")
        changed = apply_changes(row, changes, merge=False)
        record_consent(session, row, changed, changes.get("consent_text"))
        flush_consents(session)
        return {**contact_dict(row), "changed": sorted(changed)}

    return write(db, work)


def delete_contact(db, contact_id: str) -> bool:
    """Erase a contact and its memberships (GDPR erasure); False when there was none."""

    def work(session):
        session.execute(delete(ConsentRow).where(ConsentRow.contact_id == contact_id))
        session.execute(delete(MembershipRow).where(MembershipRow.contact_id == contact_id))
        return session.execute(delete(ContactRow).where(ContactRow.id == contact_id)).rowcount == 1

    return write(db, work)


def _like(text: str) -> str:
    """`%text%` with LIKE's wildcards escaped (escape character: backslash)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_contacts(db, *, q: str | None = None, list_name: str | None = None, tag: str | None = None,
                    consent: bool | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
    """Contacts by email order with the total: every word of `q` found in the email, a name or the organisation;
    `list_name` keeps members subscribed to that list; `tag` contacts with that tag; `consent` by consent."""
    query = select(ContactRow)
    for word in (q or "").split():
        pattern = _like(word.lower())
        query = query.where(or_(*(func.lower(column).like(pattern, escape="\\") for column in (
            ContactRow.email, ContactRow.first_name, ContactRow.last_name, ContactRow.organisation))))
    if list_name:
        members = (select(MembershipRow.contact_id).join(ListRow, ListRow.id == MembershipRow.list_id)
                   .where(ListRow.name == normalise_list_name(list_name), MembershipRow.subscribed.is_(True)))
        query = query.where(ContactRow.id.in_(members))
    if tag:
        # tags are a JSON array stored as text on both databases; look for the quoted tag in it
        query = query.where(cast(ContactRow.tags, String).like(_like(json.dumps(tag.strip())), escape="\\"))
    if consent is not None:
        query = query.where(ContactRow.consent.is_(consent))
    with reading(db) as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.scalars(query.order_by(ContactRow.email).limit(limit).offset(offset)).all()
        return [contact_dict(r) for r in rows], total
