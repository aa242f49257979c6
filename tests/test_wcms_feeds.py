"""`wcms.post_published` from RSS 2.0 and Atom 1.0 feeds served locally, and from a local folder, via the scheduler."""
from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from beffroi import ActionContext
from beffroi.recipes import RecipeInvalid
from beffroi.scheduler import Scheduler
from beffroi.store.models import TriggerStateRow

from .helpers import finished
from .servers.feeds import Entry, Fault, FeedServer, atom, rss

T0 = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
PATH = "/feed.xml"


def entry(n: int, **extra) -> Entry:
    fields = {"id": f"https://www.namur.example/?p={n}", "title": f"Post {n}",
              "link": f"https://www.namur.example/post-{n}/",
              "published": datetime(2026, 1, n, 9, 30, tzinfo=timezone(timedelta(hours=1))),
              "summary": f"<p>Summary {n}</p>", "content": f"<p>Content {n}</p>"}
    return Entry(**{**fields, **extra})


FESTIVAL = entry(
    7, id="tag:namur.example,2026:fete", title="Fête de la musique & marché d'été",
    link="https://www.namur.example/fete-musique/", author="Marie Dupont", categories=["Agenda", "Culture"],
    summary="<p>Concerts <b>gratuits</b> &amp; marché</p>",
    content='<p>Tout le <a href="/programme">programme</a>.</p><script>alert(1)</script>',
    image="https://www.namur.example/media/fete.jpg")


def festival_event(base: str) -> dict:
    """What FESTIVAL becomes once normalised (links resolved against the feed's address, scripts removed)."""
    return {"id": "tag:namur.example,2026:fete", "title": "Fête de la musique & marché d'été",
            "url": "https://www.namur.example/fete-musique/", "summary": "Concerts gratuits & marché",
            "content_html": f'<p>Tout le <a href="{base}/programme">programme</a>.</p>',
            "published_at": "2026-01-07T08:30:00+00:00", "author": "Marie Dupont",
            "categories": ["Agenda", "Culture"], "image_url": "https://www.namur.example/media/fete.jpg"}


@pytest.fixture
def feeds():
    with FeedServer() as server:
        yield server


@pytest.fixture
def engine(make_engine, database_url, tmp_path):
    return make_engine(database_url, allowed_networks=["127.0.0.0/8"], http_timeout=0.5,
                       allowed_folders=[str(tmp_path)])


def recipe(name="news", **options) -> dict:
    return {"name": name, "trigger": {"uses": "wcms.post_published", "with": options, "every": "5m"},
            "steps": [{"id": "keep", "uses": "data.set", "with": {"title": "{{ trigger.title }}"}}]}


def last_error(engine, name="news") -> str | None:
    with engine.db.session() as s:
        return s.get(TriggerStateRow, name).last_error


def poll(engine, cursor=None, **options):
    """One direct call of the trigger's poll, as the scheduler makes it."""
    spec = engine.registry.triggers["wcms.post_published"]
    ctx = ActionContext(run_id="", step_id="trigger", idempotency_key="", recipe="t", http=engine.http)
    return spec.poll(spec.config_model.model_validate(options), cursor, ctx)


@pytest.mark.parametrize("kind, validators", [("rss", True), ("atom", True), ("rss", False), ("atom", False)])
def test_first_poll_seeds_then_a_new_post_fires_exactly_one_run(engine, feeds, kind, validators):
    build = rss if kind == "rss" else atom
    feeds.publish(PATH, build([entry(2), entry(1)]), etag=validators, last_modified=validators,
                  content_type=f"application/{kind}+xml")
    engine.save_recipe(recipe(feed_url=feeds.url(PATH)))
    scheduler = Scheduler(engine)

    assert scheduler.run_once(T0) == []  # seeds: the posts already there start nothing
    feeds.publish(PATH, build([FESTIVAL, entry(2), entry(1)]), etag=validators, last_modified=validators,
                  content_type=f"application/{kind}+xml")
    started = scheduler.run_once(T0 + timedelta(minutes=5))
    assert len(started) == 1
    [run] = finished(engine, started)
    expected = festival_event(feeds.url(""))
    assert run["trigger"] == expected
    assert run["status"] == "succeeded" and run["steps"][0]["output"] == {"title": expected["title"]}

    assert scheduler.run_once(T0 + timedelta(minutes=10)) == []  # the same feed again: nothing new
    [first, second, third] = feeds.hits(PATH)
    assert "if-none-match" not in first["headers"] and "if-modified-since" not in first["headers"]
    if validators:  # conditional GET with what the previous answer offered; unchanged → 304
        assert second["headers"]["if-none-match"].startswith('"')
        assert third["headers"]["if-none-match"] != second["headers"]["if-none-match"]
        assert third["headers"]["if-modified-since"].endswith("GMT") and third["status"] == 304
    else:
        assert "if-none-match" not in third["headers"] and third["status"] == 200


def test_last_modified_alone_gives_a_304_and_a_later_change_still_fires(engine, feeds):
    feeds.publish(PATH, rss([entry(1)]), etag=False)
    engine.save_recipe(recipe(feed_url=feeds.url(PATH)))
    scheduler = Scheduler(engine)
    scheduler.run_once(T0)
    assert scheduler.run_once(T0 + timedelta(minutes=5)) == []
    assert feeds.hits(PATH)[-1]["status"] == 304
    with engine.db.session() as s:  # a 304 keeps the cursor
        assert set(s.get(TriggerStateRow, "news").cursor) == {"last_modified"}

    feeds.publish(PATH, rss([entry(3), entry(1)]), etag=False)
    started = scheduler.run_once(T0 + timedelta(minutes=10))
    assert [r["trigger"]["title"] for r in finished(engine, started)] == ["Post 3"]


def test_new_posts_are_returned_oldest_first(engine, feeds):
    feeds.publish(PATH, atom([entry(3), entry(1), entry(2)]))
    result = poll(engine, feed_url=feeds.url(PATH))
    assert [i.event["title"] for i in result.items] == ["Post 1", "Post 2", "Post 3"]
    assert [i.key for i in result.items] == [f"https://www.namur.example/?p={n}" for n in (1, 2, 3)]
    assert result.cursor.keys() == {"etag", "last_modified"}


def test_undated_entries_are_taken_in_reverse_feed_order(engine, feeds):
    feeds.publish(PATH, rss([entry(n, published=None) for n in (3, 2, 1)]))
    assert [i.event["title"] for i in poll(engine, feed_url=feeds.url(PATH)).items] == ["Post 1", "Post 2", "Post 3"]


def test_rss_variants_are_normalised(engine, feeds):
    plain = Entry(id="", guid_is_link=True, title="Travaux rue de Fer", link="https://www.namur.example/travaux/",
                  summary="Fermeture du 5 au 9 janvier.", author="Service travaux")
    feeds.publish(PATH, rss([plain], author_style="rss"))
    [item] = poll(engine, feed_url=feeds.url(PATH)).items
    assert item.key == "https://www.namur.example/travaux/"  # no guid: the link is the id
    assert item.event == {"id": "https://www.namur.example/travaux/", "title": "Travaux rue de Fer",
                          "url": "https://www.namur.example/travaux/", "summary": "Fermeture du 5 au 9 janvier.",
                          "content_html": "Fermeture du 5 au 9 janvier.", "published_at": None,
                          "author": "Service travaux", "categories": [], "image_url": None}


def test_atom_html_title_and_media_image(engine, feeds):
    body = (b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            b'xmlns:media="http://search.yahoo.com/mrss/"><title>Gent</title><id>urn:x</id>'
            b'<updated>2026-01-05T08:00:00Z</updated><entry><id>urn:post:9</id>'
            b'<title type="html">Nieuw &lt;em&gt;zwembad&lt;/em&gt; open</title><link href="/zwembad"/>'
            b'<updated>2026-01-09T10:00:00+01:00</updated><summary>Vanaf maandag.</summary>'
            b'<media:thumbnail url="https://stad.gent/zwembad.jpg"/></entry></feed>')
    feeds.publish(PATH, body, content_type="application/atom+xml")
    [item] = poll(engine, feed_url=feeds.url(PATH)).items
    assert item.event["title"] == "Nieuw zwembad open"
    assert item.event["url"] == feeds.url("/zwembad")  # relative to the feed's address
    assert item.event["published_at"] == "2026-01-09T09:00:00+00:00"  # only <updated>: used as the date
    assert item.event["summary"] == "Vanaf maandag." and item.event["content_html"] == "<p>Vanaf maandag.</p>"
    assert item.event["image_url"] == "https://stad.gent/zwembad.jpg"


def test_feed_errors_are_recorded_on_the_trigger(engine, feeds):
    engine.save_recipe(recipe(feed_url=feeds.url("/missing.xml")))
    engine.save_recipe(recipe("page", feed_url=feeds.url("/page.html")))
    feeds.publish("/page.html", b"<html><body><p>Welcome</p></body></html>", content_type="text/html")
    Scheduler(engine).run_once(T0)
    assert last_error(engine) == "ActionError: the feed answered 404 Not Found"
    assert last_error(engine, "page").startswith("ActionError: the address does not give an RSS or Atom feed")


def test_a_429_is_retried_after_its_retry_after_delay(engine, feeds):
    feeds.publish(PATH, rss([entry(1)]))
    feeds.fail(PATH, Fault(429, {"Retry-After": "1"}))
    result = poll(engine, feed_url=feeds.url(PATH))
    assert [i.event["title"] for i in result.items] == ["Post 1"]
    refused, served = feeds.hits(PATH)
    assert (refused["status"], served["status"]) == (429, 200)
    assert served["at"] - refused["at"] >= 0.9  # waited as asked (a lower bound, never a deadline)


def test_a_5xx_is_retried_with_backoff(engine, feeds):
    feeds.publish(PATH, rss([entry(1)]))
    feeds.fail(PATH, Fault(503), Fault(502))
    assert [i.event["title"] for i in poll(engine, feed_url=feeds.url(PATH)).items] == ["Post 1"]
    assert [h["status"] for h in feeds.hits(PATH)] == [503, 502, 200]


def test_a_feed_that_does_not_answer_is_reported_as_a_timeout(engine, feeds):
    feeds.publish(PATH, rss([entry(1)]))
    feeds.fail(PATH, *[Fault(hang=True)] * 4)  # the first try and the client's three retries
    engine.save_recipe(recipe(feed_url=feeds.url(PATH)))
    Scheduler(engine).run_once(T0)
    error = last_error(engine)
    assert error.startswith("ActionError: the feed did not answer in time")
    assert "read timeout after 0.5 s" in error


def test_a_trigger_without_a_source_is_rejected_where_it_is_written(engine):
    with pytest.raises(RecipeInvalid) as caught:
        engine.validate(recipe())
    [problem] = caught.value.problems
    assert problem.loc == "trigger.with"
    assert "feed_url" in problem.message and "folder" in problem.message and "wordpress" in problem.message
    with pytest.raises(RecipeInvalid) as caught:
        engine.validate(recipe(feed_url="https://www.namur.example/feed", folder="/srv/posts"))
    assert [str(p) for p in caught.value.problems] == ["trigger.with: give either feed_url or folder, not both"]
    with pytest.raises(RecipeInvalid) as caught:
        engine.validate(recipe(feed_url="ftp://www.namur.example/feed"))
    assert caught.value.problems[0].loc == "trigger.with.feed_url"
    assert engine.validate(recipe(source="wordpress")).trigger.with_ == {"source": "wordpress"}


# -- the local folder feed ------------------------------------------------------------------------
def write(path, text: str, *, age: float = 60.0) -> None:
    path.write_text(text, encoding="utf-8")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))


def test_a_folder_of_posts_fires_one_run_per_new_file(engine, tmp_path):
    posts = tmp_path / "posts"
    posts.mkdir()
    write(posts / "old.md", "# Old news\n\nAlready there.")
    engine.save_recipe(recipe(folder=str(posts)))
    scheduler = Scheduler(engine)
    assert scheduler.run_once(T0) == []

    write(posts / "conseil.json", json.dumps({
        "title": "Conseil communal du 12 janvier", "url": "https://www.namur.example/conseil",
        "summary": "L'ordre du jour.", "content_html": "<p>L'ordre du jour.</p>",
        "published_at": "2026-01-08T10:00:00+01:00", "author": "Greffe", "categories": ["Conseil"],
        "image_url": "https://www.namur.example/conseil.jpg"}))
    write(posts / "piscine.md", "# Piscine  fermée\n\nTravaux du 5 au 9.\nRéouverture le 10.\n\nMerci.")
    write(posts / "expo.html", "<html><head><title>Expo &amp; visites</title></head><body><h1>Expo</h1>"
                               "<p>Au musée <b>Rops</b>.</p></body></html>")
    write(posts / "_brouillon.md", "# Not ready")  # a draft
    write(posts / "notes.txt", "not a post")
    write(posts / "en-cours.md", "# Still being written", age=-60)  # changed just now: read at a later poll
    started = scheduler.run_once(T0 + timedelta(minutes=5))
    events = {r["trigger"]["id"]: r["trigger"] for r in finished(engine, started)}
    assert sorted(events) == ["conseil.json", "expo.html", "piscine.md"]
    assert events["conseil.json"] == {
        "id": "conseil.json", "title": "Conseil communal du 12 janvier", "url": "https://www.namur.example/conseil",
        "summary": "L'ordre du jour.", "content_html": "<p>L'ordre du jour.</p>",
        "published_at": "2026-01-08T09:00:00+00:00", "author": "Greffe", "categories": ["Conseil"],
        "image_url": "https://www.namur.example/conseil.jpg"}
    piscine = events["piscine.md"]
    assert (piscine["title"], piscine["summary"]) == ("Piscine fermée", "Travaux du 5 au 9. Réouverture le 10.")
    assert piscine["content_html"] == "<p>Travaux du 5 au 9. Réouverture le 10.</p>\n<p>Merci.</p>"
    assert piscine["url"] == (posts / "piscine.md").resolve().as_uri()
    assert datetime.fromisoformat(piscine["published_at"]).tzinfo == UTC
    expo = events["expo.html"]
    assert (expo["title"], expo["summary"]) == ("Expo & visites", "Au musée Rops.")
    assert expo["content_html"] == "<h1>Expo</h1><p>Au musée <b>Rops</b>.</p>"

    write(posts / "piscine.md", "# Piscine fermée\n\nCorrection.")  # an edited post does not fire again
    write(posts / "en-cours.md", "# Still being written\n\nDone now.")
    started = scheduler.run_once(T0 + timedelta(minutes=10))
    assert [r["trigger"]["id"] for r in finished(engine, started)] == ["en-cours.md"]


def test_a_missing_folder_or_connection_is_reported(engine, tmp_path):
    engine.save_recipe(recipe(folder=str(tmp_path / "nowhere")))
    engine.save_recipe(recipe("site", source="wordpress"))
    Scheduler(engine).run_once(T0)
    assert last_error(engine) == f"ActionError: the folder {tmp_path / 'nowhere'} does not exist (or is not a folder)"
    assert last_error(engine, "site") == ("ActionError: wcms.post_published with source: wordpress needs a website "
                                          "connection (e.g. a WordPress site)")


def test_a_folder_outside_the_allowed_ones_is_refused(engine):
    engine.save_recipe(recipe(folder="/etc"))
    assert Scheduler(engine).run_once(T0) == []
    assert "BEFFROI_ALLOWED_FOLDERS" in last_error(engine)
