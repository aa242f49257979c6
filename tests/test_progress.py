"""A long step's progress (`ctx.progress`): a campaign being sent shows sent/total, its rate and the time left in
the run's API detail and on its page, while it runs (a local SMTP server holds a message open meanwhile), then its
final counts."""
from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from beffroi import create_app
from beffroi_plugins.crm.contacts import add_to_list, upsert_contact

from .helpers import finished, recipe
from .test_email_campaign import EVENT, PUBLIC, campaign, smtp
from .test_email_servers import WAIT, smtp_factory  # noqa: F401
from .ui_helpers import PASSWORD, sign_in


def members(engine, *emails: str) -> None:
    for email in emails:
        upsert_contact(engine.db, email, consent=True, consent_source="test")
        add_to_list(engine.db, email, "press", "test")


@pytest.fixture
def engine(make_engine, database_url):
    """The campaign tests' contacts (three consenting members of `press`), every report written (no throttle)."""
    engine = make_engine(database_url, allowed_networks=["127.0.0.0/8"], public_url=PUBLIC, progress_interval=0)
    members(engine, "ann@example.org", "bob@example.org", "eve@example.org")
    return engine


def started(engine, step) -> tuple[str, threading.Thread]:
    """A run of a one-step recipe executing in a thread of its own."""
    run_id = engine.create_run(engine.validate(recipe(step)), EVENT)
    assert run_id is not None
    worker = threading.Thread(target=engine.execute, args=(run_id,), daemon=True)
    worker.start()
    return run_id, worker


def test_a_campaign_shows_sent_of_total_its_rate_and_time_left_while_it_sends_then_its_final_counts(
        engine, smtp_factory):
    mailbox, port = smtp_factory()
    mailbox.hold_message, mailbox.accept_held = 2, True  # the third message waits until the test has looked
    run_id, worker = started(engine, campaign(smtp(engine, port)))
    try:
        assert mailbox.held.wait(WAIT)
        step = engine.runs.detail(run_id)["steps"][0]
        assert step["status"] == "running"
        progress = step["progress"]
        assert (progress["done"], progress["total"]) == (2, 3)
        assert progress["rate_per_second"] > 0 and progress["seconds_left"] >= 0

        _, token = engine.tokens.create("editor", "editor")
        api = TestClient(create_app(engine), headers={"Authorization": f"Bearer {token}"})
        shown = api.get(f"/api/runs/{run_id}").json()["steps"][0]["progress"]
        assert (shown["done"], shown["total"]) == (2, 3) and shown["rate_per_second"] > 0

        engine.users.create("viewer@example.org", PASSWORD, role="viewer")
        browser = TestClient(create_app(engine))
        assert sign_in(browser, "viewer@example.org").status_code == 303
        page = browser.get(f"/runs/{run_id}", headers={"Accept-Language": "en"}).text
        assert '<progress max="3" value="2"' in page
        assert "Sent 2 of 3, " in page and " per " in page and " left." in page
        browser.cookies.set("lang", "fr")
        french = browser.get(f"/runs/{run_id}").text
        assert "2 envoyés sur 3, " in french and "encore environ" in french
    finally:
        mailbox.release.set()
        worker.join(WAIT)
    run = engine.runs.detail(run_id)
    assert run["status"] == "succeeded", run["error"]
    step = run["steps"][0]
    assert step["output"]["sent"] == 3
    assert (step["progress"]["done"], step["progress"]["total"]) == (3, 3)
    page = browser.get(f"/runs/{run_id}", headers={"Accept-Language": "en"}).text
    assert '<progress max="3" value="3"' in page and "Sent 3 of 3." in page  # the final counts, no rate


def test_a_resumed_campaign_counts_what_earlier_attempts_sent_and_its_own_rate_only(engine, smtp_factory):
    mailbox, port = smtp_factory()
    mailbox.replies["eve@example.org"] = ["451 4.7.1 Greylisted, try again later"]  # the first attempt ends 2 of 3
    run_id, worker = started(engine, campaign(smtp(engine, port)))
    worker.join(WAIT)
    first = engine.runs.detail(run_id)
    assert first["status"] == "failed"
    assert (first["steps"][0]["progress"]["done"], first["steps"][0]["progress"]["total"]) == (2, 3)
    mailbox.hold_message, mailbox.accept_held = 2, True  # the retry's one message waits for the test
    engine.retry(run_id)  # executed by the engine's own threads
    try:
        assert mailbox.held.wait(WAIT)
        progress = engine.runs.detail(run_id)["steps"][0]["progress"]
        assert (progress["done"], progress["total"]) == (2, 3)
        assert progress["rate_per_second"] is None  # this attempt has sent nothing yet: no rate, no time left
    finally:
        mailbox.release.set()
    [run] = finished(engine, [run_id])
    assert run["status"] == "succeeded", run["error"]
    assert run["steps"][0]["progress"]["done"] == 3 and run["steps"][0]["progress"]["rate_per_second"] > 0


def test_a_dry_run_and_a_step_that_reports_nothing_have_no_progress(engine):
    result = engine.run_recipe(engine.validate(recipe(campaign())), EVENT, dry_run=True)
    assert result["status"] == "succeeded"
    assert "progress" not in result["steps"][0]


def test_reports_are_throttled_but_the_first_and_final_ones_are_always_written(make_engine, database_url):
    engine = make_engine(database_url, progress_interval=3600)
    members(engine, "ann@example.org", "bob@example.org")
    result = engine.run_recipe(engine.validate(recipe(campaign())), EVENT)  # to the outbox
    assert result["status"] == "succeeded", result["error"]
    assert (result["steps"][0]["progress"]["done"], result["steps"][0]["progress"]["total"]) == (2, 2)
