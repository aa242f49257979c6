"""CSV import through the API with real files: bad rows skipped and reported by line, bad files refused whole."""
from __future__ import annotations

import codecs

import pytest
from fastapi.testclient import TestClient

from beffroi.api import create_app
from beffroi_plugins.crm import contacts
from beffroi_plugins.crm.csv_import import ROW_LIMIT
from beffroi_plugins.crm.routes import UPLOAD_LIMIT

EXPORT_HINT = "CSV UTF-8"


@pytest.fixture
def upload(engine):
    """Send bytes as an uploaded file with an editor token; the answer."""
    api = TestClient(create_app(engine), base_url="http://beffroi.test", raise_server_exceptions=False,
                     headers={"Authorization": f"Bearer {engine.tokens.create('editor', 'editor')[1]}"})

    def send(data: bytes, name="contacts.csv", kind="text/csv"):
        return api.post("/api/crm/contacts/import", files={"file": (name, data, kind)})

    return send


def stored(engine) -> list[str]:
    return sorted(c["email"] for c in contacts.search_contacts(engine.db, limit=500)[0])


def refused(answer, status: int, *words: str) -> str:
    """The detail of a problem answer refusing the file, checked for its status and words."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    detail = answer.json()["detail"]
    assert all(word in detail for word in words), detail
    return detail


def test_a_huge_cell_skips_its_line_only(upload, engine):
    data = f"email;first_name\nann@example.org;Ann\nbig@example.org;{'x' * 200_000}\nbob@example.org;Bob\n"
    report = upload(data.encode()).json()
    assert stored(engine) == ["ann@example.org", "bob@example.org"] and report["imported"] == 2
    [skipped] = report["rejected"]
    assert skipped["line"] == 3 and "longer than 131,072 characters" in skipped["reason"]


@pytest.mark.parametrize("swallowed", [2, 9000])
def test_an_unclosed_quote_is_reported_at_its_line_and_the_other_rows_stay(upload, engine, swallowed):
    data = ('email,first_name\nann@example.org,Ann\nbob@example.org,"Bob\n' + "cy@example.org,Cy\n" * swallowed
            + "dan@example.org,Dan")
    report = upload(data.encode()).json()
    assert report["rejected"][0]["line"] == 3 and "quote" in report["rejected"][0]["reason"]
    assert "ann@example.org" in stored(engine) and "bob@example.org" not in stored(engine)
    assert ("dan@example.org" in stored(engine)) is (swallowed > 2)  # short: dan is inside bob's open cell


def test_rows_with_too_many_or_too_few_cells_and_bad_addresses_are_skipped_by_line(upload, engine):
    data = ("email;first_name;notes\n"
            "ann@example.org;Ann;\n"
            "bob@example.org;Bob\n"
            "cy@example.org;Cy;;VRT\n"
            "dora@example.org;Dora;\"met at the fair\nin Namur\"\n"
            "not-an-address;Eve;\n"
            "\n"
            "fay@example.org;\"Fay\nClaes\";\n"
            "gus@example.org;Gus;;;\n")
    report = upload(data.encode()).json()
    assert [(r["line"], r["email"]) for r in report["rejected"]] == [
        (3, "bob@example.org"), (4, "cy@example.org"), (7, "not-an-address"), (9, "fay@example.org")]
    reasons = [r["reason"] for r in report["rejected"]]
    assert "2 cell(s) but 3 columns" in reasons[0] and "4 cells but 3 columns" in reasons[1]
    assert "not a valid email address" in reasons[2] and "first_name cell runs over several lines" in reasons[3]
    assert stored(engine) == ["ann@example.org", "dora@example.org", "gus@example.org"]  # empty extra cells are fine
    assert contacts.find_contact(engine.db, "dora@example.org")["custom"] == {"notes": "met at the fair\nin Namur"}
    assert (report["imported"], report["rows"]) == (3, 7)


def test_utf16_with_bom_from_excel_unicode_text(upload, engine):
    data = codecs.BOM_UTF16_LE + "email\tfirst_name\r\nzoe@example.org\tZoë\r\n".encode("utf-16-le")
    report = upload(data, kind="text/plain").json()
    assert (report["encoding"], report["delimiter"], report["imported"]) == ("utf-16", "\t", 1)
    assert contacts.find_contact(engine.db, "zoe@example.org")["first_name"] == "Zoë"


def test_windows_1252_text_is_read_and_named_in_the_report(upload, engine):
    report = upload("email;first_name;organisation\r\nleo@example.org;Léon;Ville d’Arlon\r\n".encode("cp1252")).json()
    assert report["encoding"] == "windows-1252"
    assert contacts.find_contact(engine.db, "leo@example.org")["organisation"] == "Ville d’Arlon"


@pytest.mark.parametrize("data", [
    "email\nann@example.org\n".encode("utf-16-le"),  # UTF-16 without its BOM
    b"email;first_name\nann@example.org;\x81\x8d\n",  # bytes Windows-1252 does not define
    codecs.BOM_UTF8 + b"email\nann@example.org;\xff\xfe\n",  # says UTF-8, is not
    codecs.BOM_UTF16_LE + b"e\x00m",  # UTF-16 cut in the middle of a character
    bytes(range(256)) * 8,
])
def test_bytes_that_are_not_readable_text_are_refused_with_how_to_export_utf8(upload, engine, data):
    refused(upload(data), 415, EXPORT_HINT, "LibreOffice")
    assert stored(engine) == []


def test_a_stray_control_character_is_located(upload):
    refused(upload(b"email;first_name\nann@example.org;Ann\nbob@example.org;B\x00b\n"), 415,
            "line 3 holds the control character U+0000", EXPORT_HINT)


@pytest.mark.parametrize("data, kind", [(b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 200, "Excel workbook (.xlsx)"),
                                        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
                                        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "PNG")])
def test_a_file_that_is_not_csv_is_named_for_what_it_is(upload, data, kind):
    refused(upload(data, name="contacts.xlsx"), 415, kind, EXPORT_HINT)


def test_a_typo_in_a_column_name_refuses_the_file_and_suggests_the_name(upload, engine):
    answer = upload(b"email;frist_name;commune\nann@example.org;Ann;Namur\n")
    detail = refused(answer, 422, "'frist_name'", "did you mean 'first_name'?", "line 1", "column 2")
    assert answer.json()["errors"] == [{"loc": "file", "message": detail.removeprefix("file: ")}]
    assert stored(engine) == []
    refused(upload(b"emial;first_name\nann@example.org;Ann\n"), 422, "did you mean 'email'?")


def test_other_columns_are_custom_fields_listed_in_the_report(upload, engine):
    report = upload(b"email;commune;phone\nann@example.org;Namur;081 00 00 00\n").json()
    assert report["custom_columns"] == ["commune", "phone"]
    assert contacts.find_contact(engine.db, "ann@example.org")["custom"] == {"commune": "Namur",
                                                                            "phone": "081 00 00 00"}


@pytest.mark.parametrize("data, words", [
    (b"", ("empty",)), (codecs.BOM_UTF8 + b"\r\n \r\n", ("empty",)),
    (b"email;first_name\r\n", ("only its header row (line 1)",)),
    (b"email;first_name\r\n;;\r\n\r\n", ("only its header row (line 1)",)),
    (b"Dear colleague,\nhere is the press list you asked for.\n", ("no email column",)),
    (b"name;city\nAnne;Namur\n", ("no email column", "found: name, city")),
    (b"email;Email\na@example.org;b@example.org\n", ("named twice",)),
])
def test_a_file_without_contacts_to_import_is_refused(upload, engine, data, words):
    refused(upload(data), 422, *words)
    assert stored(engine) == []


def test_a_file_over_the_row_limit_is_refused_before_anything_is_stored(upload, engine):
    data = b"email\n" + b"".join(b"p%d@example.org\n" % i for i in range(ROW_LIMIT + 1))
    refused(upload(data), 413, f"{ROW_LIMIT + 1:,} rows", f"at most {ROW_LIMIT:,}", "split")
    assert stored(engine) == []


def test_a_file_over_the_size_limit_is_refused(upload):
    refused(upload(b"email\n" + b"x" * UPLOAD_LIMIT), 413, "larger than 20 MB")
