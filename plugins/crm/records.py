"""What the contact base accepts: errors, email and list-name rules, field limits, write transactions, row → dict."""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from beffroi import ContactError

from .tables import ContactRow

T = TypeVar("T")

# Column sizes of crm_contacts (.tables); checked here so the message names the field.
LIMITS = {"email": 320, "first_name": 200, "last_name": 200, "organisation": 300, "consent_source": 200, "source": 200}
TAG_LIMIT, TAGS_MAX, CUSTOM_KEY_LIMIT = 100, 100, 100
_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LIST_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


class CrmError(ContactError):
    """A request the contact base refuses, with a message for the comms officer and the field concerned."""


class InvalidValue(CrmError):
    """A value that breaks a rule (an email address that is not one, a name too long)."""


class NotFound(CrmError):
    """No such contact or list."""

    kind = "not_found"


class Duplicate(CrmError):
    """Another contact already has this email address (or a list this name)."""

    kind = "duplicate"


def normalise_email(value: Any) -> str:
    """The address trimmed and lowercased; InvalidValue when it is not an email address."""
    text = str(value or "").strip().lower()
    if not text:
        raise InvalidValue("an email address is required", "email")
    local, at, domain = text.rpartition("@")
    problem = None
    if not at or not local or not domain:
        problem = "it has no @"
    elif len(text) > LIMITS["email"] or len(local) > 64:
        problem = "it is too long"
    elif not _LOCAL.match(local):
        problem = "the part before the @ has characters an address cannot have"
    elif not _valid_domain(domain):
        problem = "the domain after the @ is not valid"
    if problem:
        raise InvalidValue(f"{str(value).strip()!r} is not a valid email address ({problem})", "email")
    return text


@lru_cache(maxsize=4096)  # an import's addresses share a few domains
def _valid_domain(domain: str) -> bool:
    try:
        ascii_domain = domain.encode("idna").decode("ascii")  # accepts accented domains (IDN)
    except UnicodeError:
        return False
    labels = ascii_domain.split(".")
    return len(labels) >= 2 and all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def normalise_list_name(value: Any) -> str:
    """A list name trimmed and lowercased (`press`); InvalidValue when it has other characters."""
    name = str(value or "").strip().lower()
    if not _LIST_NAME.match(name):
        raise InvalidValue(f"{str(value or '').strip()!r} is not a valid list name: use lowercase letters, digits, "
                           "'-', '_' and '.', up to 100 characters (e.g. press)", "list")
    return name


def clean_text(field: str, value: Any) -> str | None:
    """A name-like field trimmed (empty → None) and checked against its column size."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > LIMITS[field]:
        raise InvalidValue(f"{field} is longer than {LIMITS[field]} characters", field)
    return text or None


def clean_tags(values: Any) -> list[str]:
    """Tags trimmed, empty ones dropped, duplicates removed (first spelling kept); a string splits on ; , |."""
    if values is None:
        return []
    if isinstance(values, str):
        values = re.split(r"[;,|]", values)
    tags = list(dict.fromkeys(tag for tag in (str(v).strip() for v in values) if tag))
    if any(len(t) > TAG_LIMIT for t in tags):
        raise InvalidValue(f"a tag is longer than {TAG_LIMIT} characters", "tags")
    if len(tags) > TAGS_MAX:
        raise InvalidValue(f"a contact has at most {TAGS_MAX} tags", "tags")
    return tags


def clean_custom(values: Any) -> dict[str, Any]:
    """Custom fields as a mapping of short text keys to JSON values."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InvalidValue("custom fields are a mapping of names to values", "custom")
    custom = {}
    for key, value in values.items():
        key = str(key).strip()
        if not key or len(key) > CUSTOM_KEY_LIMIT:
            raise InvalidValue(f"custom field names have 1 to {CUSTOM_KEY_LIMIT} characters", "custom")
        custom[key] = value
    return custom


def new_id() -> str:
    """A fresh contact or list id: a UUID version 7 (RFC 9562) in hex, 48 bits of Unix time in milliseconds then
    74 random bits. Ids made one after the other sort together, so the rows of an import land at the end of the
    primary key's index rather than on a random page each (SQLite writes a fifth of the pages)."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return f"{value & ~(0xF << 76 | 0x3 << 62) | 0x7 << 76 | 0x2 << 62:032x}"


def iso(value: datetime | None) -> str | None:
    """A timestamp as ISO 8601 text (None stays None)."""
    return value.isoformat() if value is not None else None


def contact_dict(row: ContactRow) -> dict[str, Any]:
    """A contact as JSON-ready data (what actions return, events carry and the API shows)."""
    return {"id": row.id, "email": row.email, "first_name": row.first_name, "last_name": row.last_name,
            "organisation": row.organisation, "tags": list(row.tags or []), "consent": bool(row.consent),
            "consent_at": iso(row.consent_at), "consent_source": row.consent_source, "custom": dict(row.custom or {}),
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


@contextmanager
def writing(db) -> Iterator[Any]:
    """An ORM session in a write transaction, committed on exit (one writer at a time per process on SQLite)."""
    with db.write_lock, db.session() as session:
        yield session


@contextmanager
def reading(db) -> Iterator[Any]:
    """An ORM session for reads only; nothing is committed (previews and listings)."""
    with db.sessions() as session:
        yield session


def write(db, work: Callable[[Any], T]) -> T:
    """`work(session)` in a write transaction, run once more when a concurrent insert won a unique-key race."""
    try:
        with writing(db) as session:
            return work(session)
    except IntegrityError:
        with writing(db) as session:  # the second attempt sees the other writer's row and updates it
            return work(session)
