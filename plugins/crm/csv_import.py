"""CSV import of contacts: a header row, one contact per row, a report; one bad row never stops the others.

Files come from Excel as often as from other tools (csv_file reads the encoding, separator and header).
Columns: email (required); first_name, last_name, organisation, tags (separated by ; or |), consent
(yes/no/true/false/1/0, oui/non, ja/nee), consent_source, list; any other column becomes a custom field,
unless its name is so close to a known one that it is surely a typo (then the file is refused).
A row that breaks a rule is skipped and reported with its line in the file (the header is line 1 when the
file starts with it); the good rows are imported. A problem with the whole file refuses it before any write.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from itertools import islice
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from .contacts import clean_changes, upsert_in
from .csv_batch import store_batch
from .csv_file import KNOWN, BadFile, decode, header_keys, records, sniff_delimiter
from .csv_mapping import mapped_keys
from .lists import add_in
from .records import (
    CrmError,
    InvalidValue,
    clean_text,
    normalise_email,
    normalise_list_name,
    write,
    writing,
)
from .tables import ContactRow

ROW_LIMIT = 100_000
CHUNK = 5000  # rows stored per transaction
YES = {"yes", "y", "true", "1", "oui", "ja"}
NO = {"no", "n", "false", "0", "non", "nee"}
SINGLE_LINE = ("email", "first_name", "last_name", "organisation", "tags", "consent", "list")


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


def row_fields(cells: dict[str, str], default_source: str, default_text: str | None = None
               ) -> tuple[str, dict[str, Any], str | None]:
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
        text = cells.get("consent_text", "").strip() or default_text
        if text:
            fields["consent_text"] = text
    custom = {k: v.strip() for k, v in cells.items() if k not in KNOWN and v.strip()}
    if custom:
        fields["custom"] = custom
    list_name = normalise_list_name(cells["list"]) if cells.get("list", "").strip() else None
    return email, fields, list_name


def _cells(keys: list[str], cells: list[str]) -> dict[str, str]:
    """A record's cells by column (the header's empty column names left out)."""
    values = dict(zip(keys, cells))
    values.pop("", None)
    return values


def _check_shape(keys: list[str], cells: list[str], values: dict[str, str]) -> None:
    """InvalidValue when a record's cells do not match the header row (a separator or a quote out of place)."""
    if len(cells) < len(keys):
        raise InvalidValue(f"{len(cells)} cell(s) but {len(keys)} columns in the header row: a separator is "
                           f"missing or the line was cut")
    if any(cell.strip() for cell in cells[len(keys):]):
        raise InvalidValue(f"{len(cells)} cells but {len(keys)} columns in the header row: a cell holding the "
                           f"separator needs quotes around it")
    joined = "".join(cells)
    if "\n" not in joined and "\r" not in joined:
        return
    broken = [k for k in SINGLE_LINE if any(end in values.get(k, "").strip() for end in "\r\n")]
    if broken:
        raise InvalidValue(f"the {broken[0]} cell runs over several lines (a quote \" left open, or a line break "
                           f"typed in the cell)")


def read_file(data: bytes, mapping: dict[str, str] | None = None
              ) -> tuple[list[str], list[tuple[int, list[str] | None, str | None]], dict[str, Any]]:
    """(column keys, the records after the header, the report's start); BadFile for a file refused whole.

    Without `mapping` the header row names the fields; with it, the columns go where it says (csv_mapping)."""
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    found = records(text, delimiter)
    first = next(found, None)
    if first is None:
        raise BadFile("the file is empty: it needs a header row naming its columns (email, first_name, …)")
    if mapping is None or first[1] is None:
        keys, custom = header_keys(*first)
    else:
        keys, custom = mapped_keys(first[1], mapping)
    rows = list(islice(found, ROW_LIMIT + 1))  # read once, kept: too many refuses before writing
    count = len(rows) + sum(1 for _ in found)
    if count == 0:
        raise BadFile(f"the file has only its header row (line {first[0]}): no contact to import")
    if count > ROW_LIMIT:
        raise BadFile(f"the file has {count:,} rows; at most {ROW_LIMIT:,} are imported at once: split it into "
                      f"files of {ROW_LIMIT:,} rows or fewer", 413)
    report = {"imported": 0, "updated": 0, "rejected": [], "rows": count, "encoding": encoding,
              "delimiter": delimiter, "custom_columns": custom}
    return keys, rows, report


def import_csv(db, data: bytes, *, list_name: str | None = None, consent_source: str | None = None,
               filename: str | None = None, mapping: dict[str, str] | None = None, consent_text: str | None = None,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Import contacts from CSV bytes; returns {imported, updated, rejected: [{line, email, reason}], …}.

    Valid rows are stored 500 per transaction (a row the database refuses is then found and rejected
    alone). Existing contacts are updated like upsert_contact (tags and custom fields merged, blank cells
    ignored). A row's `list` column (or `list_name` for every row) subscribes
    the contact; someone who unsubscribed from that list stays unsubscribed. Consent from the file is
    recorded with the row's consent_source, else `consent_source`, else "CSV import <filename>".
    `consent_text`: the text agreed to, for rows giving consent without a consent_text cell. `mapping`: which
    field each column goes to (csv_mapping.mapped_keys). `progress(lines done, lines)` is called after each chunk.
    BadFile (nothing stored) for a file that cannot be imported as a whole.
    """
    keys, found, report = read_file(data, mapping)
    text = consent_text.strip() if consent_text and consent_text.strip() else None

    def store(rows):
        assert source is not None  # "CSV import …" is never blank
        _store_chunk(db, rows, source, report)
        if progress is not None:
            progress(report["imported"] + report["updated"] + len(report["rejected"]), report["rows"])

    default_list = normalise_list_name(list_name) if list_name else None
    source = clean_text("consent_source", consent_source) or clean_text("consent_source",
                                                                         f"CSV import {filename or ''}".strip())
    assert source is not None  # "CSV import …" is never blank
    pending: list[tuple[int, str, dict[str, Any], str | None]] = []
    for line, cells, unreadable in found:
        email = None
        try:
            if cells is None:
                raise InvalidValue(unreadable or "the line cannot be read")
            values = _cells(keys, cells)
            email = values.get("email", "").strip()[:320] or None
            _check_shape(keys, cells, values)
            email, fields, row_list = row_fields(values, source, text)
            fields = clean_changes(fields)  # a bad tag or custom field rejects its row here, not its batch
        except CrmError as exc:
            report["rejected"].append({"line": line, "email": email, "reason": str(exc)})
            continue
        pending.append((line, email, fields, row_list or default_list))
        if len(pending) == CHUNK:
            store(pending)
            pending = []
    store(pending)
    report["rejected"].sort(key=lambda r: r["line"])
    return report


def _store_chunk(db, rows: list[tuple[int, str, dict[str, Any], str | None]], source: str, report: dict) -> None:
    """Store valid rows in one transaction; when one of them fails there, each row again on its own."""
    if not rows:
        return
    created: list[bool | None]
    try:
        with writing(db) as session:
            created = list(store_batch(session, rows, source))
    except (CrmError, SQLAlchemyError):  # one row spoiled the batch (rolled back): find it row by row
        created = []
        for number, email, fields, list_name in rows:
            try:
                created.append(write(db, partial(_store, email=email, fields=fields, list_name=list_name,
                                                 source=source))["created"])
            except (CrmError, SQLAlchemyError) as exc:
                reason = str(exc) if isinstance(exc, CrmError) else f"could not be stored ({type(exc).__name__})"
                report["rejected"].append({"line": number, "email": email, "reason": reason})
                created.append(None)
    for outcome in created:
        if outcome is not None:
            report["imported" if outcome else "updated"] += 1


def _store(session, email: str, fields: dict[str, Any], list_name: str | None, source: str) -> dict[str, Any]:
    """One row: the contact upserted, then subscribed to its list."""
    contact = upsert_in(session, email, fields)
    if list_name:
        add_in(session, session.get(ContactRow, contact["id"]), list_name, source)
    return contact
