"""`ecm.get`, `ecm.upload` and `ecm.move` on a real WebDAV server (wsgidav on 127.0.0.1): what is sent, size caps,
exclusive writes, folders created, a retried step that never acts twice, and readable errors."""
from __future__ import annotations

import hashlib

import pytest

from beffroi import ActionContext, ActionError, record_delivery

from .helpers import recipe
from .servers.webdav import FOLDER, PASSWORD, USER, connect, dav  # noqa: F401


@pytest.fixture
def engine(make_engine, dav):
    engine = make_engine(allowed_networks=["127.0.0.0/8"], http_timeout=5)
    connect(engine, dav)
    return engine


def step(engine, uses: str, event: dict | None = None, *, dry_run: bool = False, **options) -> dict:
    """Run one step of `uses` on the `docs` connection; the step's record."""
    run = engine.run_recipe(engine.validate(recipe({"id": "s", "uses": uses, "connection": "docs", "with": options})),
                            event or {}, dry_run=dry_run)
    return run["steps"][0]


def store(dav, path: str, data: bytes) -> None:
    target = dav.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def again(engine, uses: str, key: str, **options):
    """The step's action called again with the same idempotency key: a retried or resumed attempt."""
    spec = engine.registry.actions[uses]
    ctx = ActionContext(run_id=key.split(":")[0], step_id="s", idempotency_key=key, recipe="r", http=engine.http,
                        connections=engine.connections.resolve(["docs"], "ecm"), **engine.runner.context)
    return spec.run(spec.input_model.model_validate(options), ctx)


def test_get_streams_the_document_and_keeps_only_its_handle_size_and_hash(engine, dav):
    data = b"%PDF-1.4 " + bytes(range(256)) * 40
    store(dav, f"{FOLDER}/rapport.pdf", data)
    event = {"document": {"connection": "docs", "path": f"{FOLDER}/rapport.pdf", "etag": "seen"}}
    got = step(engine, "ecm.get", event, document="{{ trigger.document }}")
    assert got["status"] == "succeeded", got
    sha = hashlib.sha256(data).hexdigest()
    output = got["output"]
    assert output["size"] == len(data) and output["sha256"] == sha and output["name"] == "rapport.pdf"
    assert output["content_type"] == "application/pdf"
    assert output["document"]["sha256"] == sha and output["document"]["etag"] not in (None, "seen")
    assert "PDF-1.4" not in str(got)  # the bytes are in no record

    dry = step(engine, "ecm.get", event, dry_run=True, document="{{ trigger.document }}")
    assert dry["output"]["would_get"] == {"connection": "docs", "path": f"{FOLDER}/rapport.pdf", "max_bytes": 20971520}
    assert dry["output"]["size"] == 0 and [r["method"] for r in dav.requests].count("GET") == 1


def test_a_document_over_the_size_cap_is_refused_before_it_is_read(engine, dav):
    store(dav, f"{FOLDER}/gros.pdf", b"x" * 5000)
    failed = step(engine, "ecm.get", path=f"{FOLDER}/gros.pdf", max_bytes=1000)
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["error"] == f"the document '{FOLDER}/gros.pdf' on {dav.url.split('/')[2]} is larger than the 1000 " \
                              "bytes allowed"


def test_a_missing_document_names_its_path_and_the_servers_answer(engine, dav):
    failed = step(engine, "ecm.get", path=f"{FOLDER}/absent.docx")
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["error"].startswith(f"could not read the document '{FOLDER}/absent.docx' on 127.0.0.1:")
    assert "the server answered 404 Not Found" in failed["error"]


def test_a_handle_is_read_through_its_own_connection(engine, dav):
    event = {"document": {"connection": "other", "path": f"{FOLDER}/a.md"}}
    failed = step(engine, "ecm.get", event, document="{{ trigger.document }}")
    assert failed["error"] == (f"ecm.get: the document '{FOLDER}/a.md' is on the connection 'other', the step uses "
                               "connection 'docs'; give the step the connection 'other'")


def test_upload_is_exclusive_unless_overwrite_is_chosen(engine, dav):
    made = step(engine, "ecm.upload", path="Publié/2026/annonce.md", content="# Annonce\n\nTexte.")
    assert made["status"] == "succeeded", made
    assert (dav.root / "Publié" / "2026" / "annonce.md").read_text(encoding="utf-8") == "# Annonce\n\nTexte."
    data = b"# Annonce\n\nTexte."
    assert made["output"] == {"document": {"connection": "docs", "path": "Publié/2026/annonce.md",
                                           "etag": made["output"]["document"]["etag"],
                                           "sha256": hashlib.sha256(data).hexdigest()},
                              "name": "annonce.md", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                              "content_type": "text/markdown"}
    puts = [r for r in dav.requests if r["method"] == "PUT"]
    assert all(r["headers"]["if-none-match"] == "*" for r in puts)
    assert [r["method"] for r in dav.requests if r["method"] == "MKCOL"] == ["MKCOL", "MKCOL"]  # Publié, then 2026

    refused = step(engine, "ecm.upload", path="Publié/2026/annonce.md", content="autre")
    assert refused["status"] == "failed" and refused["attempts"] == 1
    assert refused["error"] == (f"a document 'Publié/2026/annonce.md' already exists on {dav.url.split('/')[2]} "
                                "(choose overwrite to replace it)")
    replaced = step(engine, "ecm.upload", path="Publié/2026/annonce.md", content="autre", overwrite=True)
    assert replaced["status"] == "succeeded" and "if-none-match" not in dav.requests[-1]["headers"]
    assert (dav.root / "Publié" / "2026" / "annonce.md").read_text() == "autre"


def test_a_retried_upload_does_not_write_twice(engine, dav):
    first = again(engine, "ecm.upload", "run1:s", path=f"{FOLDER}/note.md", content="v1")
    assert again(engine, "ecm.upload", "run1:s", path=f"{FOLDER}/note.md", content="v1") == first
    assert [r["method"] for r in dav.requests].count("PUT") == 1

    # an attempt that wrote, then died before recording it: the next one finds its own bytes there and adopts them
    ctx = ActionContext(run_id="run2", step_id="s", idempotency_key="run2:s", recipe="r", db=engine.db)
    record_delivery(ctx, "run2:s", f"docs:{FOLDER}/lost.md", status="pending", result={})
    store(dav, f"{FOLDER}/lost.md", b"v2")
    adopted = again(engine, "ecm.upload", "run2:s", path=f"{FOLDER}/lost.md", content="v2")
    assert adopted.sha256 == hashlib.sha256(b"v2").hexdigest()
    record_delivery(ctx, "run3:s", f"docs:{FOLDER}/lost.md", status="pending", result={})
    with pytest.raises(ActionError, match="already exists"):  # other bytes there: not ours
        again(engine, "ecm.upload", "run3:s", path=f"{FOLDER}/lost.md", content="v3")


def test_upload_copies_a_document_from_its_handle(engine, dav):
    store(dav, f"{FOLDER}/source.pdf", b"%PDF-1.4 source")
    event = {"document": {"connection": "docs", "path": f"{FOLDER}/source.pdf"}}
    copied = step(engine, "ecm.upload", event, path="Archives/source.pdf", document="{{ trigger.document }}")
    assert copied["status"] == "succeeded", copied
    assert (dav.root / "Archives" / "source.pdf").read_bytes() == b"%PDF-1.4 source"
    assert copied["output"]["content_type"] == "application/pdf"


def test_move_creates_the_folder_and_never_replaces_by_surprise(engine, dav):
    store(dav, f"{FOLDER}/budget.docx", b"v1")
    event = {"document": {"connection": "docs", "path": f"{FOLDER}/budget.docx"}}
    dry = step(engine, "ecm.move", event, dry_run=True, document="{{ trigger.document }}", to_folder="Publié")
    assert dry["output"]["would_move"] == {"connection": "docs", "from": f"{FOLDER}/budget.docx",
                                           "to": "Publié/budget.docx", "overwrite": False}
    assert (dav.root / FOLDER / "budget.docx").exists() and dav.methods() == []

    moved = step(engine, "ecm.move", event, document="{{ trigger.document }}", to_folder="Publié")
    assert moved["status"] == "succeeded", moved
    assert moved["output"]["path"] == "Publié/budget.docx" and moved["output"]["from_path"] == f"{FOLDER}/budget.docx"
    assert moved["output"]["document"]["path"] == "Publié/budget.docx"
    assert (dav.root / "Publié" / "budget.docx").read_bytes() == b"v1"
    assert not (dav.root / FOLDER / "budget.docx").exists()
    move = [r for r in dav.requests if r["method"] == "MOVE"][-1]
    assert move["headers"]["overwrite"] == "F"
    assert move["headers"]["destination"].endswith("/dav/Publi%C3%A9/budget.docx")

    store(dav, f"{FOLDER}/budget.docx", b"v2")
    refused = step(engine, "ecm.move", event, document="{{ trigger.document }}", to_folder="Publié")
    assert refused["status"] == "failed" and "a document 'Publié/budget.docx' already exists" in refused["error"]
    renamed = step(engine, "ecm.move", event, document="{{ trigger.document }}", to_folder="Publié",
                   new_name="budget (v2).docx")
    assert renamed["status"] == "succeeded" and (dav.root / "Publié" / "budget (v2).docx").read_bytes() == b"v2"


def test_a_retried_move_does_not_move_twice(engine, dav):
    store(dav, f"{FOLDER}/a.md", b"a")
    first = again(engine, "ecm.move", "run1:s", path=f"{FOLDER}/a.md", to_folder="Publié")
    assert dav.methods() == ["MOVE", "MKCOL", "MOVE"]  # 409: the folder is missing; made, then moved
    assert again(engine, "ecm.move", "run1:s", path=f"{FOLDER}/a.md", to_folder="Publié") == first
    assert dav.methods() == ["MOVE", "MKCOL", "MOVE"]  # nothing sent again
    # moved by an attempt that died before recording it: the source is gone and the target there, so it is adopted
    ctx = ActionContext(run_id="run2", step_id="s", idempotency_key="run2:s", recipe="r", db=engine.db)
    record_delivery(ctx, "run2:s", f"docs:{FOLDER}/b.md", status="pending", result={})
    store(dav, "Publié/b.md", b"b")
    assert again(engine, "ecm.move", "run2:s", path=f"{FOLDER}/b.md", to_folder="Publié").path == "Publié/b.md"


def test_paths_leaving_the_connection_are_refused(engine, dav):
    failed = step(engine, "ecm.get", path="../secret.txt")
    assert failed["error"] == "the path '../secret.txt' leaves the connection's folder (.. is not allowed)"
    assert dav.requests == []


def test_the_password_never_reaches_a_record_or_a_message(engine, dav):
    connect(engine, dav, "nope-" + PASSWORD)
    failed = step(engine, "ecm.upload", path=f"{FOLDER}/x.md", content="x")
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["error"] == (f"the WebDAV server {dav.url.split('/')[2]} refused the user 'comms' and its app "
                               f"password (401) while trying to write the document '{FOLDER}/x.md': check them in "
                               "the connection")
    assert PASSWORD not in str(engine.runs.list()) and "nope-" not in str(engine.runs.list())


def test_a_dry_run_on_the_sample_event_warns_of_its_handle_and_sends_nothing(engine, dav):
    sample = engine.registry.triggers["ecm.document_added"].sample()
    for uses, options in (("ecm.extract_text", {}), ("ecm.get", {}), ("ecm.move", {"to_folder": "Publié"}),
                          ("ecm.upload", {"path": "Copie/noel.docx"})):
        dry = step(engine, uses, sample, dry_run=True, document="{{ trigger.document }}", **options)
        assert dry["status"] == "succeeded", dry
        assert dry["output"]["warnings"] == [
            f"{uses}: the document 'Communiqués/2026-12-03 Marché de Noël.docx' is on Beffroi's documents folder, "
            "the step uses connection 'docs'; give the step no connection"]
    assert dav.requests == []
