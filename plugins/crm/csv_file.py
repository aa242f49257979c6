"""Reading a contacts CSV file: its encoding, separator, header row and records, each with its line number.

Encodings: UTF-8 with or without BOM and UTF-16 with BOM are read as such. Other bytes are read as
Windows-1252 only when every byte is defined there and the text holds no control characters: that is what
Excel in Belgium and France writes for "CSV (separator: semicolon)", the file a comms officer most often
has, so refusing it would refuse the common case; the report names the encoding so that a wrong guess shows.
Anything else (a workbook, a PDF, UTF-16 without BOM, random bytes) is refused with how to export UTF-8.
"""
from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
from collections.abc import Iterator

from .records import CrmError

FIELD_LIMIT = csv.field_size_limit()  # Python's default (131,072 characters); the module-wide value stays as is
KNOWN = ("email", "first_name", "last_name", "organisation", "tags", "consent", "consent_source", "consent_text",
         "list")
ALIASES = {"e_mail": "email", "mail": "email", "courriel": "email", "adresse_e_mail": "email", "email_address": "email",
           "firstname": "first_name", "prenom": "first_name", "prénom": "first_name", "voornaam": "first_name",
           "lastname": "last_name", "surname": "last_name", "nom": "last_name", "achternaam": "last_name",
           "organization": "organisation", "organisatie": "organisation", "company": "organisation",
           "lists": "list", "liste": "list", "tag": "tags"}
TYPO = 0.8  # a column this close to a known name is taken for a typo ('frist_name'), not for a custom field
HOW_TO_EXPORT = ("save it as UTF-8: in Excel, File → Save As → 'CSV UTF-8 (comma delimited) (*.csv)'; in "
                 "LibreOffice Calc, File → Save As → 'Text CSV (.csv)' with character set 'Unicode (UTF-8)'")
SIGNATURES = {b"PK\x03\x04": "an Excel workbook (.xlsx) or another zip archive",
              b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)", b"%PDF": "a PDF document",
              b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"{\\rtf": "an RTF document"}
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


class BadFile(CrmError):
    """The file as a whole cannot be imported; `status` is the HTTP status that says so (415, 413 or 422)."""

    kind = "file"

    def __init__(self, message: str, status: int = 422):
        super().__init__(message, "file")
        self.status = status


def decode(data: bytes) -> tuple[str, str]:
    """The text of the file and the encoding it was read with; BadFile when it is not text we can read."""
    if not data.strip(b" \t\r\n\x00" + codecs.BOM_UTF8 + codecs.BOM_UTF16_LE + codecs.BOM_UTF16_BE):
        raise BadFile("the file is empty: it needs a header row naming its columns (email, first_name, …)")
    kind = next((name for magic, name in SIGNATURES.items() if data.startswith(magic)), None)
    if kind:
        raise BadFile(f"this is {kind}, not a CSV file: {HOW_TO_EXPORT}", 415)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, encoding = _strict(data, "utf-16"), "utf-16"
    elif data.startswith(codecs.BOM_UTF8):
        text, encoding = _strict(data, "utf-8-sig"), "utf-8"
    else:
        text, encoding = _strict(data, "utf-8"), "utf-8"
        if text is None or _CONTROL.search(text):
            text, encoding = _strict(data, "cp1252"), "windows-1252"
    control = _CONTROL.search(text) if text is not None else None
    if text is None or control:
        where = (f" (line {text.count(chr(10), 0, control.start()) + 1} holds the control character "
                 f"U+{ord(control.group()):04X}, which text does not)" if control and text is not None else "")
        raise BadFile(f"the file is not text in an encoding we can read safely (UTF-8, UTF-16 with BOM, or "
                      f"Windows-1252 text){where}: {HOW_TO_EXPORT}", 415)
    return text, encoding


def _strict(data: bytes, encoding: str) -> str | None:
    """The bytes decoded when every one of them is valid in `encoding`, else None."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


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


def records(text: str, delimiter: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(line where the record starts, cells, None) per record, or (line, None, why) when it cannot be read.

    Blank lines are left out. A cell over FIELD_LIMIT characters (often an unclosed quote swallowing the
    lines after it) spoils its own record only: the reader starts again on the next line.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, None, _unreadable(exc)
            continue
        if "".join(cells).strip():  # some cell is not blank
            yield line, cells, None


def _unreadable(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return (f"a cell is longer than {FIELD_LIMIT:,} characters (a quote \" left open makes one cell of "
                f"the lines after it)")
    return f"the line cannot be read as CSV ({exc})"


def header_keys(line: int, cells: list[str] | None, why: str | None) -> tuple[list[str], list[str]]:
    """The field names of the header row and its custom columns; BadFile for a missing email column or a typo."""
    if cells is None:
        raise BadFile(f"the header row (line {line}) cannot be read: {why}")
    keys = [column_key(cell) for cell in cells]
    named = [k for k in keys if k]
    custom = [k for k in named if k not in KNOWN]
    for position, key in enumerate(keys, start=1):
        close = difflib.get_close_matches(key, [*KNOWN, *ALIASES], n=1, cutoff=TYPO) if key in custom else []
        if close:
            meant = ALIASES.get(close[0], close[0])
            raise BadFile(f"column {position} of the header row (line {line}), {cells[position - 1].strip()!r}, "
                          f"is not a column we know: did you mean {meant!r}? (other columns are kept as custom "
                          f"fields; known columns: {', '.join(KNOWN)})")
    if "email" not in named:
        raise BadFile(f"the header row (line {line}) has no email column (found: {', '.join(named) or 'nothing'}); "
                      f"name the column of addresses 'email'")
    twice = sorted({k for k in named if named.count(k) > 1})
    if twice:
        raise BadFile(f"column(s) named twice in the header row (line {line}): {', '.join(twice)}")
    return keys, custom
