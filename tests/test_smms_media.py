"""Images from documents on social media: `smms.publish` with `images` (handles or paths, alt texts), read from a
real WebDAV server or Beffroi's documents folder, uploaded to local Mastodon and Bluesky servers that keep the bytes."""
from __future__ import annotations

import hashlib

import pytest

from beffroi import ActionContext, outbox

from .helpers import recipe
from .servers.http_base import PNG
from .servers.webdav import FOLDER, PASSWORD, connect, dav  # noqa: F401
from .test_smms import bluesky, mastodon  # noqa: F401

TEXT = "Le marché de Noël ouvre ce soir #Namur"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20 + b"\xff\xd9"


@pytest.fixture
def engine(make_engine, dav, mastodon, bluesky):
    engine = make_engine(allowed_networks=["127.0.0.0/8"], http_timeout=5)
    connect(engine, dav)
    engine.connections.save("city-mastodon", "mastodon", {"base_url": mastodon.url, "access_token": "tok-city"})
    engine.connections.save("city-bluesky", "bluesky", {"service": bluesky.url, "handle": "city.bsky.social",
                                                        "app_password": "app-pass-1234"})
    return engine


def documents_folder(engine):
    folder = engine.settings.data_dir / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def handle(dav, name: str, data: bytes) -> dict:
    (dav.root / FOLDER / name).write_bytes(data)
    return {"connection": "docs", "path": f"{FOLDER}/{name}"}


def publish(engine, with_, connection=("city-mastodon", "city-bluesky"), *, dry_run=False, event=None):
    step = {"id": "announce", "uses": "smms.publish", "with": with_}
    if connection:
        step["connection"] = list(connection)
    return engine.run_recipe(engine.validate(recipe(step)), event or {}, dry_run=dry_run)


def test_images_from_documents_reach_both_networks_with_their_alt_texts(engine, dav, mastodon, bluesky):
    (documents_folder(engine) / "logo.png").write_bytes(PNG)
    event = {"document": handle(dav, "affiche.jpg", JPEG)}  # as ecm.document_added gives it
    images = [{"document": "{{ trigger.document }}", "alt": "Affiche : un sapin illuminé"},
              {"path": "logo.png", "alt": "Logo de la ville"}]
    run = publish(engine, {"text": TEXT, "images": images}, event=event)
    step = run["steps"][0]
    assert run["status"] == "succeeded", step["error"]

    [status] = mastodon.statuses
    media = [mastodon.media[m["id"]] for m in status["media_attachments"]]
    assert [(m["data"], m["mime_type"], m["description"]) for m in media] == [
        (JPEG, "image/jpeg", "Affiche : un sapin illuminé"), (PNG, "image/png", "Logo de la ville")]
    [post] = bluesky.posts()
    embedded = post["embed"]["images"]
    assert [i["alt"] for i in embedded] == ["Affiche : un sapin illuminé", "Logo de la ville"]
    blobs = [bluesky.blobs[i["image"]["ref"]["$link"]]["data"] for i in embedded]
    assert blobs == [JPEG, PNG]

    facts = step["output"]["results"][0]["images"]
    assert [(f["name"], f["size"], f["sha256"]) for f in facts] == [
        ("affiche.jpg", len(JPEG), hashlib.sha256(JPEG).hexdigest()), ("logo.png", len(PNG),
                                                                      hashlib.sha256(PNG).hexdigest())]
    assert facts[0]["document"]["path"] == f"{FOLDER}/affiche.jpg"
    record = str(engine.runs.detail(run["id"]))  # the journal keeps handles and hashes, never bytes or secrets
    assert JPEG.hex()[:64] not in record and repr(JPEG[:40])[2:-1] not in record and PASSWORD not in record


def test_a_retried_step_reads_and_posts_nothing_again(engine, dav, mastodon, bluesky):
    images = [{"document": handle(dav, "affiche.jpg", JPEG), "alt": "Affiche"}]
    run = publish(engine, {"text": TEXT, "images": images})
    assert run["status"] == "succeeded", run["steps"][0]["error"]
    gets = dav.methods().count("GET")
    spec = engine.registry.actions["smms.publish"]
    ctx = ActionContext(run_id=run["id"], step_id="announce", idempotency_key=f"{run['id']}:announce", recipe="r",
                        http=engine.http, connections=engine.connections.resolve(
                            ["city-mastodon", "city-bluesky"], "smms"), **engine.runner.context)
    again = spec.run(spec.input_model.model_validate({"text": TEXT, "images": images}), ctx)
    assert again["results"] == run["steps"][0]["output"]["results"]
    assert len(mastodon.statuses) == 1 and len(bluesky.posts()) == 1 and dav.methods().count("GET") == gets


def test_an_image_over_blueskys_cap_fails_naming_the_field_before_anything_is_posted(engine, dav, mastodon, bluesky):
    big = b"\xff\xd8\xff\xe0" + b"\0" * 1_100_000
    run = publish(engine, {"text": TEXT, "images": [{"document": handle(dav, "big.jpg", big), "alt": "Grand"}]})
    error = run["steps"][0]["error"]
    assert run["status"] == "failed"
    assert error.startswith("images[0]: big.jpg is 1.1 MB, over Bluesky's limit of 1 MB per image (city-bluesky)")
    assert mastodon.statuses == [] and bluesky.posts() == []


def test_a_document_over_the_read_cap_is_refused_with_its_field(engine, mastodon):
    (documents_folder(engine) / "huge.png").write_bytes(b"\0" * (16 * 2**20 + 1))
    run = publish(engine, {"text": TEXT, "images": [{"path": "huge.png", "alt": "x"}]}, ["city-mastodon"])
    assert run["steps"][0]["error"].startswith("images[0]: the document 'huge.png' is 16777217 bytes, more than")
    assert mastodon.statuses == []


def test_a_document_that_is_not_an_image_is_refused(engine, mastodon):
    (documents_folder(engine) / "note.pdf").write_bytes(b"%PDF-1.4 ...")
    run = publish(engine, {"text": TEXT, "images": [{"path": "note.pdf", "alt": "x"}]}, ["city-mastodon"])
    assert run["steps"][0]["error"] == ("images[0]: note.pdf is application/pdf; Mastodon (city-mastodon) takes gif, "
                                        "jpeg, png, webp images")


def test_more_than_four_images_is_a_field_error():
    from beffroi_plugins.smms.publish import PublishInput
    with pytest.raises(ValueError, match="at most 4 images"):
        PublishInput.model_validate({"text": TEXT, "images": [{"path": "a.png"}] * 4,
                                     "image_url": "https://example.org/a.png"})


def test_the_preview_lists_each_image_and_asks_for_missing_alt_texts(engine, dav, mastodon, bluesky):
    big = b"\xff\xd8\xff\xe0" + b"\0" * 1_100_000
    images = [{"document": handle(dav, "big.jpg", big), "alt": ""},
              {"document": {"connection": "docs", "path": f"{FOLDER}/absent.png"}, "alt": "Absent"}]
    run = publish(engine, {"text": TEXT, "images": images}, dry_run=True)
    output = run["steps"][0]["output"]
    masto, bsky = output["would_publish"]
    assert [(i["name"], i["size"], i["alt"]) for i in masto["images"]] == [("big.jpg", len(big), ""),
                                                                          ("absent.png", None, "Absent")]
    assert output["warnings"][0].startswith("images[0]: alt text required")
    assert output["warnings"][1].startswith("images[1]: no document")
    assert "image_problems" not in masto
    assert bsky["image_problems"] == ["images[0]: big.jpg is 1.1 MB, over Bluesky's limit of 1 MB per image "
                                      "(city-bluesky)"]
    assert mastodon.statuses == [] and bluesky.posts() == [] and "GET" not in dav.methods()


def test_the_outbox_keeps_what_the_images_are_not_their_bytes(engine, dav):
    images = [{"document": handle(dav, "affiche.jpg", JPEG), "alt": "Affiche"}]
    run = publish(engine, {"text": TEXT, "images": images}, connection=None)
    assert run["status"] == "succeeded", run["steps"][0]["error"]
    [item] = outbox.page(engine.db, channel="smms")
    [image] = item["payload"]["images"]
    assert image == {"name": "affiche.jpg", "content_type": "image/jpeg", "size": len(JPEG), "alt": "Affiche",
                     "sha256": hashlib.sha256(JPEG).hexdigest(),
                     "document": {"connection": "docs", "path": f"{FOLDER}/affiche.jpg", "etag": image["document"]
                                  ["etag"], "sha256": hashlib.sha256(JPEG).hexdigest()}}


def test_a_handle_on_an_unknown_or_foreign_connection_is_a_clear_error(engine, mastodon):
    for connection, says in (("nope", "no connection named 'nope'"),
                             ("city-bluesky", "connection 'city-bluesky' is a bluesky (smms) connection; this "
                                              "action needs ecm")):
        image = {"document": {"connection": connection, "path": "a.png"}, "alt": "A"}
        run = publish(engine, {"text": TEXT, "images": [image]}, ["city-mastodon"])
        assert run["steps"][0]["error"] == f"images[0]: the document 'a.png': {says}"
    assert mastodon.statuses == []


def test_an_image_without_alt_text_is_not_published(engine, mastodon):
    (documents_folder(engine) / "logo.png").write_bytes(PNG)
    run = publish(engine, {"text": TEXT, "images": [{"path": "logo.png", "alt": "Logo"}, {"path": "logo.png"}]},
                  ["city-mastodon"])
    assert run["steps"][0]["error"] == ("images[1]: alt text required — describe what the image shows, for people "
                                        "who cannot see it")
    assert mastodon.statuses == [] and mastodon.media == {}
