"""CSV import in the UI: upload, the preview of the column mapping (changeable), the import with its progress and
its report (created, updated, skipped with line and reason), audited by counts — and the file's refusals beside
the field."""
from __future__ import annotations

import re
import time

from beffroi_plugins.crm import contacts

from .test_ui_contacts import site  # noqa: F401 - the fixture
from .ui_helpers import token_of

CSV = ("Courriel;Prénom;Nom de famille;Ville;Journal;consent\n"
       "anne.dubois@lesoir.be;Anne;Dubois;Namur;Le Soir;oui\n"
       "not-an-address;Bob;X;Liège;RTBF;non\n"
       "new.person@example.org;Nina;Peeters;Gent;;ja\n").encode()


def upload(browser, data: bytes = CSV, name: str = "press.csv"):
    token = token_of(browser.get("/contacts/import"))
    return browser.post("/contacts/import", data={"csrf": token}, files={"file": (name, data, "text/csv")},
                        follow_redirects=False)


def chosen(page) -> dict[str, str]:
    """The field selected for each column of the preview, by column name."""
    found = {}
    for row in re.findall(r'<th scope="row" id="map-\d+-column">(.*?)</th>(.*?)</tr>', page.text, re.S):
        found[row[0]] = re.search(r'<option value="([^"]*)" selected>', row[1]).group(1)
    return found


def finished(browser, progress: str):
    """The progress page once the import has ended (its status says so; the import runs in a thread)."""
    status = progress.replace("/progress", "/status")
    deadline = time.monotonic() + 60
    while not browser.get(status).json()["finished"]:
        assert time.monotonic() < deadline, "the import did not end"
    return browser.get(progress)


def test_preview_then_import_with_the_mapping_changed_and_a_report_by_line(site):
    browser = site.client()
    sent = upload(browser)
    assert sent.status_code == 303
    preview = browser.get(sent.headers["location"])
    assert preview.status_code == 200 and "press.csv" in preview.text
    assert chosen(preview) == {"Courriel": "email", "Prénom": "first_name", "Nom de famille": "custom",
                               "Ville": "custom", "Journal": "custom", "consent": "consent"}
    assert "anne.dubois@lesoir.be · not-an-address · new.person@example.org" in preview.text  # first values
    assert 'Import 3 rows' in preview.text
    assert contacts.find_contact(site.engine.db, "new.person@example.org") is None  # nothing stored yet
    form = {"csrf": token_of(preview), "map-0": "email", "map-1": "first_name", "map-2": "last_name", "map-3": "",
            "map-4": "organisation", "map-5": "consent", "list": "press", "consent_source": "fair 2026",
            "consent_text": "Send me the city's news."}
    started = browser.post(sent.headers["location"], data=form, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"].endswith("/progress")
    report = finished(browser, started.headers["location"])
    assert "<h1>Import report</h1>" in report.text
    figures = re.findall(r"<li><strong>(\d+)</strong> ([a-z ]+)</li>", report.text)
    assert figures == [("1", "contacts created"), ("1", "contacts updated"), ("1", "rows skipped")]
    skipped = report.text.split('id="skipped-caption"')[1]
    assert re.search(r'<th scope="row" class="number">3</th><td>not-an-address</td><td lang="en">[^<]*not a valid',
                     skipped)
    nina = contacts.get_contact(site.engine.db, contacts.find_contact(site.engine.db, "new.person@example.org")["id"],
                                with_lists=True)
    assert (nina["last_name"], nina["organisation"], nina["consent_source"]) == ("Peeters", None, "fair 2026")
    assert "Ville" not in nina["custom"] and [m["list"] for m in nina["lists"]] == ["press"]
    history = browser.get(f"/contacts/{nina['id']}").text.split('id="consents-caption"')[1]
    assert "Send me the city&#39;s news." in history
    entry = site.engine.audit.page(action="contact.imported")[0]
    assert entry.actor == "editor@example.org"
    assert entry.detail == {"rows": 3, "created": 1, "updated": 1, "skipped": 1}
    assert browser.get(sent.headers["location"]).status_code == 404  # the upload is gone once imported


def test_a_mapping_without_email_or_with_a_field_twice_is_refused_beside_the_column(site):
    browser = site.client()
    where = upload(browser).headers["location"]
    token = token_of(browser.get(where))
    none = browser.post(where, data={"csrf": token, "map-0": "custom"})
    assert none.status_code == 400
    assert 'href="#map-0">Choose the column that holds the e-mail addresses.' in none.text
    assert chosen(none)["Courriel"] == "custom"  # what was chosen stays chosen
    twice = browser.post(where, data={"csrf": token, "map-1": "last_name", "map-2": "last_name"})
    assert 'href="#map-2">Two columns go to “Last name”: choose one column for each field.' in twice.text
    assert 'aria-describedby="map-2-error" aria-invalid="true"' in twice.text
    bad_list = browser.post(where, data={"csrf": token, "list": "Not a list!"})
    assert bad_list.status_code == 400 and 'href="#list">A list name has lowercase letters' in bad_list.text
    assert contacts.find_contact(site.engine.db, "new.person@example.org") is None


def test_a_file_that_cannot_be_imported_is_refused_beside_the_field_in_the_readers_language(site):
    browser = site.client(language="fr")
    for data, expected in ((b"PK\x03\x04rest of a workbook", "Ce fichier ne peut pas être importé : this is an Excel"),
                           (b"email\n", "Ce fichier ne peut pas être importé : the file has only its header row"),
                           (b"", "Ce fichier ne peut pas être importé : the file is empty")):
        page = upload(browser, data)
        assert page.status_code == 400, data
        assert expected in page.text and 'aria-describedby="file-hint file-error"' in page.text
    token = token_of(browser.get("/contacts/import"))
    none = browser.post("/contacts/import", data={"csrf": token}, files={"other": ("x", b"", "text/plain")})
    assert none.status_code == 400 and "Choisissez un fichier CSV à importer." in none.text


def test_the_progress_page_shows_the_lines_done_and_works_without_script(site):
    rows = "".join(f"reader{n}@example.org,Reader {n}\n" for n in range(3000))
    browser = site.client()
    where = upload(browser, f"email,first_name\n{rows}".encode()).headers["location"]
    started = browser.post(where, data={"csrf": token_of(browser.get(where))}, follow_redirects=False)
    progress = started.headers["location"]
    page = browser.get(progress)
    if "<h1>Import in progress</h1>" in page.text:  # still running: the bar, the count, a link to look again
        assert re.search(r'<progress id="import-bar" max="3000" value="\d+">', page.text)
        assert f'<a href="{progress}">Look again</a>' in page.text and 'src="/static/contact-import.js"' in page.text
    state = browser.get(progress.replace("/progress", "/status")).json()
    assert state["total"] == 3000 and 0 < state["done"] <= 3000  # the file passed its checks: a batch is stored
    report = finished(browser, progress)
    assert re.findall(r"<li><strong>([\d,]+)</strong>", report.text) == ["3,000", "0", "0"]
    assert browser.get("/static/contact-import.js").status_code == 200


def test_an_upload_and_an_import_are_only_their_uploaders(site):
    where = upload(site.client()).headers["location"]
    other = site.client("admin@example.org")
    assert other.get(where).status_code == 404
    assert other.post(where, data={"csrf": token_of(other.get("/contacts"))}).status_code == 404
