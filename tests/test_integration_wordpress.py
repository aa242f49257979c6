"""Integration tier: the wcms `wordpress` connector against a real WordPress (Debian's package, PHP, MariaDB).

One site for the module (tests/servers/real_wordpress.py: a fresh database, installed by a PHP CLI script,
served by `php -S` on an ephemeral port). Skipped, with the reason, where PHP, WordPress or MariaDB is not
there; .ci/run installs the packages so that in CI these run.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from beffroi.scheduler import Scheduler

from .helpers import finished
from .servers.http_base import PNG
from .servers.real_wordpress import RealWordPress, missing


@pytest.fixture(scope="module")
def wordpress():
    reason = missing()
    if reason:
        pytest.skip(f"real WordPress integration tests: {reason}")
    with RealWordPress() as site:
        yield site


@pytest.fixture
def engine(make_engine, wordpress):
    engine = make_engine(allowed_networks=["127.0.0.0/8"])
    connect(engine, wordpress)
    return engine


def connect(engine, wordpress, password=None) -> None:
    engine.connections.save("site", "wordpress", {
        "base_url": wordpress.url, "username": wordpress.username,
        "application_password": password or wordpress.application_password})


def run(engine, **with_) -> dict:
    recipe = engine.validate({"name": "to-site", "trigger": {"uses": "builtins.manual"},
                              "steps": [{"id": "post", "uses": "wcms.create_post", "connection": "site",
                                         "with": with_}]})
    return engine.run_recipe(recipe, {})


def test_create_post_makes_a_draft_that_wordpress_holds(engine, wordpress):
    result = run(engine, title="Marché de Noël", content="<p>Du 1er au 24 décembre.</p>", excerpt="Court",
                 categories=["Agenda"], create_categories=True)
    assert result["status"] == "succeeded", result["error"]
    output = result["steps"][0]["output"]
    assert output["status"] == "draft"

    stored = wordpress.api("GET", f"posts/{output['id']}", params={"context": "edit"}).json()
    assert stored["status"] == "draft" and stored["link"] == output["url"]
    assert stored["title"]["raw"] == "Marché de Noël"
    assert stored["content"]["raw"] == "<p>Du 1er au 24 décembre.</p>"
    assert stored["excerpt"]["raw"] == "Court"
    [agenda] = [c for c in wordpress.api("GET", "categories", params={"search": "Agenda"}).json()
                if c["name"] == "Agenda"]
    assert stored["categories"] == [agenda["id"]]

    again = run(engine, title="Encore", categories=["agenda"])  # found by name, case-insensitively
    assert again["status"] == "succeeded", again["error"]
    assert wordpress.api("GET", f"posts/{again['steps'][0]['output']['id']}",
                         params={"context": "edit"}).json()["categories"] == [agenda["id"]]


def test_a_wrong_application_password_fails_the_step_as_refused_credentials(engine, wordpress):
    connect(engine, wordpress, password="abcd EFGH 1234 ijkl MNOP 5678")
    result = run(engine, title="Jamais publié")
    [step] = result["steps"]
    assert step["status"] == "failed" and step["attempts"] == 1
    assert step["error"].startswith(f"WordPress at 127.0.0.1:{wordpress.port} refused the credentials of "
                                    "connection 'site'")
    assert "check the user name and the application password" in step["error"]
    assert "abcd" not in step["error"]
    found = wordpress.api("GET", "posts", params={"search": "Jamais publié", "status": "draft,publish"}).json()
    assert found == []


def test_the_trigger_seeds_then_fires_once_for_a_new_published_post(engine, wordpress):
    engine.save_recipe({"name": "from-site",
                        "trigger": {"uses": "wcms.post_published", "connection": "site",
                                    "with": {"source": "wordpress", "limit": 10}},
                        "steps": [{"id": "keep", "uses": "data.set", "with": {"url": "{{ trigger.url }}"}}]})
    scheduler = Scheduler(engine)
    now = datetime.now(UTC)
    assert scheduler.run_once(now) == []  # seeds with the posts already there ("Hello world!")

    post = wordpress.publish("L'été à Namur", "<p>Des concerts.</p>")
    started = scheduler.run_once(now + timedelta(minutes=5))
    [done] = finished(engine, started, every=0.05)
    assert done["status"] == "succeeded", done["error"]
    event = done["trigger"]
    assert event["id"] == str(post["id"]) and event["url"] == post["link"]
    assert event["title"] == "L’été à Namur"  # as WordPress renders it (wptexturize)
    assert event["content_html"].strip() == "<p>Des concerts.</p>"
    assert event["author"] == wordpress.display_name and event["categories"] == ["Uncategorized"]
    assert event["published_at"] == datetime.fromisoformat(post["date_gmt"]).replace(
        tzinfo=UTC).isoformat()

    assert scheduler.run_once(now + timedelta(minutes=10)) == []  # no second run for the same post


def test_the_trigger_reports_a_wrong_application_password(engine, wordpress):
    from beffroi.store.models import TriggerStateRow

    connect(engine, wordpress, password="abcd EFGH 1234 ijkl MNOP 5678")
    engine.save_recipe({"name": "bad-password",
                        "trigger": {"uses": "wcms.post_published", "connection": "site",
                                    "with": {"source": "wordpress"}},
                        "steps": [{"id": "keep", "uses": "data.set", "with": {"url": "{{ trigger.url }}"}}]})
    Scheduler(engine).run_once(datetime.now(UTC))
    with engine.db.session() as s:
        error = s.get(TriggerStateRow, "bad-password").last_error
    assert error and "refused the credentials of connection 'site'" in error


def test_images_from_documents_reach_the_media_library_and_the_featured_image_is_set(engine, wordpress):
    folder = engine.settings.data_dir / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "affiche.png").write_bytes(PNG)
    (folder / "plan.png").write_bytes(PNG)
    result = run(engine, title="Marché de Noël en images", content="<p>Du 1er au 24 décembre.</p>",
                 featured_image={"path": "affiche.png", "alt": "Des chalets illuminés"},
                 images=[{"path": "plan.png", "alt": "Plan du marché"}])
    assert result["status"] == "succeeded", result["error"]
    output = result["steps"][0]["output"]
    stored = wordpress.api("GET", f"posts/{output['id']}", params={"context": "edit"}).json()
    featured, plan = output["media"]
    assert stored["featured_media"] == featured["id"] == output["featured_media"]
    media = wordpress.api("GET", f"media/{featured['id']}", params={"context": "edit"}).json()
    assert media["alt_text"] == "Des chalets illuminés" and media["mime_type"] == "image/png"
    assert media["media_details"]["filesize"] == len(PNG) and media["source_url"].endswith(".png")
    assert f'class="wp-image-{plan["id"]}"' in stored["content"]["raw"]
    assert wordpress.api("GET", f"media/{plan['id']}", params={"context": "edit"}).json()["alt_text"] == \
        "Plan du marché"
