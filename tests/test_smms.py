"""smms.publish through the engine, against local Mastodon and Bluesky servers speaking their real protocols."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from beffroi import ActionContext, outbox
from beffroi.store.models import RunRow

from .helpers import recipe
from .servers.bluesky import BlueskyServer
from .servers.http_base import PNG, StaticServer
from .servers.mastodon import MastodonServer

FETE = "Fête à Liège https://example.org/a #Liège"


@pytest.fixture
def mastodon():
    with MastodonServer({"tok-city": "city"}) as server:
        yield server


@pytest.fixture
def bluesky():
    with BlueskyServer({"city.bsky.social": "app-pass-1234"}) as server:
        yield server


@pytest.fixture
def engine(make_engine, database_url):
    return make_engine(database_url, allowed_networks=["127.0.0.0/8"])


@pytest.fixture
def accounts(engine, mastodon, bluesky):
    """Connections city-mastodon and city-bluesky to the local servers."""
    engine.connections.save("city-mastodon", "mastodon", {"base_url": mastodon.url, "access_token": "tok-city"})
    engine.connections.save("city-bluesky", "bluesky", {"service": bluesky.url, "handle": "city.bsky.social",
                                                        "app_password": "app-pass-1234"})
    return ["city-mastodon", "city-bluesky"]


def publish(engine, with_, connection=None, *, dry_run=False, **step_options):
    step = {"id": "announce", "uses": "smms.publish", "with": with_, **step_options}
    if connection is not None:
        step["connection"] = connection
    return engine.run_recipe(engine.validate(recipe(step)), {}, dry_run=dry_run)


def the_step(run):
    return run["steps"][0]


def test_publishes_on_every_account_in_the_order_of_the_connections(engine, accounts, mastodon, bluesky):
    run = publish(engine, {"text": FETE, "language": "fr"}, accounts)
    assert run["status"] == "succeeded", the_step(run)["error"]
    results = the_step(run)["output"]["results"]
    assert [(r["account"], r["network"], r["outbox"]) for r in results] == [
        ("city-mastodon", "mastodon", False), ("city-bluesky", "bluesky", False)]

    [status] = mastodon.statuses
    assert (status["text"], status["language"], status["visibility"]) == (FETE, "fr", "public")
    assert results[0]["id"] == status["id"] and results[0]["url"] == status["url"]
    [post_request] = mastodon.posts_to("/api/v1/statuses")
    assert post_request["key"] == f"{run['id']}:announce:city-mastodon"

    [post] = bluesky.posts()  # the server validated the facets byte by byte
    assert post["text"] == FETE and post["langs"] == ["fr"]
    assert [f["index"] for f in post["facets"]] == [{"byteStart": 16, "byteEnd": 37}, {"byteStart": 38, "byteEnd": 45}]
    assert [f["features"][0] for f in post["facets"]] == [
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/a"},
        {"$type": "app.bsky.richtext.facet#tag", "tag": "Liège"}]
    did, rkey = bluesky.dids["city.bsky.social"], results[1]["id"].rsplit("/", 1)[-1]
    assert results[1]["id"] == f"at://{did}/app.bsky.feed.post/{rkey}"
    assert results[1]["url"] == f"https://bsky.app/profile/city.bsky.social/post/{rkey}"
    journal = str(engine.runs.detail(run["id"]))
    assert "tok-city" not in journal and "app-pass-1234" not in journal


def test_a_text_over_a_limit_fails_naming_the_account_and_the_count_and_publishes_nowhere(
        engine, accounts, mastodon, bluesky):
    text = "Fête à Liège 🎉 " * 24 + "https://example.org/a"  # 381 graphemes; 381 - 21 + 23 for Mastodon
    run = publish(engine, {"text": text}, accounts, retry={"attempts": 3, "backoff": "10ms"})
    assert run["status"] == "failed"
    step = the_step(run)
    assert step["error"] == ("city-bluesky: 381 graphemes, over Bluesky's limit of 300 "
                             "(shorten the text, or allow truncation)")
    assert step["attempts"] == 1  # not retried: the text will not get shorter
    assert mastodon.statuses == [] and bluesky.posts() == []


def test_mastodon_counts_links_as_23_characters(engine, accounts, mastodon):
    link = "https://www.example.org/actualites/2025/fete?utm_source=mastodon&utm_medium=social&utm_campaign=blog"
    text = "é" * 470 + " " + link  # 572 characters, 494 as Mastodon counts
    run = publish(engine, {"text": text}, ["city-mastodon"])
    assert run["status"] == "succeeded", the_step(run)["error"]
    assert mastodon.statuses[0]["text"] == text


def test_truncate_keeps_the_link_whole_at_the_end(engine, accounts, mastodon, bluesky):
    link = "https://example.org/actualites/fete-de-wallonie"
    text = "La Fête de Wallonie revient à Liège avec des concerts. " * 7 + f"Tout le programme : {link} #Liège"
    run = publish(engine, {"text": text, "overflow": "truncate"}, accounts)
    assert run["status"] == "succeeded", the_step(run)["error"]
    assert mastodon.statuses[0]["text"] == text  # fits on Mastodon as written
    [post] = bluesky.posts()
    assert post["text"].endswith(f"… {link}") and post["text"] != text
    assert text.startswith(post["text"].rpartition("… ")[0])
    assert [f["features"][0]["uri"] for f in post["facets"]] == [link]
    assert the_step(run)["output"]["results"][1]["text"] == post["text"]


def test_a_retried_step_posts_only_once_per_account(engine, accounts, mastodon, bluesky):
    bluesky.fail("com.atproto.server.createSession", 500)
    run = publish(engine, {"text": FETE}, accounts, retry={"attempts": 2, "backoff": "10ms"})
    assert run["status"] == "succeeded", the_step(run)["error"]
    assert the_step(run)["attempts"] == 2
    assert len(mastodon.posts_to("/api/v1/statuses")) == 1  # the journal kept the retry off Mastodon
    assert len(mastodon.statuses) == 1 and len(bluesky.posts()) == 1


def test_partial_failure_names_the_failed_account_and_a_rerun_posts_only_there(engine, accounts, mastodon, bluesky):
    engine.connections.save("city-bluesky", "bluesky", {"service": bluesky.url, "handle": "city.bsky.social",
                                                        "app_password": "wrong-password"})
    run = publish(engine, {"text": FETE}, accounts, retry={"attempts": 3, "backoff": "10ms"})
    assert run["status"] == "failed"
    step = the_step(run)
    assert step["error"] == ("city-bluesky: Bluesky refused the credentials for @city.bsky.social (Invalid "
                             "identifier or password); check the handle and the app password (already published "
                             "on city-mastodon, not again on a retry)")
    assert step["attempts"] == 1 and len(mastodon.statuses) == 1

    engine.connections.save("city-bluesky", "bluesky", {"service": bluesky.url, "handle": "city.bsky.social",
                                                        "app_password": "app-pass-1234"})
    with engine.db.session() as session:  # what POST /api/runs/{id}/retry does
        session.execute(update(RunRow).where(RunRow.id == run["id"]).values(status="queued", error=None,
                                                                             finished_at=None))
    assert engine.execute(run["id"]) == "succeeded"
    assert len(mastodon.posts_to("/api/v1/statuses")) == 1 and len(bluesky.posts()) == 1
    results = engine.runs.detail(run["id"])["steps"][0]["output"]["results"]
    assert [r["account"] for r in results] == accounts and results[0]["id"] == mastodon.statuses[0]["id"]


def test_a_lost_mastodon_answer_is_replayed_with_the_same_idempotency_key(engine, accounts, mastodon):
    mastodon.fail("/api/v1/statuses", 500, after_create=True)
    run = publish(engine, {"text": FETE}, ["city-mastodon"])
    assert run["status"] == "succeeded", the_step(run)["error"]
    requests = mastodon.posts_to("/api/v1/statuses")
    assert len(requests) == 2 and requests[0]["key"] == requests[1]["key"]
    assert len(mastodon.statuses) == 1
    assert the_step(run)["output"]["results"][0]["id"] == mastodon.statuses[0]["id"]


def test_a_lost_bluesky_answer_does_not_make_a_second_post(engine, accounts, bluesky):
    bluesky.fail("com.atproto.repo.createRecord", 500, after_create=True)
    run = publish(engine, {"text": FETE}, ["city-bluesky"], retry={"attempts": 2, "backoff": "10ms"})
    assert run["status"] == "succeeded", the_step(run)["error"]
    assert len(bluesky.calls("com.atproto.repo.createRecord")) == 1  # not replayed: XRPC has no idempotency
    assert len(bluesky.calls("com.atproto.repo.getRecord")) == 1  # the lookup found the post under its key
    [_post] = bluesky.posts()
    assert the_step(run)["output"]["results"][0]["id"].endswith(next(iter(bluesky.records)).rsplit("/", 1)[-1])


def test_refused_mastodon_token_fails_at_once_saying_so(engine, mastodon):
    engine.connections.save("city-mastodon", "mastodon", {"base_url": mastodon.url, "access_token": "revoked"})
    run = publish(engine, {"text": FETE}, "city-mastodon", retry={"attempts": 3, "backoff": "10ms"})
    step = the_step(run)
    assert step["error"] == "city-mastodon: Mastodon refused the credentials (The access token is invalid)"
    assert step["attempts"] == 1 and mastodon.statuses == []


def test_429_is_retried_after_the_delay_the_server_asks(engine, accounts, mastodon, bluesky):
    mastodon.fail("/api/v1/statuses", 429, retry_after="1")
    bluesky.fail("com.atproto.repo.createRecord", 429, error="RateLimitExceeded", retry_after="1")
    run = publish(engine, {"text": FETE}, accounts)
    assert run["status"] == "succeeded", the_step(run)["error"]
    first, second = mastodon.posts_to("/api/v1/statuses")
    assert second["time"] - first["time"] >= 1.0  # waited as asked (a lower bound: never flaky)
    first, second = bluesky.calls("com.atproto.repo.createRecord")
    assert second["time"] - first["time"] >= 1.0
    assert len(mastodon.statuses) == 1 and len(bluesky.posts()) == 1


def test_server_errors_are_retried_with_backoff(engine, accounts, mastodon):
    mastodon.fail("/api/v1/statuses", 503, times=2)
    run = publish(engine, {"text": FETE}, ["city-mastodon"])
    assert run["status"] == "succeeded", the_step(run)["error"]
    assert len(mastodon.posts_to("/api/v1/statuses")) == 3 and len(mastodon.statuses) == 1


def test_a_server_error_that_lasts_fails_the_step_as_retryable(engine, accounts, bluesky):
    bluesky.fail("com.atproto.server.createSession", 502, times=5, error="UpstreamFailure")
    run = publish(engine, {"text": FETE}, ["city-bluesky"], retry={"attempts": 2, "backoff": "10ms"})
    step = the_step(run)
    assert step["attempts"] == 2
    assert step["error"] == "city-bluesky: Bluesky had a server error while trying to sign in (Injected failure)"


def test_a_timeout_is_reported_as_such(make_engine, database_url, bluesky):
    engine = make_engine(database_url, allowed_networks=["127.0.0.0/8"], http_timeout=0.3)
    engine.connections.save("city-bluesky", "bluesky", {"service": bluesky.url, "handle": "city.bsky.social",
                                                        "app_password": "app-pass-1234"})
    bluesky.hang.set()
    run = publish(engine, {"text": FETE}, "city-bluesky")
    error = the_step(run)["error"]
    assert error.startswith("city-bluesky: Bluesky did not answer in time (")
    assert "read timeout after 0.3 s" in error
    assert bluesky.posts() == []


@pytest.fixture
def image_server():
    """Serves /affiche.png (a PNG) and /page.html (not an image) on 127.0.0.1."""
    with StaticServer((b"<html></html>", "text/html"), {"/affiche.png": (PNG, "image/png")}) as server:
        yield server.url


def test_an_image_is_uploaded_with_its_alt_text(engine, accounts, mastodon, bluesky, image_server):
    mastodon.processing_rounds = 2  # 202, then 206 once, then 200: processed in the background
    alt = "Affiche de la Fête de Wallonie : un coq rouge sur fond jaune"
    run = publish(engine, {"text": FETE, "image_url": f"{image_server}/affiche.png", "image_alt": alt}, accounts)
    assert run["status"] == "succeeded", the_step(run)["error"]
    [media] = mastodon.statuses[0]["media_attachments"]
    assert media["description"] == alt
    assert mastodon.media[media["id"]]["data"] == PNG and mastodon.media[media["id"]]["mime_type"] == "image/png"
    [post] = bluesky.posts()
    assert post["embed"]["$type"] == "app.bsky.embed.images"
    [image] = post["embed"]["images"]
    assert image["alt"] == alt and image["image"]["mimeType"] == "image/png" and image["image"]["size"] == len(PNG)


def test_an_address_that_is_not_an_image_fails_before_posting(engine, accounts, mastodon, image_server):
    run = publish(engine, {"text": FETE, "image_url": f"{image_server}/page.html"}, accounts)
    assert the_step(run)["error"] == f"the address {image_server}/page.html is not an image (text/html)"
    assert mastodon.statuses == []


def test_without_a_connection_the_post_goes_to_the_outbox(engine):
    run = publish(engine, {"text": FETE, "language": "fr"})
    assert run["status"] == "succeeded", the_step(run)["error"]
    [result] = the_step(run)["output"]["results"]
    assert result["outbox"] is True and result["url"] is None and result["network"] == "outbox"
    items, total = outbox.items(engine.db, channel="smms")
    assert total == 1 and items[0]["outbox"] is True
    payload = items[0]["payload"]
    assert payload["text"] == FETE and payload["language"] == "fr"
    assert payload["networks"]["bluesky"] == {"count": 41, "limit": 300, "unit": "graphemes", "within_limit": True}


def test_an_outbox_connection_records_each_step_once(engine):
    engine.connections.save("review", "smms_outbox", {})
    run = publish(engine, {"text": FETE}, "review")
    assert the_step(run)["output"]["results"][0]["account"] == "review"
    assert outbox.items(engine.db, connection="review")[1] == 1


def test_dry_run_previews_each_account_and_sends_nothing(engine, accounts, mastodon, bluesky, image_server):
    long = "Fête à Liège 🎉 " * 24 + "https://example.org/a"
    run = publish(engine, {"text": long, "image_url": f"{image_server}/affiche.png", "image_alt": "Affiche"},
                  accounts, dry_run=True)
    assert run["status"] == "succeeded" and run["dry_run"] is True
    masto, bsky = the_step(run)["output"]["would_publish"]
    assert (masto["account"], masto["count"], masto["limit"], masto["within_limit"]) == ("city-mastodon", 383, 500,
                                                                                          True)
    assert (bsky["account"], bsky["count"], bsky["limit"], bsky["within_limit"]) == ("city-bluesky", 381, 300, False)
    assert bsky["problem"] == "city-bluesky: 381 graphemes, over Bluesky's limit of 300"
    assert bsky["text"] == long and bsky["facets"][0]["features"][0]["uri"] == "https://example.org/a"
    assert masto["image"] == {"url": f"{image_server}/affiche.png", "alt": "Affiche"}
    assert mastodon.requests == [] and bluesky.requests == []
    assert outbox.items(engine.db)[1] == 0


def test_dry_run_shows_the_truncated_text(engine, accounts, bluesky):
    long = "Fête à Liège 🎉 " * 24 + "https://example.org/a"
    run = publish(engine, {"text": long, "overflow": "truncate"}, ["city-bluesky"], dry_run=True)
    [item] = the_step(run)["output"]["would_publish"]
    assert item["truncated"] and item["within_limit"] and item["count"] <= 300
    assert item["text"].endswith("… https://example.org/a") and bluesky.requests == []


def test_connection_tests_sign_in(engine, accounts):
    for name, expected in [("city-mastodon", "as @city"), ("city-bluesky", "as @city.bsky.social")]:
        connection = engine.connections.resolve([name], None)[0]
        ctx = ActionContext(run_id="", step_id="test", idempotency_key="", recipe="", connections=[connection],
                            http=engine.http)
        assert engine.registry.connection_types[connection.type].test(connection.config, ctx).endswith(expected)


def test_connection_test_reports_refused_credentials(engine, bluesky):
    engine.connections.save("city-bluesky", "bluesky", {"service": bluesky.url, "handle": "city.bsky.social",
                                                        "app_password": "nope-nope"})
    connection = engine.connections.resolve(["city-bluesky"], None)[0]
    ctx = ActionContext(run_id="", step_id="test", idempotency_key="", recipe="", connections=[connection],
                        http=engine.http)
    with pytest.raises(Exception,
                       match=re.escape("city-bluesky: Bluesky refused the credentials for @city.bsky.social")):
        engine.registry.connection_types["bluesky"].test(connection.config, ctx)


def test_a_rejection_by_the_server_is_reported_with_its_reason(engine, mastodon):
    engine.connections.save("city-mastodon", "mastodon", {"base_url": mastodon.url, "access_token": "tok-city",
                                                          "max_characters": 1000})  # the server says 500
    run = publish(engine, {"text": "é" * 600}, "city-mastodon", retry={"attempts": 3, "backoff": "10ms"})
    step = the_step(run)
    assert step["error"] == ("city-mastodon: Mastodon refused to publish the post "
                             "(Validation failed: Text character limit of 500 exceeded)")
    assert step["attempts"] == 1


def test_a_resumed_step_finds_the_bluesky_post_whose_answer_was_lost(engine, accounts, bluesky):
    bluesky.fail("com.atproto.repo.createRecord", 500, after_create=True)
    bluesky.fail("com.atproto.repo.getRecord", 503, times=4)  # the check fails too (retries included)
    run = publish(engine, {"text": FETE}, ["city-bluesky"])
    assert run["status"] == "failed" and len(bluesky.posts()) == 1
    with engine.db.session() as session:  # what POST /api/runs/{id}/retry does
        session.execute(update(RunRow).where(RunRow.id == run["id"]).values(status="queued", error=None,
                                                                             finished_at=None))
    assert engine.execute(run["id"]) == "succeeded"  # same record key from the journal's start time: found
    assert len(bluesky.posts()) == 1
    step = engine.runs.detail(run["id"])["steps"][0]
    assert step["attempts"] == 2 and step["output"]["results"][0]["id"] == next(iter(bluesky.records))
