"""The contact base's HTTP API in-process: roles, contacts CRUD, search and pagination, lists, CSV import."""
from __future__ import annotations

import codecs

import pytest
from fastapi.testclient import TestClient

from beffroi.api import create_app
from beffroi_plugins.crm import contacts
from beffroi_plugins.crm.csv_import import import_csv


@pytest.fixture
def client(engine):
    app = create_app(engine)
    tokens = {role: engine.tokens.create(f"{role}-token", role)[1] for role in ("viewer", "editor")}

    def make(role="editor"):
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        return TestClient(app, base_url="http://beffroi.test", headers=headers, raise_server_exceptions=False)

    return make


def test_roles_viewers_see_list_counts_editors_read_and_write_contacts(client):
    viewer, editor, anonymous = client("viewer"), client("editor"), client(None)
    assert anonymous.get("/api/crm/contacts").status_code == 401
    assert viewer.get("/api/crm/contacts").status_code == 403
    assert editor.get("/api/crm/contacts").json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    denied = viewer.post("/api/crm/contacts", json={"email": "a@example.org"})
    assert denied.status_code == 403 and "editor role" in denied.json()["detail"]
    assert viewer.post("/api/crm/contacts/import", content=b"email\na@example.org\n",
                       headers={"Content-Type": "text/csv"}).status_code == 403
    assert viewer.post("/api/crm/lists", json={"name": "press"}).status_code == 403
    assert editor.post("/api/crm/contacts", json={"email": "a@example.org"}).status_code == 201
    assert viewer.get("/api/crm/lists").status_code == 200


def test_contact_crud(client):
    api = client()
    created = api.post("/api/crm/contacts", json={"email": " Paul@Example.org", "first_name": "Paul",
                                                  "tags": ["presse"], "consent": True, "custom": {"city": "Liège"}})
    assert created.status_code == 201, created.text
    body = created.json()
    contact_id = body["id"]
    assert body["email"] == "paul@example.org" and body["consent_source"] == "API" and body["consent_at"]
    duplicate = api.post("/api/crm/contacts", json={"email": "PAUL@example.org"})
    assert duplicate.status_code == 409 and "paul@example.org" in duplicate.json()["detail"]

    bad = api.post("/api/crm/contacts", json={"email": "paul(at)example.org", "first_name": "P"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == "email"
    assert "not a valid email address" in bad.json()["detail"]
    assert api.post("/api/crm/contacts", json={"email": "x@example.org", "shoe_size": 42}).status_code == 422

    shown = api.get(f"/api/crm/contacts/{contact_id}").json()
    assert shown["first_name"] == "Paul" and shown["lists"] == []
    patched = api.patch(f"/api/crm/contacts/{contact_id}", json={"organisation": "RTBF", "tags": ["tv"]})
    assert patched.status_code == 200
    assert (patched.json()["organisation"], patched.json()["tags"], patched.json()["first_name"]) == ("RTBF", ["tv"],
                                                                                                      "Paul")
    replaced = api.put(f"/api/crm/contacts/{contact_id}", json={"email": "paul.d@example.org", "consent": True})
    assert replaced.status_code == 200
    assert replaced.json()["email"] == "paul.d@example.org" and replaced.json()["first_name"] is None
    assert replaced.json()["consent_at"] == body["consent_at"]  # consent unchanged: its proof is kept
    api.post("/api/crm/contacts", json={"email": "other@example.org"})
    taken = api.patch(f"/api/crm/contacts/{contact_id}", json={"email": "other@example.org"})
    assert taken.status_code == 409
    assert api.patch(f"/api/crm/contacts/{contact_id}", json={"email": "nope"}).status_code == 422
    assert api.patch("/api/crm/contacts/unknown", json={"first_name": "X"}).status_code == 404

    assert api.delete(f"/api/crm/contacts/{contact_id}").status_code == 204
    missing = api.get(f"/api/crm/contacts/{contact_id}")
    assert missing.status_code == 404 and contact_id in missing.json()["detail"]
    assert api.delete(f"/api/crm/contacts/{contact_id}").status_code == 404


def test_search_filters_and_pagination(client, engine):
    api = client("editor")
    people = [("anne.dubois@lesoir.be", "Anne", "Dubois", "Le Soir", ["presse"], True),
              ("bert.peeters@vrt.be", "Bert", "Peeters", "VRT", ["presse", "tv"], True),
              ("chloe@asbl-namur.be", "Chloé", "Lambert", "ASBL Namur 100%", ["asso"], False),
              ("dan@example.org", "Dan", "Dubois", None, [], True)]
    for email, first, last, org, tags, consent in people:
        contacts.upsert_contact(engine.db, email, first_name=first, last_name=last, organisation=org, tags=tags,
                                consent=consent)
    contacts.add_to_list(engine.db, "anne.dubois@lesoir.be", "press")
    contacts.add_to_list(engine.db, "bert.peeters@vrt.be", "press")

    def emails(**params):
        answer = api.get("/api/crm/contacts", params=params).json()
        return [c["email"] for c in answer["items"]], answer["total"]

    assert emails(q="dubois") == (["anne.dubois@lesoir.be", "dan@example.org"], 2)
    assert emails(q="DUBOIS soir") == (["anne.dubois@lesoir.be"], 1)  # every word, any field, any case
    assert emails(q="vrt") == (["bert.peeters@vrt.be"], 1)
    assert emails(q="100%") == (["chloe@asbl-namur.be"], 1)  # % is text, not a wildcard
    assert emails(q="_") == ([], 0)
    assert emails(tag="presse") == (["anne.dubois@lesoir.be", "bert.peeters@vrt.be"], 2)
    assert emails(tag="tv") == (["bert.peeters@vrt.be"], 1)
    assert emails(tag="pres") == ([], 0)  # whole tags only
    assert emails(consent="false") == (["chloe@asbl-namur.be"], 1)
    assert emails(list="press", q="bert") == (["bert.peeters@vrt.be"], 1)
    assert emails(limit=2, offset=1) == (["bert.peeters@vrt.be", "chloe@asbl-namur.be"], 4)
    assert emails(limit=2, offset=4) == ([], 4)
    assert api.get("/api/crm/contacts", params={"limit": 0}).status_code == 422


def test_lists_and_members(client, engine):
    api = client()
    made = api.post("/api/crm/lists", json={"name": "Press", "title": "Journalists"})
    assert made.status_code == 201 and made.json()["name"] == "press"
    assert api.post("/api/crm/lists", json={"name": "press"}).status_code == 409
    bad = api.post("/api/crm/lists", json={"name": "press list!"})
    assert bad.status_code == 422 and "list name" in bad.json()["detail"]
    for email, consent in [("a@example.org", True), ("b@example.org", False)]:
        api.post("/api/crm/contacts", json={"email": email, "consent": consent})
        added = api.post("/api/crm/lists/press/members", json={"email": email})
        assert added.status_code == 200 and added.json()["status"] == "added"
    assert api.post("/api/crm/lists/press/members", json={"email": "a@example.org"}).json()["status"] == "already"
    ghost = api.post("/api/crm/lists/press/members", json={"email": "ghost@example.org"})
    assert ghost.status_code == 404
    assert api.post("/api/crm/lists/agenda/members", json={"email": "a@example.org"}).status_code == 200  # new list
    counts = {lst["name"]: lst["members"] for lst in client("viewer").get("/api/crm/lists").json()}
    assert counts == {"agenda": {"subscribed": 1, "unsubscribed": 0, "recipients": 1},
                      "press": {"subscribed": 2, "unsubscribed": 0, "recipients": 1}}
    contact = contacts.find_contact(engine.db, "a@example.org")
    detail = api.get(f"/api/crm/contacts/{contact['id']}").json()
    assert [(m["list"], m["subscribed"], m["source"]) for m in detail["lists"]] == [("agenda", True, "API"),
                                                                                  ("press", True, "API")]
    removed = api.delete("/api/crm/lists/press/members", params={"email": "a@example.org"})
    assert removed.status_code == 200 and removed.json()["removed"] is True
    again = api.request("DELETE", "/api/crm/lists/press/members", json={"email": "a@example.org"})
    assert again.status_code == 200 and again.json()["removed"] is False
    assert api.delete("/api/crm/lists/press/members").status_code == 422


# -- CSV import -------------------------------------------------------------------------------
EXCEL_BE = ("email;first_name;last_name;organisation;tags;consent;consent_source;list;commune\r\n"
            "anne@lesoir.be;Anne;Dubois;Le Soir;presse|quotidien;oui;salon 2025;press;Namur\r\n"
            "not-an-email;Bob;;;;yes;;press;\r\n"
            ";Nobody;;;;yes;;;\r\n"
            "carl@vrt.be;Carl;Janssens;VRT;presse;maybe;;press;Gent\r\n"
            ";;;;;;;;\r\n"
            "\"dora@example.org\";\"Dora; the explorer\";;;;0;;;\r\n"
            "Existing@Example.org;;;;nouveau;1;;press;Liège\r\n")


def test_csv_import_report_with_bom_semicolons_and_bad_rows(client, engine):
    contacts.upsert_contact(engine.db, "existing@example.org", first_name="Eve", tags=["ancien"])
    data = codecs.BOM_UTF8 + EXCEL_BE.encode("utf-8")
    answer = client().post("/api/crm/contacts/import", files={"file": ("export.csv", data, "text/csv")})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["imported"], report["updated"], report["delimiter"], report["encoding"]) == (2, 1, ";", "utf-8")
    assert [(r["line"], r["email"]) for r in report["rejected"]] == [(3, "not-an-email"), (4, None), (5, "carl@vrt.be")]
    reasons = [r["reason"] for r in report["rejected"]]
    assert "not a valid email address" in reasons[0] and reasons[1] == "missing email" and "'maybe'" in reasons[2]

    anne = contacts.find_contact(engine.db, "anne@lesoir.be")
    assert (anne["first_name"], anne["last_name"], anne["organisation"]) == ("Anne", "Dubois", "Le Soir")
    assert anne["tags"] == ["presse", "quotidien"] and anne["custom"] == {"commune": "Namur"}
    assert anne["consent"] is True and anne["consent_source"] == "salon 2025"
    dora = contacts.find_contact(engine.db, "dora@example.org")
    assert dora["first_name"] == "Dora; the explorer" and dora["consent"] is False
    eve = contacts.find_contact(engine.db, "existing@example.org")
    assert eve["first_name"] == "Eve" and eve["tags"] == ["ancien", "nouveau"]  # blank cells erase nothing
    assert eve["consent_source"] == "CSV import export.csv" and eve["custom"] == {"commune": "Liège"}
    assert [r["email"] for r in contacts.recipients(engine.db, "press")] == ["anne@lesoir.be", "existing@example.org"]
    assert contacts.find_contact(engine.db, "carl@vrt.be") is None


def test_csv_import_as_a_raw_body_with_commas_and_a_list_for_every_row(client, engine):
    text = "E-mail,Prénom,Consent\nx@example.org,Xavier,true\ny@example.org,Yves,false\n"
    answer = client().post("/api/crm/contacts/import?list=agenda&consent_source=paper+form", content=text.encode(),
                           headers={"Content-Type": "text/csv; charset=utf-8"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["imported"] == 2 and answer.json()["delimiter"] == ","
    assert contacts.find_contact(engine.db, "x@example.org")["consent_source"] == "paper form"
    assert contacts.find_contact(engine.db, "y@example.org")["first_name"] == "Yves"
    assert [r["email"] for r in contacts.recipients(engine.db, "agenda")] == ["x@example.org"]


def test_csv_import_of_a_windows_1252_file_with_form_fields(client, engine):
    data = "email;first_name\r\nzoe@example.org;Zoé\r\n".encode("cp1252")
    answer = client().post("/api/crm/contacts/import", files={"file": ("z.csv", data, "application/vnd.ms-excel")},
                           data={"list": "press"})
    assert answer.json()["encoding"] == "windows-1252" and answer.json()["imported"] == 1
    assert contacts.find_contact(engine.db, "zoe@example.org")["first_name"] == "Zoé"
    assert contacts.search_contacts(engine.db, list_name="press")[1] == 1


def test_csv_import_refuses_files_it_cannot_read(client):
    api = client()
    no_email = api.post("/api/crm/contacts/import", content=b"name;city\nAnne;Namur\n",
                        headers={"Content-Type": "text/csv"})
    assert no_email.status_code == 422 and "no email column" in no_email.json()["detail"]
    empty = api.post("/api/crm/contacts/import", content=b"", headers={"Content-Type": "text/csv"})
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    no_file = api.post("/api/crm/contacts/import", data={"list": "press"}, files={"other": (None, "x")})
    assert no_file.status_code == 422 and "file" in no_file.json()["detail"]
    json_body = api.post("/api/crm/contacts/import", json={"email": "a@example.org"})
    assert json_body.status_code == 415


def test_a_row_refused_while_storing_is_rejected_alone(engine):
    contacts.upsert_contact(engine.db, "full@example.org", tags=[f"t{i}" for i in range(99)])
    rows = "".join(f"r{i}@example.org;x\n" for i in range(3))
    report = import_csv(engine.db, f"email;tags\n{rows}full@example.org;a|b\nlast@example.org;y\n".encode())
    assert (report["imported"], report["updated"]) == (4, 0)
    assert report["rejected"] == [{"line": 5, "email": "full@example.org", "reason": "a contact has at most 100 tags"}]
    assert contacts.find_contact(engine.db, "last@example.org")["tags"] == ["y"]
    assert len(contacts.find_contact(engine.db, "full@example.org")["tags"]) == 99
