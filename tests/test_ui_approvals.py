"""The approvals' pages: what waits for me, one request with each channel's message and a text box per editable text
(errors beside the field and in a summary), approve, reject with a reason; who may decide; the run page's link."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from beffroi import create_app

from .approval_helpers import ANA, EDDY, STARTER, Clock, held_recipe, people, settled, start, step
from .servers.mastodon import MastodonServer
from .ui_helpers import sign_in, token_of

PASSWORD = "a long enough password"


@pytest.fixture
def mastodon():
    with MastodonServer({"tok-city": "city"}) as server:
        yield server


@pytest.fixture
def site(make_engine, mastodon):
    engine = make_engine(clock=Clock(), allowed_networks=["127.0.0.0/8"])
    people(engine)
    engine.users.create("viewer@city.be", PASSWORD, role="viewer")
    engine.connections.save("city-mastodon", "mastodon", {"base_url": mastodon.url, "access_token": "tok-city",
                                                          "max_characters": 60})
    app = create_app(engine)

    class Site:
        def __init__(self):
            self.engine = engine

        def client(self, email: str, language: str = "en") -> TestClient:
            browser = TestClient(app, cookies={"beffroi_lang": language})
            assert sign_in(browser, email, PASSWORD).status_code == 303
            return browser
    return Site()


def held(site) -> tuple[str, dict]:
    run_id = start(site.engine, held_recipe(connection="city-mastodon"))
    (request,) = site.engine.approvals.of_run(run_id)
    return run_id, request


def test_the_approver_sees_each_message_edits_the_mastodon_text_and_approves(site, mastodon):
    run_id, request = held(site)
    ana = site.client(ANA)
    listing = ana.get("/approvals")
    assert listing.status_code == 200
    assert f'href="/approvals/{request["id"]}"' in listing.text and "Waiting for you" in listing.text
    page = ana.get(f"/approvals/{request['id']}")
    assert page.status_code == 200
    assert "Post on Mastodon" in page.text and "31 / 60 characters" in page.text
    assert "E-mail: Fête de la musique: Grand-Place" in page.text
    assert '<label for="text-0">Text for city-mastodon (mastodon)</label>' in page.text
    assert 'aria-describedby="text-0-hint"' in page.text and "Check the dates" in page.text
    form = {"csrf": token_of(page), "decision": "approve", "text-0": "x" * 61, "text-1": "Fête: 21 juin",
            "text-2": "See you there.", "note": "dates checked"}
    refused = ana.post(f"/approvals/{request['id']}", data=form)
    assert refused.status_code == 400
    assert "This text has 61 characters, over the limit of 60: shorten it." in refused.text
    assert '<a href="#text-0">' in refused.text and 'aria-invalid="true"' in refused.text
    assert "x" * 61 in refused.text  # what was typed is kept
    assert site.engine.runs.detail(run_id)["status"] == "waiting"
    form["text-0"] = "Fête de la musique, le 21 juin!"
    done = ana.post(f"/approvals/{request['id']}", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/approvals/{request['id']}"
    run = settled(site.engine, run_id)
    assert run["status"] == "succeeded"
    assert [s["text"] for s in mastodon.statuses] == ["Fête de la musique, le 21 juin!"]
    assert step(run, "mail")["input"]["subject"] == "Fête: 21 juin"
    after = ana.get(f"/approvals/{request['id']}")
    assert "Your approval is recorded" in after.text and "approved" in after.text and "dates checked" in after.text
    again = ana.post(f"/approvals/{request['id']}", data=form, follow_redirects=False)
    assert again.status_code == 303
    assert "already recorded: nothing changed" in ana.get(again.headers["location"]).text


def test_reject_needs_a_reason_and_stops_the_run(site):
    run_id, request = held(site)
    ana = site.client(ANA, "fr")
    page = ana.get(f"/approvals/{request['id']}")
    assert "Approuver" in page.text
    missing = ana.post(f"/approvals/{request['id']}", data={"csrf": token_of(page), "decision": "reject",
                                                            "reason": ""})
    assert missing.status_code == 400 and '<a href="#reason">' in missing.text
    ana.post(f"/approvals/{request['id']}", data={"csrf": token_of(page), "decision": "reject",
                                                  "reason": "Mauvaise date"})
    run = settled(site.engine, run_id)
    assert run["status"] == "failed" and "Mauvaise date" in run["error"]


def test_who_sees_what(site):
    run_id, request = held(site)
    url = f"/approvals/{request['id']}"
    for email in ("viewer@city.be", EDDY, STARTER):
        browser = site.client(email)
        page = browser.get(url)
        assert page.status_code == 200 and "Post on Mastodon" in page.text
        assert "<textarea" not in page.text and 'value="approve"' not in page.text
        assert browser.post(url, data={"csrf": token_of(page), "decision": "approve"}).status_code == 403
    assert "no self-approval" in site.client(STARTER).get(url).text
    assert 'href="/approvals"' not in site.client("viewer@city.be").get("/runs").text  # no menu entry
    assert 'href="/approvals"' in site.client(ANA).get("/runs").text
    assert site.engine.runs.detail(run_id)["status"] == "waiting"
    run_page = site.client("viewer@city.be").get(f"/runs/{run_id}")
    assert "This run waits for approval." in run_page.text and f'href="{url}"' in run_page.text
    assert site.client(ANA).get("/approvals/nothing").status_code == 404
    assert "Nothing waits for your decision." in site.client(EDDY).get("/approvals").text


def test_a_form_from_elsewhere_is_refused(site):
    _run_id, request = held(site)
    ana = site.client(ANA)
    assert ana.post(f"/approvals/{request['id']}", data={"csrf": "forged", "decision": "approve"}).status_code == 403
    assert site.engine.approvals.get(request["id"])["status"] == "pending"
