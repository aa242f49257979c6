"""The contact book: what a plugin keeping contacts (crm) offers the web UI's contact pages.

The UI never imports a plugin: it asks `Services(...).get(ContactBook)` for the provider, as the email plugin
asks for the ContactDirectory. Contacts, lists and reports are plain dicts (JSON-ready, as the API shows them).
A refusal is a `ContactError` naming the field concerned and its kind, so the pages can say it in the reader's
language beside the field.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

CONSENT_STATES = ("given", "withdrawn", "none")
# the fields of a contact a CSV column can go to (or "custom", or "" to leave the column out)
IMPORT_FIELDS = ("email", "first_name", "last_name", "organisation", "tags", "consent", "consent_source",
                 "consent_text", "list")


class ContactError(ValueError):
    """A change the contact base refuses: `field` concerned, `kind` (invalid | not_found | duplicate | file)."""

    kind = "invalid"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ContactFilters:
    """What a list of contacts is narrowed to: words in the address, names or organisation; a list; a tag; consent
    (one of CONSENT_STATES: given, withdrawn, none = never given; "" for any)."""

    q: str = ""
    list_name: str = ""
    tag: str = ""
    consent: str = ""


@dataclass
class ContactWindow:
    """One page of contacts by e-mail address: the cursors of the pages around it and the total (capped)."""

    items: list[dict[str, Any]]
    total: int
    capped: bool = False
    newer: str | None = None  # cursor for the page before (a contact id)
    older: str | None = None  # cursor for the page after
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ContactBook(Protocol):
    """The contacts, lists, consent history, CSV import and GDPR access/erasure of a contact base (crm plugin).

    Every method takes the engine's `Database` first. Errors: `ContactError` (with `field` and `kind`).
    """

    def search(self, db: Any, filters: ContactFilters, *, before: str | None = None, after: str | None = None,
               limit: int = 50) -> ContactWindow:
        """A page of contacts by e-mail address, after (or before) the contact whose id is the cursor."""
        ...

    def contact(self, db: Any, contact_id: str) -> dict[str, Any] | None:
        """A contact with `lists` (memberships) and `consents` (the consent history, oldest first), or None."""
        ...

    def update(self, db: Any, contact_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Edit a contact (fields, tags, consent with source and text); returns it with `changed` (field names)."""
        ...

    def set_lists(self, db: Any, contact_id: str, wanted: list[str], source: str) -> dict[str, list[str]]:
        """Subscribe the contact to the lists in `wanted`, take them off the others: {added, removed}."""
        ...

    def lists(self, db: Any) -> list[dict[str, Any]]:
        """Every list by name with its member counts (subscribed, unsubscribed, recipients)."""
        ...

    def list_names(self, db: Any) -> list[dict[str, Any]]:
        """Every list by name with its title, without counts (to choose a list)."""
        ...

    def members(self, db: Any, list_name: str, *, before: str | None = None, after: str | None = None,
                limit: int = 50) -> ContactWindow:
        """A page of a list's members (subscribed or not) by e-mail address; ContactError not_found for no list."""
        ...

    def preview_import(self, data: bytes, rows: int = 5) -> dict[str, Any]:
        """What a CSV file holds before importing it: columns (name, proposed field, first values), encoding…"""
        ...

    def import_csv(self, db: Any, data: bytes, *, mapping: dict[str, str] | None = None, list_name: str | None = None,
                   consent_source: str | None = None, consent_text: str | None = None,
                   filename: str | None = None, progress: Callable[[int, int], None] | None = None
                   ) -> dict[str, Any]:
        """Import the file (columns mapped by `mapping`: header → field); the report (imported, updated, rejected)."""
        ...

    def export(self, db: Any, contact_id: str) -> dict[str, Any] | None:
        """Everything kept about one person (GDPR access): contact, lists, consent history, deliveries; or None."""
        ...

    def erase(self, db: Any, contact_id: str) -> bool:
        """Erase one person (GDPR): contact, consent history, memberships; deliveries kept without the address."""
        ...
