"""The `folder` connection type and Beffroi's own documents folder (the embedded default): the trigger on time of
change and size, the actions, and a root and paths that never lead out of the allowed folders."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from beffroi.scheduler import Scheduler

from .helpers import finished, recipe

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def shared(tmp_path):
    folder = tmp_path / "partage"
    (folder / "Communiqués").mkdir(parents=True)
    return folder


@pytest.fixture
def engine(make_engine, shared):
    engine = make_engine(allowed_folders=[str(shared)])
    engine.connections.save("partage", "folder", {"root": str(shared)})
    return engine


def write(path, data: bytes, *, stamp: float) -> None:
    path.write_bytes(data)
    os.utime(path, (stamp, stamp))


def step(engine, uses: str, connection: str | None = "partage", **options) -> dict:
    data = {"id": "s", "uses": uses, "with": options, **({"connection": connection} if connection else {})}
    return engine.run_recipe(engine.validate(recipe(data)), {})["steps"][0]


def test_a_new_file_fires_once_its_time_of_change_and_size_hold_still(engine, shared):
    engine.save_recipe({"name": "press", "trigger": {"uses": "ecm.document_added", "connection": "partage",
                                                     "every": "5m", "with": {"folder": "Communiqués",
                                                                             "pattern": "*.odt"}},
                        "steps": [{"id": "keep", "uses": "data.set", "with": {"path": "{{ trigger.path }}"}}]})
    scheduler = Scheduler(engine)
    assert scheduler.run_once(T0) == []
    target = shared / "Communiqués" / "avis.odt"
    write(target, b"part", stamp=1_800_000_000)
    write(shared / "Communiqués" / ".~lock.avis.odt#", b"LibreOffice's lock", stamp=1_800_000_000)
    assert scheduler.run_once(T0 + timedelta(minutes=5)) == []
    write(target, b"part two", stamp=1_800_000_005)  # still being written
    assert scheduler.run_once(T0 + timedelta(minutes=10)) == []
    [run] = finished(engine, scheduler.run_once(T0 + timedelta(minutes=15)))
    event = run["trigger"]
    assert event["size"] == 8 and event["content_type"] == "application/vnd.oasis.opendocument.text"
    assert event["document"] == {"connection": "partage", "path": "Communiqués/avis.odt",
                                 "etag": f"{1_800_000_005 * 10**9:x}-8", "sha256": None}
    assert event["modified_at"] == datetime.fromtimestamp(1_800_000_005, UTC).isoformat()
    assert scheduler.run_once(T0 + timedelta(minutes=20)) == []


def test_the_built_in_documents_folder_needs_no_connection(engine):
    uploaded = step(engine, "ecm.upload", connection=None, path="Brouillons/note.md", content="# Note")
    assert uploaded["status"] == "succeeded", uploaded
    assert (engine.settings.data_dir / "documents" / "Brouillons" / "note.md").read_text() == "# Note"
    assert uploaded["output"]["document"]["connection"] is None
    moved = step(engine, "ecm.move", connection=None, document=uploaded["output"]["document"], to_folder="Publié")
    assert moved["status"] == "succeeded", moved
    assert (engine.settings.data_dir / "documents" / "Publié" / "note.md").exists()
    got = step(engine, "ecm.get", connection=None, path="Publié/note.md")
    assert got["output"]["size"] == 6 and got["output"]["content_type"] == "text/markdown"


def test_upload_and_move_never_replace_by_surprise(engine, shared):
    assert step(engine, "ecm.upload", path="Communiqués/a.md", content="one")["status"] == "succeeded"
    refused = step(engine, "ecm.upload", path="Communiqués/a.md", content="two")
    assert refused["error"] == "a document 'Communiqués/a.md' already exists (choose overwrite to replace it)"
    assert step(engine, "ecm.upload", path="Communiqués/a.md", content="two", overwrite=True)["status"] == "succeeded"
    assert (shared / "Communiqués" / "a.md").read_text() == "two"
    assert [p.name for p in (shared / "Communiqués").iterdir()] == ["a.md"]  # no temporary file left

    (shared / "Publié").mkdir()
    (shared / "Publié" / "a.md").write_text("published")
    refused = step(engine, "ecm.move", path="Communiqués/a.md", to_folder="Publié")
    assert refused["error"] == "a document 'Publié/a.md' already exists (choose overwrite to replace it)"
    assert (shared / "Communiqués" / "a.md").read_text() == "two"
    assert step(engine, "ecm.move", path="Communiqués/a.md", to_folder="Publié", overwrite=True)["status"] == \
        "succeeded"
    assert (shared / "Publié" / "a.md").read_text() == "two" and not (shared / "Communiqués" / "a.md").exists()


def test_paths_and_links_never_lead_out_of_the_root(engine, shared, tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    (shared / "lien.txt").symlink_to(tmp_path / "secret.txt")
    assert step(engine, "ecm.get", path="../secret.txt")["error"] == \
        "the path '../secret.txt' leaves the connection's folder (.. is not allowed)"
    assert step(engine, "ecm.get", path="lien.txt")["error"] == \
        f"the path 'lien.txt' leads out of the folder {shared}"
    assert step(engine, "ecm.upload", path="lien.txt", content="x", overwrite=True)["error"] == \
        f"the path 'lien.txt' leads out of the folder {shared}"
    assert (tmp_path / "secret.txt").read_text() == "secret"


def test_a_folder_outside_the_allowed_ones_is_refused(engine, tmp_path):
    engine.connections.save("ailleurs", "folder", {"root": "/etc"})
    tested = engine.connections.test("ailleurs", engine.http)
    assert tested["ok"] is False and tested["message"].startswith("the folder /etc is not one Beffroi may use")
    assert "BEFFROI_ALLOWED_FOLDERS" in tested["message"]
    assert step(engine, "ecm.get", connection="ailleurs", path="passwd")["error"] == tested["message"]


def test_the_connection_test_counts_the_files(engine, shared):
    (shared / "a.pdf").write_bytes(b"%PDF")
    assert engine.connections.test("partage", engine.http) == {"ok": True,
                                                               "message": f"the folder {shared} holds 1 file(s)"}
    engine.connections.save("absent", "folder", {"root": str(shared / "absent")})
    assert engine.connections.test("absent", engine.http) == {
        "ok": False, "message": f"the folder {shared / 'absent'} does not exist (or is not a folder)"}


def test_the_trigger_watches_the_built_in_folder_when_given_no_connection(engine):
    engine.save_recipe({"name": "drop", "trigger": {"uses": "ecm.document_added", "every": "5m",
                                                    "with": {"folder": "Dépôt"}},
                        "steps": [{"id": "keep", "uses": "data.set", "with": {"name": "{{ trigger.name }}"}}]})
    scheduler = Scheduler(engine)
    assert scheduler.run_once(T0) == []
    folder = engine.settings.data_dir / "documents" / "Dépôt"
    assert folder.is_dir()  # made by the first poll, ready for documents to be dropped in
    write(folder / "note.pdf", b"%PDF", stamp=1_800_000_000)
    assert scheduler.run_once(T0 + timedelta(minutes=5)) == []
    [run] = finished(engine, scheduler.run_once(T0 + timedelta(minutes=10)))
    assert run["trigger"]["document"]["connection"] is None and run["trigger"]["path"] == "Dépôt/note.pdf"
