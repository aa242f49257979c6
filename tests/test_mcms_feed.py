"""`mcms.publish_item` and the public app feeds: JSON Feed 1.1 fields, RSS read back by feedparser, ETag 304,
publish and expire times, newest first, once per step."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from fastapi.testclient import TestClient

from beffroi import ActionContext
from beffroi.api import create_app

from .helpers import recipe

NOW = datetime.now(UTC)


@pytest.fixture
def client(engine):
    return TestClient(create_app(engine), base_url="http://beffroi.test", raise_server_exceptions=False)


def publish(engine, dry_run=False, **fields):
    data = {"title": "Travaux rue Haute", "text": "La rue Haute est fermée lundi.", **fields}
    result = engine.run_recipe(engine.validate(recipe({"id": "item", "uses": "mcms.publish_item", "with": data})),
                               {}, dry_run=dry_run)
    assert result["status"] == "succeeded", result
    return result["steps"][0]["output"]


def iso(moment):
    return moment.isoformat()


def test_an_item_appears_in_both_feeds_with_its_fields(engine, client):
    out = publish(engine, feed="works", url="https://www.ville.example/travaux", language="fr",
                  image_url="https://www.ville.example/rue.jpg", image_alt="La rue Haute barrée par des barrières")
    assert out["visible"] is True and out["json_url"].endswith("/feeds/app/works.json")
    response = client.get("/feeds/app/works.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/feed+json")
    document = response.json()
    assert document["version"] == "https://jsonfeed.org/version/1.1" and document["feed_url"] == out["json_url"]
    [item] = document["items"]
    assert item == out["item"]
    assert item["id"] == out["id"] and item["title"] == "Travaux rue Haute"
    assert item["content_text"] == "La rue Haute est fermée lundi." and item["url"] == "https://www.ville.example/travaux"
    assert item["image"] == "https://www.ville.example/rue.jpg" and item["language"] == "fr"
    assert item["_beffroi"]["image_alt"] == "La rue Haute barrée par des barrières"
    assert datetime.fromisoformat(item["date_published"].replace("Z", "+00:00")) <= datetime.now(UTC)

    rss = client.get("/feeds/app/works.rss")
    assert rss.headers["content-type"].startswith("application/rss+xml")
    parsed = feedparser.parse(rss.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == "rss20"
    [entry] = parsed.entries
    assert entry.title == "Travaux rue Haute" and entry.link == "https://www.ville.example/travaux"
    assert entry.summary == "La rue Haute est fermée lundi." and entry.id == out["id"]
    assert entry.media_content[0]["url"] == "https://www.ville.example/rue.jpg"
    assert client.get("/feeds/app/news.json").json()["items"] == []  # another feed


def test_only_published_and_unexpired_items_newest_first(engine, client):
    publish(engine, title="old", publish_at=iso(NOW - timedelta(days=2)))
    publish(engine, title="recent", publish_at=iso(NOW - timedelta(hours=1)))
    future = publish(engine, title="embargoed", publish_at=iso(NOW + timedelta(days=1)))
    publish(engine, title="expired", publish_at=iso(NOW - timedelta(days=3)), expire_at=iso(NOW - timedelta(days=1)))
    publish(engine, title="still on", publish_at=iso(NOW - timedelta(days=1)), expire_at=iso(NOW + timedelta(days=1)))
    assert future["visible"] is False
    titles = [i["title"] for i in client.get("/feeds/app/news.json").json()["items"]]
    assert titles == ["recent", "still on", "old"]
    rss_titles = [e.title for e in feedparser.parse(client.get("/feeds/app/news.rss").content).entries]
    assert rss_titles == titles


def test_etag_gives_304_until_the_feed_changes(engine, client):
    publish(engine, title="first")
    first = client.get("/feeds/app/news.json")
    etag = first.headers["etag"]
    again = client.get("/feeds/app/news.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    rss = client.get("/feeds/app/news.rss")
    assert client.get("/feeds/app/news.rss", headers={"If-None-Match": rss.headers["etag"]}).status_code == 304
    publish(engine, title="second")
    changed = client.get("/feeds/app/news.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert [i["title"] for i in changed.json()["items"]] == ["second", "first"]


def test_a_feed_name_that_cannot_be_one_is_a_404_in_plain_words(client):
    response = client.get("/feeds/app/Bad_Name.json")
    assert response.status_code == 404 and "feed names are lowercase" in response.json()["detail"]


def test_a_retried_step_stores_its_item_once(engine, client):
    spec = engine.registry.actions["mcms.publish_item"]
    ctx = ActionContext(run_id="r1", step_id="item", idempotency_key="r1:item", recipe="t", db=engine.db)
    payload = spec.input_model.model_validate({"title": "Une fois", "text": "seulement"})
    first, second = spec.run(payload, ctx), spec.run(payload, ctx)
    assert first == second
    assert len(client.get("/feeds/app/news.json").json()["items"]) == 1


def test_preview_shows_the_item_as_the_feed_would_and_stores_nothing(engine, client):
    out = publish(engine, dry_run=True, image_url="https://www.ville.example/a.png", image_alt="Un plan")
    assert out["would_publish"]["item"]["title"] == "Travaux rue Haute"
    assert out["would_publish"]["item"]["_beffroi"] == {"image_alt": "Un plan"}
    assert client.get("/feeds/app/news.json").json()["items"] == []


@pytest.mark.parametrize(("fields", "where"), [
    ({"image_url": "https://www.ville.example/a.png"}, "image_alt"),
    ({"publish_at": iso(NOW), "expire_at": iso(NOW - timedelta(hours=1))}, "expire_at"),
    ({"feed": "Not A Feed"}, "feed"),
])
def test_bad_items_are_refused_when_the_recipe_is_saved(engine, fields, where):
    from beffroi.recipes import RecipeInvalid
    with pytest.raises(RecipeInvalid) as caught:
        engine.validate(recipe({"id": "item", "uses": "mcms.publish_item",
                                "with": {"title": "t", "text": "x", **fields}}))
    assert where in str(caught.value)
