"""The column mapping of a CSV import: what the file's columns are proposed to be (the preview), and the mapping
the comms officer chose, checked (one column for the e-mail address, no field twice)."""
from __future__ import annotations

import difflib
from itertools import islice
from typing import Any

from beffroi import IMPORT_FIELDS

from .csv_file import ALIASES, BadFile, column_key, decode, records, sniff_delimiter

SKIP, CUSTOM = "", "custom"  # a column left out; a column kept as a custom field (named after its header)
TYPO = 0.8


def proposed(cell: str) -> str:
    """The field a header cell most likely is: a known field or alias, a near miss of one (a typo), else custom."""
    key = column_key(cell)
    if key in IMPORT_FIELDS:
        return key
    close = difflib.get_close_matches(key, [*IMPORT_FIELDS, *ALIASES], n=1, cutoff=TYPO) if key else []
    if close:
        return ALIASES.get(close[0], close[0])
    return CUSTOM if key else SKIP


def preview(data: bytes, rows: int = 5) -> dict[str, Any]:
    """The file's columns with their proposed field and first values, its encoding, separator and row count."""
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    found = records(text, delimiter)
    first = next(found, None)
    header = first[1] if first is not None else None
    if first is None or header is None:
        raise BadFile("the file is empty or its header row cannot be read: it needs a header row naming its "
                      "columns (email, first_name, …)")
    line = first[0]
    sample = [cells for _, cells, _ in islice(found, rows) if cells is not None]
    count = len(sample) + sum(1 for _ in found)
    if not count:
        raise BadFile(f"the file has only its header row (line {line}): no contact to import")
    columns = [{"index": i, "name": cell.strip(), "field": proposed(cell),
                "values": [cells[i] if i < len(cells) else "" for cells in sample]} for i, cell in enumerate(header)]
    return {"columns": columns, "rows": count, "encoding": encoding, "delimiter": delimiter}


def mapped_keys(header: list[str], mapping: dict[str, str]) -> tuple[list[str], list[str]]:
    """The field of each column (by position, as `mapping` {"0": "email", …} says) and the custom columns.

    A column missing from the mapping keeps its proposed field. BadFile when no column or two columns are
    the e-mail address, or a field is chosen twice.
    """
    keys, custom = [], []
    for index, cell in enumerate(header):
        choice = mapping.get(str(index), proposed(cell))
        if choice not in (*IMPORT_FIELDS, SKIP, CUSTOM):
            raise BadFile(f"column {index + 1} ({cell.strip()!r}) is mapped to {choice!r}, which is not a field")
        if choice == CUSTOM:
            choice = column_key(cell)
            if choice in IMPORT_FIELDS:  # a custom field named like a field would be read as that field
                choice = f"custom_{choice}"
            custom.append(choice)
        keys.append(choice)
    named = [k for k in keys if k]
    if "email" not in named:
        raise BadFile("no column is the e-mail address: choose the column that holds the addresses")
    twice = sorted({k for k in named if named.count(k) > 1})
    if twice:
        raise BadFile(f"several columns go to the same field: {', '.join(twice)}; choose one column for each field")
    return keys, custom
