"""`ecm.document_added` / `ecm.document_changed` on a real WebDAV server (wsgidav on 127.0.0.1), via the scheduler:
seeding, files still being written, a file replaced under the same name, locks, authors, a wrong app password."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from beffroi.scheduler import Scheduler
from beffroi.store.models import TriggerStateRow

from .helpers import finished
from .servers.webdav import FOLDER, PASSWORD, USER, connect, dav  # noqa: F401

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
@pytest.fixture
def engine(make_engine, database_url, dav):
    engine = make_engine(database_url, allowed_networks=["127.0.0.0/8"], http_timeout=5)
    connect(engine, dav)
    return engine


def watch(name: str, uses: str = "ecm.document_added", connection: str = "docs", **options) -> dict:
    return {"name": name, "trigger": {"uses": uses, "connection": connection, "every": "5m",
                                      "with": {"folder": FOLDER, "pattern": "*.docx, *.md", **options}},
            "steps": [{"id": "keep", "uses": "data.set", "with": {"name": "{{ trigger.name }}",
                                                                 "size": "{{ trigger.size }}"}}]}


def put(dav, name: str, data: bytes, **headers) -> httpx.Response:
    """A colleague's upload, straight to the server."""
    return httpx.put(f"{dav.url}{FOLDER}/{name}", content=data, auth=(USER, PASSWORD), headers=headers)


def on_disk(dav, name: str, data: bytes, *, age: int = 0) -> None:
    """A file as the server's disk holds it, with its time of change `age` seconds before now."""
    path = dav.root / FOLDER / name
    path.write_bytes(data)
    stamp = datetime.now(UTC).timestamp() - age
    os.utime(path, (stamp, stamp))


class Polls:
    """The scheduler's passes, five minutes apart, each returning the trigger's events of the runs it started."""

    def __init__(self, engine):
        self.engine, self.scheduler, self.at = engine, Scheduler(engine), T0

    def __call__(self) -> dict[str, list[dict]]:
        started = self.scheduler.run_once(self.at)
        self.at += timedelta(minutes=5)
        runs: dict[str, list[dict]] = {}
        for run in finished(self.engine, started):
            assert run["status"] == "succeeded", run
            runs.setdefault(run["recipe"], []).append(run["trigger"])
        return runs


def last_error(engine, name: str) -> str | None:
    with engine.db.session() as s:
        return s.get(TriggerStateRow, name).last_error


def test_the_first_poll_seeds_and_a_new_document_fires_once_when_it_has_stayed_the_same(engine, dav):
    put(dav, "ancien.docx", b"old")
    engine.save_recipe(watch("press"))
    poll = Polls(engine)
    assert poll() == {}  # the documents already there start nothing

    assert put(dav, "Marché de Noël.docx", b"PK fake docx").status_code == 201
    put(dav, "notes.txt", b"not watched")
    put(dav, "~$Marché de Noël.docx", b"Word's lock file")
    assert poll() == {}  # seen once: it may still be being written
    [event] = poll()["press"]
    listed = httpx.request("PROPFIND", f"{dav.url}{FOLDER}/Marché de Noël.docx", auth=(USER, PASSWORD),
                           headers={"Depth": "0"}).text
    etag = listed.split("<D:getetag>")[1].split("<")[0]
    path = f"{FOLDER}/Marché de Noël.docx"
    assert event == {
        "path": path, "name": "Marché de Noël.docx", "folder": FOLDER, "size": 12,
        "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "modified_at": event["modified_at"], "author": None,
        "document": {"connection": "docs", "path": path, "etag": etag, "sha256": None}}
    assert datetime.fromisoformat(event["modified_at"]).tzinfo is not None
    assert poll() == {} and poll() == {}  # never again
    propfinds = [r for r in dav.requests if r["method"] == "PROPFIND" and r["path"] == f"/dav/{FOLDER}/"]
    assert propfinds and all(r["headers"]["depth"] == "1" for r in propfinds)


def test_an_upload_racing_a_poll_is_picked_up_once_complete(engine, dav):
    engine.save_recipe(watch("press"))
    poll = Polls(engine)
    assert poll() == {}
    on_disk(dav, "budget.md", b"# Budget 2027\n", age=30)  # the upload has begun
    assert poll() == {}
    on_disk(dav, "budget.md", b"# Budget 2027\n\nLe conseil a vote", age=20)  # still growing at the next poll
    assert poll() == {}
    on_disk(dav, "budget.md", b"# Budget 2027\n\nLe conseil a vote le budget.\n", age=10)
    assert poll() == {}
    [event] = poll()["press"]  # the same at two polls in a row: complete
    assert (event["name"], event["size"]) == ("budget.md", 44)
    assert poll() == {}


def test_a_document_replaced_under_the_same_name_fires_changed_not_added(engine, dav):
    put(dav, "agenda.md", b"# Agenda\n")
    engine.save_recipe(watch("added"))
    engine.save_recipe(watch("changed", uses="ecm.document_changed"))
    poll = Polls(engine)
    assert poll() == {}
    assert poll() == {}  # nothing moved

    assert put(dav, "agenda.md", b"# Agenda\n\nCorrected: the 12th.\n").status_code == 204
    assert poll() == {}
    runs = poll()
    assert list(runs) == ["changed"] and [e["size"] for e in runs["changed"]] == [31]
    assert poll() == {}

    put(dav, "nouveau.md", b"# New\n")
    poll()
    runs = poll()
    assert list(runs) == ["added"] and [e["name"] for e in runs["added"]] == ["nouveau.md"]


def test_a_removed_then_added_again_document_is_new_again(engine, dav):
    put(dav, "a.md", b"# A\n")
    engine.save_recipe(watch("press"))
    poll = Polls(engine)
    poll()
    assert httpx.delete(f"{dav.url}{FOLDER}/a.md", auth=(USER, PASSWORD)).status_code == 204
    assert poll() == {}
    put(dav, "a.md", b"# A again\n")
    poll()
    assert [e["name"] for e in poll()["press"]] == ["a.md"]


def test_a_locked_document_waits_for_its_unlock(engine, dav):
    engine.save_recipe(watch("press"))
    poll = Polls(engine)
    poll()
    put(dav, "lettre.md", b"# Lettre\n")
    lock = httpx.request("LOCK", f"{dav.url}{FOLDER}/lettre.md", auth=(USER, PASSWORD),
                         headers={"Timeout": "Second-600"},
                         content=b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
                                 b'</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>Anne</D:owner>'
                                 b'</D:lockinfo>')
    assert lock.status_code == 200
    assert poll() == {} and poll() == {}  # unchanged, but an editor holds it
    token = lock.headers["Lock-Token"]
    assert httpx.request("UNLOCK", f"{dav.url}{FOLDER}/lettre.md", auth=(USER, PASSWORD),
                         headers={"Lock-Token": token}).status_code == 204
    assert [e["name"] for e in poll()["press"]] == ["lettre.md"]


def test_the_author_is_the_one_the_server_names(engine, dav):
    engine.save_recipe(watch("press"))
    poll = Polls(engine)
    poll()
    put(dav, "signé.md", b"# Signed\n")
    patch = httpx.request("PROPPATCH", f"{dav.url}{FOLDER}/signé.md", auth=(USER, PASSWORD),
                          content=b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" '
                                  b'xmlns:oc="http://owncloud.org/ns"><D:set><D:prop>'
                                  b'<oc:owner-display-name>Anne Lambert</oc:owner-display-name></D:prop></D:set>'
                                  b'</D:propertyupdate>')
    assert patch.status_code == 207 and "200 OK" in patch.text  # as Nextcloud and ownCloud name the owner
    poll()
    [event] = poll()["press"]
    assert event["author"] == "Anne Lambert"


def test_a_wrong_app_password_is_said_plainly_and_never_shown(engine, dav):
    connect(engine, dav, "wrong-secret-zz9")
    engine.save_recipe(watch("press"))
    Polls(engine)()
    error = last_error(engine, "press")
    assert "refused the user 'comms' and its app password (401)" in error and "list the folder 'Communiqués'" in error
    assert "wrong-secret-zz9" not in error
    tested = engine.connections.test("docs", engine.http)
    assert tested["ok"] is False and "401" in tested["message"] and "wrong-secret-zz9" not in tested["message"]


def test_the_connection_test_signs_in(engine, dav):
    assert engine.connections.test("docs", engine.http) == {"ok": True, "message": f"signed in to "
                                                                                  f"{dav.url.split('/')[2]} as comms"}


def test_a_missing_folder_is_reported_on_the_trigger(engine, dav):
    engine.save_recipe(watch("press", folder="Nulle part"))
    Polls(engine)()
    assert "list the folder 'Nulle part'" in last_error(engine, "press") and "404" in last_error(engine, "press")


def test_a_webdav_server_out_of_the_allowed_networks_is_refused(make_engine, dav):
    engine = make_engine()  # no BEFFROI_ALLOWED_NETWORKS: loopback is off limits
    connect(engine, dav)
    tested = engine.connections.test("docs", engine.http)
    assert tested["ok"] is False and "at an address Beffroi may not reach" in tested["message"]
    assert dav.requests == []


def test_a_press_release_dropped_in_the_folder_is_read_then_moved_to_publie(engine, dav):
    engine.save_recipe({
        "name": "press", "trigger": {"uses": "ecm.document_added", "connection": "docs", "every": "5m",
                                     "with": {"folder": FOLDER, "pattern": "*.md"}},
        "steps": [{"id": "text", "uses": "ecm.extract_text", "connection": "docs",
                   "with": {"document": "{{ trigger.document }}"}},
                  {"id": "publish", "uses": "data.set", "with": {"title": "{{ steps.text.title }}",
                                                                 "html": "{{ steps.text.html }}"}},
                  {"id": "file", "uses": "ecm.move", "connection": "docs",
                   "with": {"document": "{{ steps.text.document }}", "to_folder": "Publié"}}]})
    poll = Polls(engine)
    poll()
    put(dav, "marche.md", "# Marché de Noël\n\nDès **samedi**.\n".encode())
    poll()
    [event] = poll()["press"]
    [run] = engine.runs.list()[0]
    detail = engine.runs.detail(run["id"])
    assert [s["status"] for s in detail["steps"]] == ["succeeded"] * 3
    assert detail["steps"][1]["output"] == {"title": "Marché de Noël", "html": "<p>Dès <strong>samedi</strong>.</p>"}
    assert detail["steps"][2]["output"]["path"] == "Publié/marche.md"
    assert (dav.root / "Publié" / "marche.md").exists() and not (dav.root / FOLDER / "marche.md").exists()
    assert event["document"]["path"] == f"{FOLDER}/marche.md"
    assert poll() == {}
