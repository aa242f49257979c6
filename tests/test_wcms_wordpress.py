"""The `wordpress` connection against a local WordPress REST API: the trigger, `wcms.create_post`, the test call."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from beffroi import ActionContext
from beffroi.api import create_app
from beffroi.recipes import RecipeInvalid
from beffroi.scheduler import Scheduler
from beffroi.store.models import RunRow, StepRunRow, TriggerStateRow

from .helpers import finished
from .servers.wordpress import Fault, WordPressServer

T0 = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"


@pytest.fixture
def site():
    with WordPressServer() as server:
        yield server


@pytest.fixture
def engine(make_engine, database_url, site):
    engine = make_engine(database_url, allowed_networks=["127.0.0.0/8"], http_timeout=0.5)
    connect(engine, site)
    return engine


def connect(engine, site, name="city-blog", username="comms", password=PASSWORD) -> None:
    engine.connections.save(name, "wordpress", {"base_url": site.url + "/", "username": username,
                                                "application_password": password})


def step(uses="wcms.create_post", connection="city-blog", retry=None, **with_) -> dict:
    data = {"id": "post", "uses": uses, "connection": connection, "with": with_}
    return {**data, "retry": retry} if retry else data


def run(engine, *steps, event=None, dry_run=False) -> dict:
    recipe = engine.validate({"name": "to-site", "trigger": {"uses": "builtins.manual"}, "steps": list(steps)})
    return engine.run_recipe(recipe, event or {}, dry_run=dry_run)


NEWS = {"title": "{{ trigger.title }}", "content": "<p>{{ trigger.body }}</p>", "status": "publish",
        "categories": ["Agenda", "Sport & loisirs"], "excerpt": "Short"}
EVENT = {"title": "Marché de Noël", "body": "Du 1er au 24 décembre."}


# -- the trigger --------------------------------------------------------------------------------
def wordpress_recipe(**options) -> dict:
    return {"name": "from-site", "trigger": {"uses": "wcms.post_published", "connection": "city-blog",
                                              "with": {"source": "wordpress", **options}},
            "steps": [{"id": "keep", "uses": "data.set", "with": {"url": "{{ trigger.url }}"}}]}


def test_a_new_wordpress_post_fires_one_run_with_the_normalised_event(engine, site):
    site.add_post("Old post", date=T0 - timedelta(days=3))
    engine.save_recipe(wordpress_recipe(limit=5))
    scheduler = Scheduler(engine)
    assert scheduler.run_once(T0) == []

    post = site.add_post("L'été à Namur", content="Des concerts.\n\nEt un marché.", excerpt="Concerts & marché",
                         date=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
                         categories=("Agenda", "Sport & loisirs"), image="https://www.namur.example/ete.jpg")
    site.add_post("Brouillon", status="draft")  # not published: never an event
    started = scheduler.run_once(T0 + timedelta(minutes=5))
    [run] = finished(engine, started)
    assert run["trigger"] == {
        "id": str(post["id"]), "title": "L’été à Namur",  # as WordPress renders it (wptexturize)
        "url": f"{site.url}/2026/01/05/l-t-namur/", "summary": "Concerts & marché",
        "content_html": "<p>Des concerts.</p>\n<p>Et un marché.</p>\n",
        "published_at": "2026-01-05T09:00:00+00:00",  # date_gmt, not the site's local `date` (10:00)
        "author": "Service communication", "categories": ["Agenda", "Sport & loisirs"],
        "image_url": "https://www.namur.example/ete.jpg"}
    assert scheduler.run_once(T0 + timedelta(minutes=10)) == []

    seed = site.hits("GET", "posts")[0]
    assert seed["query"] == {"_embed": "1", "orderby": "date", "order": "desc", "per_page": "5"}
    assert seed["user"] == "comms"


def test_the_wordpress_trigger_reports_refused_credentials_and_rides_out_rate_limits(engine, site):
    connect(engine, site, password="wrong password")
    engine.save_recipe(wordpress_recipe())
    scheduler = Scheduler(engine)
    scheduler.run_once(T0)
    with engine.db.session() as s:
        error = s.get(TriggerStateRow, "from-site").last_error
    assert error.startswith("ActionError: WordPress at 127.0.0.1:")
    assert "refused the credentials of connection 'city-blog' (incorrect_password" in error and "wrong" not in error

    connect(engine, site)
    site.add_post("Seed")
    site.fail(Fault("GET", "posts", 429, {"Retry-After": "1"}), Fault("GET", "posts", 503))
    scheduler.run_once(T0 + timedelta(minutes=5))
    with engine.db.session() as s:
        state = s.get(TriggerStateRow, "from-site")
        assert state.last_error is None and state.seeded
    limited, unavailable, served = site.hits("GET", "posts")[-3:]
    assert unavailable["at"] - limited["at"] >= 0.9  # Retry-After honoured (a lower bound only)
    assert served["at"] > unavailable["at"]  # the 503 retried too


# -- wcms.create_post ---------------------------------------------------------------------------
def test_create_post_resolves_categories_and_returns_the_post(engine, site):
    agenda = site.add_category("Agenda")
    sport = site.add_category("Sport & loisirs")
    result = run(engine, step(**NEWS), event=EVENT)
    assert result["status"] == "succeeded", result["error"]
    [created] = [p for p in site.posts.values() if p["title"] == "Marché de Noël"]
    assert result["steps"][0]["output"] == {"id": created["id"], "url": site.link(created), "status": "publish",
                                            "media": [], "featured_media": None}
    assert (created["content"], created["excerpt"], created["categories"]) == (
        "<p>Du 1er au 24 décembre.</p>", "Short", [agenda, sport])
    [sent] = site.hits("POST", "posts")
    assert sent["user"] == "comms" and sent["json"]["status"] == "publish"
    assert [h["query"]["search"] for h in site.hits("GET", "categories")] == ["Agenda", "Sport & loisirs"]


def test_create_post_schedules_drafts_and_future_posts(engine, site):
    when = datetime(2030, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    later = run(engine, step(title="Plus tard", status="future", date=when.isoformat()))
    assert later["steps"][0]["output"]["status"] == "future"
    assert site.hits("POST", "posts")[-1]["json"]["date_gmt"] == "2030-03-01T09:00:00"
    draft = run(engine, step(title="À relire", date="2030-03-01T10:00:00"))  # no zone: the site's time
    assert draft["steps"][0]["output"]["status"] == "draft"
    assert draft["steps"][0]["output"]["url"].endswith(f"/?p={draft['steps'][0]['output']['id']}")
    assert site.hits("POST", "posts")[-1]["json"] == {"title": "À relire", "content": "", "status": "draft",
                                                      "date": "2030-03-01T10:00:00"}
    with pytest.raises(RecipeInvalid) as caught:
        engine.validate({"name": "x", "trigger": {"uses": "builtins.manual"},
                         "steps": [step(title="T", status="future")]})
    assert "steps[0].with: status 'future' needs a date" in str(caught.value)


def test_unknown_categories_fail_before_posting_unless_created(engine, site):
    failed = run(engine, step(title="Jeunes", categories=["Jeunesse"]))
    assert failed["status"] == "failed"
    assert "no category 'Jeunesse' on WordPress at 127.0.0.1:" in failed["steps"][0]["error"]
    assert site.hits("POST", "posts") == [] and len(site.categories) == 1
    created = run(engine, step(title="Jeunes", categories=["Jeunesse"], create_categories=True))
    [category] = [c for c in site.categories.values() if c["name"] == "Jeunesse"]
    assert site.posts[created["steps"][0]["output"]["id"]]["categories"] == [category["id"]]


def test_refused_credentials_fail_the_step_at_once(engine, site):
    connect(engine, site, password="not the password")
    result = run(engine, step(title="Hello", retry={"attempts": 3, "backoff": "10ms"}))
    [post] = result["steps"]
    assert post["status"] == "failed" and post["attempts"] == 1  # not retried: retrying cannot help
    assert "refused the credentials of connection 'city-blog' (incorrect_password" in post["error"]
    assert "check the user name and the application password" in post["error"]
    assert "not the password" not in post["error"] and site.posts == {}

    connect(engine, site, username="nobody")
    result = run(engine, step(title="Hello"))
    assert "refused the credentials of connection 'city-blog' (invalid_username" in result["steps"][0]["error"]


def test_an_account_without_the_right_gets_a_clear_message(engine, site):
    site.add_user("stagiaire", "Stagiaire", "contributor", "zzzz yyyy xxxx")
    connect(engine, site, "intern", "stagiaire", "zzzz yyyy xxxx")
    result = run(engine, step(connection="intern", title="Hello", status="publish"))
    assert "does not allow user 'stagiaire' to do this (rest_cannot_publish" in result["steps"][0]["error"]


def test_a_5xx_is_retried_by_the_step_and_posts_once(engine, site):
    site.fail(Fault("POST", "posts", 503))
    result = run(engine, step(title="Hello", retry={"attempts": 3, "backoff": "10ms"}))
    [post] = result["steps"]
    assert post["status"] == "succeeded" and post["attempts"] == 2
    assert len(site.hits("POST", "posts")) == 2 and len(site.posts) == 1


def test_without_retry_a_5xx_fails_the_step_as_retryable(engine, site):
    site.fail(Fault("POST", "posts", 502))
    result = run(engine, step(title="Hello"))
    assert result["steps"][0]["error"].startswith("WordPress at 127.0.0.1:")
    assert "answered 502 Bad Gateway" in result["steps"][0]["error"]


@pytest.mark.parametrize("fault", [Fault("POST", "posts", lose_answer=True), Fault("POST", "posts", 500, after=True)],
                         ids=["answer-lost", "error-after-creating"])
def test_a_post_created_by_a_failed_attempt_is_found_not_created_again(engine, site, fault):
    site.fail(fault)
    result = run(engine, step(title="Hello", retry={"attempts": 3, "backoff": "10ms"}))
    [post] = result["steps"]
    assert post["status"] == "succeeded" and post["attempts"] == 2
    [created] = site.posts.values()
    assert post["output"] == {"id": created["id"], "url": site.link(created), "status": "draft", "media": [],
                              "featured_media": None}
    assert len(site.hits("POST", "posts")) == 1
    [lookup] = site.hits("GET", "posts")
    assert lookup["query"]["search"] == "Hello" and lookup["query"]["context"] == "edit"


def test_a_post_that_does_not_answer_is_reported_as_a_timeout(engine, site):
    site.fail(Fault("POST", "posts", hang=True))
    result = run(engine, step(title="Hello"))
    error = result["steps"][0]["error"]
    assert error.startswith("WordPress at 127.0.0.1:") and "did not answer in time" in error
    assert "read timeout after 0.5 s" in error
    assert len(site.hits("POST", "posts")) == 1  # a POST the server may have seen is never sent again blindly


def test_a_429_on_the_post_is_sent_again_after_retry_after(engine, site):
    site.fail(Fault("POST", "posts", 429, {"Retry-After": "1"}))
    result = run(engine, step(title="Hello"))
    assert result["status"] == "succeeded" and result["steps"][0]["attempts"] == 1
    refused, accepted = site.hits("POST", "posts")
    assert accepted["at"] - refused["at"] >= 0.9 and len(site.posts) == 1


def test_the_same_step_run_twice_creates_one_post(engine, site):
    spec = engine.registry.actions["wcms.create_post"]
    ctx = ActionContext(run_id="r1", step_id="post", idempotency_key="r1:post", recipe="to-site", http=engine.http,
                        db=engine.db, connections=engine.connections.resolve(["city-blog"], "wcms"))
    payload = spec.input_model(title="Hello")
    first, second = spec.run(payload, ctx), spec.run(payload, ctx)
    assert first == second and len(site.posts) == 1 and len(site.hits("POST", "posts")) == 1


def test_a_resumed_run_does_not_create_the_post_again(engine, site):
    result = run(engine, step(title="Hello"),
                 {"id": "after", "uses": "http.request", "with": {"url": site.url + "/wp-json/wp/v2/nothing"}})
    assert result["status"] == "failed" and result["steps"][0]["status"] == "succeeded"
    with engine.db.session() as s:  # as if the process died before the step's success was journaled
        s.execute(update(StepRunRow).where(StepRunRow.run_id == result["id"], StepRunRow.step_id == "post")
                  .values(status="running"))
        s.execute(update(RunRow).where(RunRow.id == result["id"]).values(status="queued"))
    engine.execute(result["id"])
    again = engine.runs.detail(result["id"])
    assert again["steps"][0]["attempts"] == 2 and again["steps"][0]["output"] == result["steps"][0]["output"]
    assert len(site.posts) == 1 and len(site.hits("POST", "posts")) == 1


def test_a_dry_run_previews_the_post_and_sends_nothing(engine, site):
    result = run(engine, step(**NEWS), event=EVENT, dry_run=True)
    assert result["status"] == "succeeded"
    assert result["steps"][0]["output"] == {
        "id": 0, "url": "https://preview.invalid/wordpress/city-blog", "status": "publish", "media": [],
        "featured_media": None,
        "would_create": {"connection": "city-blog", "site": site.url, "title": "Marché de Noël",
                         "content": "<p>Du 1er au 24 décembre.</p>", "status": "publish", "date": None,
                         "categories": ["Agenda", "Sport & loisirs"], "create_categories": False, "excerpt": "Short",
                         "images": [], "featured_image": None, "uploads": []}}
    assert site.requests == []


def test_a_step_without_a_wordpress_connection_fails_clearly(engine, site):
    result = run(engine, step(connection=None, title="Hello"))
    assert result["steps"][0]["error"] == "wcms.create_post needs a website connection (e.g. a WordPress site)"


# -- the connection test ------------------------------------------------------------------------
def test_the_connection_test_signs_in(engine, site):
    token = engine.tokens.create("admin-token", "admin")[1]
    api = TestClient(create_app(engine), base_url="http://beffroi.test", headers={"Authorization": f"Bearer {token}"})
    answer = api.post("/api/connections/city-blog/test").json()
    assert answer == {"ok": True,
                      "message": f"signed in to WordPress at {site.url[7:]} as Service communication (editor)"}
    assert site.hits("GET", "users/me")[0]["query"] == {"context": "edit"}

    connect(engine, site, password="nope nope")
    answer = api.post("/api/connections/city-blog/test").json()
    assert answer["ok"] is False and "refused the credentials" in answer["message"]
