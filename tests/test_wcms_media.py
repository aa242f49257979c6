"""`wcms.create_post` with images from documents: uploaded to a local WordPress's media library (the bytes, their
name and alt text checked by the server), the featured image set, the others shown in the content; once each."""
from __future__ import annotations

import hashlib

import pytest

from beffroi import ActionContext

from .servers.http_base import PNG
from .servers.webdav import FOLDER, PASSWORD, dav  # noqa: F401
from .servers.webdav import connect as connect_dav
from .servers.wordpress import Fault
from .test_wcms_wordpress import connect, run, site, step  # noqa: F401

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 16 + b"\xff\xd9"


@pytest.fixture
def engine(make_engine, site, dav):
    engine = make_engine(allowed_networks=["127.0.0.0/8"], http_timeout=5)
    connect(engine, site)
    connect_dav(engine, dav)
    folder = engine.settings.data_dir / "documents"
    folder.mkdir(parents=True)
    (folder / "plan.png").write_bytes(PNG)
    (dav.root / FOLDER / "Marché de Noël.jpg").write_bytes(JPEG)
    return engine


FEATURED = {"document": {"connection": "docs", "path": f"{FOLDER}/Marché de Noël.jpg"},
            "alt": "Des chalets illuminés sur la place"}
PLAN = {"path": "plan.png", "alt": "Plan du marché: 40 chalets autour de la fontaine"}


def test_images_are_uploaded_the_featured_one_set_and_the_others_shown_in_the_content(engine, site, dav):
    result = run(engine, step(title="Marché de Noël", content="<p>Du 1er au 24 décembre.</p>",
                              featured_image=FEATURED, images=[PLAN]))
    [post] = result["steps"]
    assert post["status"] == "succeeded", post["error"]
    featured, plan = sorted(site.media.values(), key=lambda m: m["id"])
    assert (featured["data"], featured["mime_type"], featured["filename"], featured["alt_text"]) == (
        JPEG, "image/jpeg", "Marché de Noël.jpg", "Des chalets illuminés sur la place")
    assert (plan["data"], plan["mime_type"], plan["filename"], plan["alt_text"]) == (
        PNG, "image/png", "plan.png", "Plan du marché: 40 chalets autour de la fontaine")
    [created] = site.posts.values()
    assert created["featured_media"] == featured["id"]
    assert created["content"].startswith("<p>Du 1er au 24 décembre.</p>\n\n<!-- wp:image")
    assert (f'<img src="{plan["source_url"]}" alt="Plan du marché: 40 chalets autour de la fontaine" '
            f'class="wp-image-{plan["id"]}"/>') in created["content"]
    output = post["output"]
    assert output["featured_media"] == featured["id"]
    assert [(m["id"], m["name"], m["sha256"]) for m in output["media"]] == [
        (featured["id"], "Marché de Noël.jpg", hashlib.sha256(JPEG).hexdigest()),
        (plan["id"], "plan.png", hashlib.sha256(PNG).hexdigest())]
    record = str(engine.runs.detail(result["id"]))
    assert PASSWORD not in record and "\\xff\\xd8" not in record


def test_an_upload_done_before_a_crash_is_not_sent_again(engine, site):
    site.fail(Fault("POST", "posts", 503))
    result = run(engine, step(title="Marché", featured_image=FEATURED, retry={"attempts": 2, "backoff": "10ms"}))
    [post] = result["steps"]
    assert post["status"] == "succeeded" and post["attempts"] == 2, post["error"]
    assert len(site.hits("POST", "media")) == 1 and len(site.media) == 1 and len(site.posts) == 1
    spec = engine.registry.actions["wcms.create_post"]
    ctx = ActionContext(run_id=result["id"], step_id="post", idempotency_key=f"{result['id']}:post", recipe="r",
                        http=engine.http, connections=engine.connections.resolve(["city-blog"], "wcms"),
                        **engine.runner.context)
    again = spec.run(spec.input_model.model_validate({"title": "Marché", "featured_image": FEATURED}), ctx)
    assert again.model_dump() == post["output"] and len(site.hits("POST", "media")) == 1


def test_a_document_that_is_not_an_image_fails_naming_its_field(engine, site):
    (engine.settings.data_dir / "documents" / "note.pdf").write_bytes(b"%PDF-1.4")
    result = run(engine, step(title="Marché", images=[PLAN, {"path": "note.pdf", "alt": "x"}]))
    assert result["steps"][0]["error"] == "images[1]: note.pdf is application/pdf, not an image"
    assert site.posts == {}


def test_the_preview_names_each_upload_and_asks_for_alt_text(engine, site, dav):
    result = run(engine, step(title="Marché", featured_image={**FEATURED, "alt": ""}, images=[PLAN]), dry_run=True)
    output = result["steps"][0]["output"]
    uploads = output["would_create"]["uploads"]
    assert [(u["field"], u["name"], u["size"]) for u in uploads] == [
        ("featured_image", "Marché de Noël.jpg", len(JPEG)), ("images[0]", "plan.png", len(PNG))]
    assert output["warnings"] == ["featured_image: alt text required — describe what the image Marché de Noël.jpg "
                                  "shows, for people who cannot see it"]
    assert site.requests == [] and "GET" not in dav.methods()


def test_an_image_without_alt_text_is_not_uploaded(engine, site):
    result = run(engine, step(title="Marché", featured_image={"path": "plan.png", "alt": " "}, images=[PLAN]))
    assert result["steps"][0]["error"] == ("featured_image: alt text required — describe what the image shows, "
                                           "for people who cannot see it")
    assert site.media == {} and site.posts == {}


def test_the_built_in_website_keeps_the_images_and_its_page_shows_them(engine, site, dav):
    from fastapi.testclient import TestClient

    from beffroi import create_app

    result = run(engine, step(connection=None, title="Marché de Noël", content="<p>Dès samedi.</p>",
                              featured_image=FEATURED, images=[PLAN]),
                 {"id": "online", "uses": "wcms.publish_post", "with": {"post": "{{ steps.post.id }}"}})
    assert [s["status"] for s in result["steps"]] == ["succeeded", "succeeded"], result["steps"]
    output = result["steps"][0]["output"]
    assert output["featured_media"] == 1 and [m["url"] for m in output["media"]] == [
        "http://127.0.0.1:8000/site/media/1.jpg", "http://127.0.0.1:8000/site/media/2.png"]
    client = TestClient(create_app(engine))
    page = client.get("/site/1")
    assert '<img src="/site/media/1.jpg" alt="Des chalets illuminés sur la place">' in page.text
    assert 'alt="Plan du marché: 40 chalets autour de la fontaine"' in page.text
    assert "img-src 'self'" in page.headers["content-security-policy"]
    image = client.get("/site/media/1.jpg")
    assert image.status_code == 200 and image.content == JPEG and image.headers["content-type"] == "image/jpeg"
    assert client.get("/site/media/2.png").content == PNG
    for wrong in ("1.png", "3.jpg", "1.json", "..%2F1.json", "x.jpg"):
        assert client.get(f"/site/media/{wrong}").status_code == 404, wrong
    assert site.requests == []  # the WordPress of the test got nothing
