"""CSV import of contacts: a header row, one contact per row, a report; one bad row never stops the others.

Files come from Excel as often as from other tools: UTF-8 with or without BOM, UTF-16, or Windows-1252,
separated by `,`, `;` (Excel in Belgium and France) or tabs — the separator is read from the header row.
Columns: email (required); first_name, last_name, organisation, tags (separated by ; or |), consent
(yes/no/true/false/1/0, oui/non, ja/nee), consent_source, list; any other column becomes a custom field.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from functools import partial
from typing import Any

from beffroi.store.builtin_tables import ContactRow
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .contacts import upsert_in
from .lists import Prefetched, add_in
from .records import CrmError, InvalidValue, clean_text, normalise_email, normalise_list_name, write, writing

ROW_LIMIT = 100_000
CHUNK = 500  # rows stored per transaction
KNOWN = ("email", "first_name", "last_name", "organisation", "tags", "consent", "consent_source", "list")
ALIASES = {"e_mail": "email", "mail": "email", "courriel": "email", "adresse_e_mail": "email", "email_address": "email",
           "firstname": "first_name", "prenom": "first_name", "prénom": "first_name", "voornaam": "first_name",
           "lastname": "last_name", "surname": "last_name", "nom": "last_name", "achternaam": "last_name",
           "organization": "organisation", "organisatie": "organisation", "company": "organisation",
           "lists": "list", "liste": "list", "tag": "tags"}
YES = {"yes", "y", "true", "1", "oui", "ja"}
NO = {"no", "n", "false", "0", "non", "nee"}


class BadFile(CrmError):
    """The file as a whole cannot be read (no header, no email column, not text)."""


def decode(data: bytes) -> tuple[str, str]:
    """The text of the file and the encoding it was read with."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "windows-1252"


def sniff_delimiter(text: str) -> str:
    """The separator used in the header row: the most frequent of ; , tab | outside quotes (default ,)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def column_key(name: str) -> str:
    """A header cell as a field name: trimmed, lowercased, spaces and dashes as _, known aliases mapped."""
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return ALIASES.get(key, key)


def parse_consent(value: str) -> bool | None:
    """yes/no/true/false/1/0 (and oui/non, ja/nee) as a bool; empty → None; anything else is an error."""
    text = value.strip().lower()
    if not text:
        return None
    if text in YES:
        return True
    if text in NO:
        return False
    raise InvalidValue(f"consent must be yes/no/true/false/1/0, not {value.strip()!r}", "consent")


def row_fields(cells: dict[str, str], default_source: str) -> tuple[str, dict[str, Any], str | None]:
    """(email, contact fields, list) from one row's cells; InvalidValue for a bad row."""
    raw_email = cells.get("email", "").strip()
    if not raw_email:
        raise InvalidValue("missing email", "email")
    email = normalise_email(raw_email)
    fields: dict[str, Any] = {k: clean_text(k, cells[k]) for k in ("first_name", "last_name", "organisation")
                              if cells.get(k, "").strip()}
    if cells.get("tags", "").strip():
        fields["tags"] = [t for t in re.split(r"[;|]", cells["tags"]) if t.strip()]
    consent = parse_consent(cells.get("consent", ""))
    if consent is not None:
        fields["consent"] = consent
        fields["consent_source"] = clean_text("consent_source", cells.get("consent_source")) or default_source
    custom = {k: v.strip() for k, v in cells.items() if k not in KNOWN and v.strip()}
    if custom:
        fields["custom"] = custom
    list_name = normalise_list_name(cells["list"]) if cells.get("list", "").strip() else None
    return email, fields, list_name


def read_rows(text: str, delimiter: str) -> tuple[list[str], Any]:
    """The header's field names and an iterator of (spreadsheet row number, cells)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    while header is not None and not any(cell.strip() for cell in header):
        header = next(reader, None)
    if header is None:
        raise BadFile("the file is empty: it needs a header row naming its columns (email, first_name, …)")
    keys = [column_key(cell) for cell in header]
    named = [k for k in keys if k]
    if "email" not in named:
        raise BadFile(f"the header row has no email column (found: {', '.join(named) or 'nothing'})", "email")
    twice = sorted({k for k in named if named.count(k) > 1})
    if twice:
        raise BadFile(f"column(s) named twice in the header row: {', '.join(twice)}")
    return keys, reader


def import_csv(db, data: bytes, *, list_name: str | None = None, consent_source: str | None = None,
               filename: str | None = None) -> dict[str, Any]:
    """Import contacts from CSV bytes; returns {imported, updated, rejected: [{row, email, reason}], …}.

    Valid rows are stored 500 per transaction (a row the database refuses is then found and rejected
    alone). Existing contacts are updated like upsert_contact (tags and custom fields merged, blank cells
    ignored). A row's `list` column (or `list_name` for every row) subscribes
    the contact; someone who unsubscribed from that list stays unsubscribed. Consent from the file is
    recorded with the row's consent_source, else `consent_source`, else "CSV import <filename>".
    """
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    keys, reader = read_rows(text, delimiter)
    default_list = normalise_list_name(list_name) if list_name else None
    source = clean_text("consent_source", consent_source) or clean_text("consent_source",
                                                                         f"CSV import {filename or ''}".strip())
    report: dict[str, Any] = {"imported": 0, "updated": 0, "rejected": [], "rows": 0, "encoding": encoding,
                              "delimiter": delimiter}
    pending: list[tuple[int, str, dict[str, Any], str | None]] = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        report["rows"] += 1
        if report["rows"] > ROW_LIMIT:
            report["rejected"].append({"row": number, "email": None,
                                       "reason": f"only {ROW_LIMIT} rows are imported at once; split the file"})
            break
        values = dict(zip(keys, cells))
        values.pop("", None)
        email = values.get("email", "").strip() or None
        try:
            if len(cells) > len(keys) and any(c.strip() for c in cells[len(keys):]):
                raise InvalidValue(f"{len(cells)} cells but {len(keys)} columns in the header row")
            email, fields, row_list = row_fields(values, source)
        except CrmError as exc:
            report["rejected"].append({"row": number, "email": email, "reason": str(exc)})
            continue
        pending.append((number, email, fields, row_list or default_list))
        if len(pending) == CHUNK:
            _store_chunk(db, pending, source, report)
            pending = []
    _store_chunk(db, pending, source, report)
    report["rejected"].sort(key=lambda r: r["row"])
    return report


def _store_chunk(db, rows: list[tuple[int, str, dict[str, Any], str | None]], source: str, report: dict) -> None:
    """Store valid rows in one transaction; when one of them fails there, each row again on its own."""
    if not rows:
        return
    try:
        with writing(db) as session, session.no_autoflush:
            emails = {email for _, email, _, _ in rows}
            known = {c.email: c for c in session.scalars(select(ContactRow).where(ContactRow.email.in_(emails)))}
            batch = Prefetched(session, [c.id for c in known.values()])
            created = [_store(session, email, fields, list_name, source, known=known, batch=batch)["created"]
                       for _, email, fields, list_name in rows]
    except (CrmError, SQLAlchemyError):  # one row spoiled the batch (rolled back): find it row by row
        created = []
        for number, email, fields, list_name in rows:
            try:
                created.append(write(db, partial(_store, email=email, fields=fields, list_name=list_name,
                                                 source=source))["created"])
            except (CrmError, SQLAlchemyError) as exc:
                reason = str(exc) if isinstance(exc, CrmError) else f"could not be stored ({type(exc).__name__})"
                report["rejected"].append({"row": number, "email": email, "reason": reason})
                created.append(None)
    for outcome in created:
        if outcome is not None:
            report["imported" if outcome else "updated"] += 1


def _store(session, email: str, fields: dict[str, Any], list_name: str | None, source: str, *,
           known: dict[str, ContactRow] | None = None, batch: Prefetched | None = None) -> dict[str, Any]:
    """One row: the contact upserted, then subscribed to its list."""
    contact = upsert_in(session, email, fields, known=known)
    if list_name:
        row = known[contact["email"]] if known is not None else session.get(ContactRow, contact["id"])
        add_in(session, row, list_name, source, batch=batch)
    return contact
