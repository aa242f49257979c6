"""`analytics.track_event` through the engine: the metric store, idempotency, the utm filter, dry runs."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import func, select

from beffroi.recipes import RecipeInvalid
from beffroi.store.builtin_tables import DeliveryRow
from beffroi_plugins.analytics import store
from beffroi_plugins.analytics.tables import AnalyticsEventRow

from .helpers import RecordingPlugin, recipe
from .servers.matomo import MatomoServer
from .servers.plausible import PlausibleServer

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def engine(make_engine, database_url):
    return make_engine(database_url, plugins=[RecordingPlugin()], allowed_networks=["127.0.0.0/8"])


@pytest.fixture
def matomo():
    server = MatomoServer(tokens=(TOKEN,)).start()
    yield server
    server.stop()


@pytest.fixture
def plausible():
    server = PlausibleServer().start()
    yield server
    server.stop()


@pytest.fixture
def tools(engine, matomo, plausible):
    """Connections `city-matomo` and `city-plausible` to the local servers."""
    engine.connections.save("city-matomo", "matomo", {"base_url": matomo.url, "site_id": 1, "token_auth": TOKEN})
    engine.connections.save("city-plausible", "plausible", {"base_url": plausible.url, "domain": "www.example.org"})
    return ["city-matomo", "city-plausible"]


def run(engine, *steps, event=None, dry_run=False):
    return engine.run_recipe(engine.validate(recipe(*steps)), event if event is not None else {}, dry_run=dry_run)


def step(result, step_id="track"):
    return next(s for s in result["steps"] if s["id"] == step_id)


def rows(engine, model=AnalyticsEventRow):
    with engine.db.session() as session:
        return session.scalars(select(model)).all()


def test_event_is_stored_with_its_recipe_run_and_step_key(engine):
    result = run(engine, {"id": "track", "uses": "analytics.track_event", "with": {
        "name": "post_published", "campaign": "spring-fair", "url": "{{ trigger.url }}",
        "properties": {"toot": "https://social.example/@city/1", "value": 3}}}, event={"url": "https://www.example.org/a"})
    assert result["status"] == "succeeded", result
    output = step(result)["output"]
    [row] = rows(engine)
    assert output == {"event_id": row.id, "name": "post_published", "campaign": "spring-fair", "sent": []}
    assert (row.name, row.campaign, row.recipe, row.run_id) == ("post_published", "spring-fair", "test-recipe",
                                                                result["id"])
    assert row.idempotency_key == f"{result['id']}:track"
    assert row.properties == {"toot": "https://social.example/@city/1", "value": 3, "url": "https://www.example.org/a"}


def test_the_store_keeps_one_event_per_idempotency_key(engine):
    first = store.record(engine.db, key="run1:track", name="a", campaign=None, properties={}, recipe="r", run_id="run1")
    again = store.record(engine.db, key="run1:track", name="b", campaign="c", properties={"x": 1}, recipe="r",
                         run_id="run1")
    other = store.record(engine.db, key="run2:track", name="a", campaign=None, properties={}, recipe="r", run_id="run2")
    assert again == first and again.name == "a"  # the existing event, untouched
    assert other.id != first.id
    assert len(rows(engine)) == 2


def test_each_item_of_a_loop_is_its_own_event(engine):
    result = run(engine, {"id": "track", "uses": "analytics.track_event", "for_each": "{{ trigger.links }}",
                          "with": {"name": "link_shared", "url": "{{ item }}"}},
                 event={"links": ["https://www.example.org/1", "https://www.example.org/2"]})
    assert result["status"] == "succeeded"
    assert sorted(r.idempotency_key for r in rows(engine)) == [f"{result['id']}:track:0", f"{result['id']}:track:1"]


def test_a_retried_step_counts_once_and_sends_once_to_each_tool(engine, tools, matomo, plausible):
    # Plausible keeps answering 429 past the outbound client's retries: the first attempt fails after
    # Matomo got the event; the step's second attempt must only send to Plausible.
    plausible.reply_next(429, times=4, headers={"Retry-After": "0"})
    result = run(engine, {"id": "track", "uses": "analytics.track_event", "connection": tools,
                          "retry": {"attempts": 2, "backoff": "10ms"}, "with": {"name": "post_published"}})
    assert result["status"] == "succeeded", result
    assert step(result)["attempts"] == 2
    assert step(result)["output"]["sent"] == [
        {"connection": "city-matomo", "type": "matomo", "status": "already_sent"},
        {"connection": "city-plausible", "type": "plausible", "status": "sent"}]
    assert len(matomo.tracked) == 1 and len(plausible.events) == 1
    assert len(rows(engine)) == 1
    deliveries = {d.target: d.status for d in rows(engine, DeliveryRow)}
    assert deliveries == {"city-matomo": "done", "city-plausible": "done"}


def test_utm_filter_in_a_recipe_tags_the_link_and_keeps_its_query(engine, tools, matomo, plausible):
    result = run(engine, {"id": "track", "uses": "analytics.track_event", "connection": tools, "with": {
        "name": "post_published",
        "url": "{{ trigger.url | utm(source='mastodon', medium='social', campaign=run.recipe) }}"}},
        event={"url": "https://www.example.org/news/fete?lang=fr&utm_source=rss#top"})
    assert result["status"] == "succeeded", result
    [row] = rows(engine)
    link = urlsplit(row.properties["url"])
    assert (link.netloc, link.path, link.fragment) == ("www.example.org", "/news/fete", "top")
    assert parse_qsl(link.query) == [("lang", "fr"), ("utm_source", "mastodon"), ("utm_medium", "social"),
                                     ("utm_campaign", "test-recipe")]
    assert matomo.tracked[0]["e_n"] == matomo.tracked[0]["url"] == row.properties["url"]
    assert plausible.events[0]["url"] == row.properties["url"]  # Plausible reads the UTM parameters from it


def test_dry_run_previews_and_neither_stores_nor_sends(engine, tools, matomo, plausible):
    result = run(engine, {"id": "track", "uses": "analytics.track_event", "connection": tools, "with": {
        "name": "post_published", "campaign": "spring-fair", "url": "https://www.example.org/a"}}, dry_run=True)
    assert result["status"] == "succeeded", result
    preview = step(result)["output"]
    assert preview["would_store"] == {"name": "post_published", "campaign": "spring-fair", "recipe": "test-recipe",
                                      "properties": {"url": "https://www.example.org/a"}}
    matomo_request, plausible_request = (s["request"] for s in preview["would_send"])
    assert matomo_request["form"]["e_c"] == "spring-fair" and matomo_request["form"]["token_auth"] == "***"
    assert plausible_request["json"]["domain"] == "www.example.org"
    assert TOKEN not in str(result)
    assert matomo.requests == [] and plausible.requests == []
    assert rows(engine) == [] and rows(engine, DeliveryRow) == []


def test_a_connection_of_another_tool_type_is_refused(engine):
    engine.connections.save("social", "testapi", {"base_url": "https://s.example", "token": "tok-secret"})
    with pytest.raises(RecipeInvalid) as caught:
        run(engine, {"id": "track", "uses": "analytics.track_event", "connection": "social", "with": {"name": "x"}})
    assert [str(p) for p in caught.value.problems] == [
        "steps[0].connection: 'social' is a testapi connection (testsocial); analytics.track_event needs one of type "
        "analytics"]
    assert rows(engine) == []


@pytest.mark.parametrize("with_, where, message", [
    ({"name": " "}, "steps[0].with.name", "must not be empty"),
    ({"name": "x", "url": "www.example.org"}, "steps[0].with.url", "must be a full address with its scheme"),
    ({"name": "x", "url": "https://a.example", "properties": {"url": "https://b.example"}}, "steps[0].with",
     "not two different ones"),
    ({"name": "x", "properties": {"blob": "x" * 20_000}}, "steps[0].with.properties", "at most 16000"),
])
def test_bad_input_is_refused_when_the_recipe_is_saved(engine, with_, where, message):
    with pytest.raises(RecipeInvalid) as caught:
        engine.validate(recipe({"id": "track", "uses": "analytics.track_event", "with": with_}))
    assert any(p.loc == where and message in p.message for p in caught.value.problems), caught.value.problems


def test_counts_in_the_store_match_the_runs(engine):
    for _ in range(3):
        run(engine, {"id": "track", "uses": "analytics.track_event", "with": {"name": "signup"}})
    with engine.db.session() as session:
        assert session.scalar(select(func.count()).select_from(AnalyticsEventRow)) == 3
