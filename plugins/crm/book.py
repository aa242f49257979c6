"""The contact base as the `ContactBook` service: what the web UI's contact pages read and change."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from beffroi import ContactFilters, ContactWindow

from . import browse, csv_import, csv_mapping, gdpr
from .contacts import update_contact
from .lists import add_in, all_lists, list_names, memberships, remove_in
from .records import NotFound, contact_dict, normalise_list_name, reading, write
from .tables import ContactRow


class BuiltinBook:
    """The built-in contact base's contacts, lists, consent history, CSV import, access and erasure."""

    def search(self, db: Any, filters: ContactFilters, *, before: str | None = None, after: str | None = None,
               limit: int = 50) -> ContactWindow:
        """A page of contacts by e-mail address."""
        return browse.search(db, filters, before=before, after=after, limit=limit)

    def contact(self, db: Any, contact_id: str) -> dict[str, Any] | None:
        """A contact with its lists and consent history, or None."""
        with reading(db) as session:
            row = session.get(ContactRow, contact_id)
            if row is None:
                return None
            return {**contact_dict(row), "lists": memberships(session, contact_id),
                    "consents": browse.consents(session, contact_id)}

    def update(self, db: Any, contact_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Edit a contact (the given fields replace the stored ones)."""
        return update_contact(db, contact_id, changes)

    def set_lists(self, db: Any, contact_id: str, wanted: list[str], source: str) -> dict[str, list[str]]:
        """Subscribe the contact to `wanted` lists, take them off their other subscribed lists."""
        names = {normalise_list_name(name) for name in wanted}

        def work(session):
            row = session.get(ContactRow, contact_id)
            if row is None:
                raise NotFound(f"no contact with id {contact_id!r}")
            now = {m["list"] for m in memberships(session, contact_id) if m["subscribed"]}
            added = [name for name in sorted(names - now)
                     if add_in(session, row, name, source)["status"] in ("added", "resubscribed")]
            removed = [name for name in sorted(now - names) if remove_in(session, row, name)["removed"]]
            return {"added": added, "removed": removed}

        return write(db, work)

    def lists(self, db: Any) -> list[dict[str, Any]]:
        """Every list with its member counts."""
        return all_lists(db)

    def list_names(self, db: Any) -> list[dict[str, Any]]:
        """Every list's name and title."""
        return list_names(db)

    def members(self, db: Any, list_name: str, *, before: str | None = None, after: str | None = None,
                limit: int = 50) -> ContactWindow:
        """A page of a list's members."""
        return browse.members(db, list_name, before=before, after=after, limit=limit)

    def preview_import(self, data: bytes, rows: int = 5) -> dict[str, Any]:
        """The columns of a CSV file, their proposed fields and first values."""
        return csv_mapping.preview(data, rows)

    def import_csv(self, db: Any, data: bytes, *, mapping: dict[str, str] | None = None, list_name: str | None = None,
                   consent_source: str | None = None, consent_text: str | None = None,
                   filename: str | None = None, progress: Callable[[int, int], None] | None = None
                   ) -> dict[str, Any]:
        """Import a CSV file; the report."""
        return csv_import.import_csv(db, data, mapping=mapping, list_name=list_name, consent_source=consent_source,
                                     consent_text=consent_text, filename=filename, progress=progress)

    def export(self, db: Any, contact_id: str) -> dict[str, Any] | None:
        """Everything kept about one contact, or None."""
        return gdpr.export(db, contact_id)

    def erase(self, db: Any, contact_id: str) -> bool:
        """Erase one contact and their personal data."""
        return gdpr.erase(db, contact_id)

