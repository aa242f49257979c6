"""Content approval through the engine: a run parked at `flow.approve`, the approvers' texts used by the next steps,
who may decide, reject, all-approvers, expiry, reminder, double clicks, cancel, and a restart while it waits."""
from __future__ import annotations

import pytest

from beffroi import ApprovalConflict, ApprovalInvalid, ApprovalRefused, outbox
from beffroi.scheduler import Scheduler

from .approval_helpers import ANA, AUTHOR, BOB, EDDY, STARTER, Clock, held_recipe, people, settled, start, step
from .servers.mastodon import MastodonServer


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def engine(make_engine, database_url, clock):
    engine = make_engine(database_url, clock=clock, allowed_networks=["127.0.0.0/8"])
    people(engine)
    return engine


def request_of(engine, run_id: str) -> dict:
    (request,) = engine.approvals.of_run(run_id)
    return request


def mails(engine) -> list[dict]:
    items, _total = outbox.items(engine.db, channel="email", connection="outbox")
    return [item["payload"] for item in items]


def test_a_run_waits_at_the_approval_then_publishes_the_approved_text(engine):
    run_id = start(engine, held_recipe())
    run = engine.runs.detail(run_id)
    assert run["status"] == "waiting"
    assert step(run, "note")["status"] == "succeeded"
    assert step(run, "approve")["status"] == "waiting"
    assert step(run, "publish")["status"] == "pending"  # nothing published yet
    request = request_of(engine, run_id)
    assert step(run, "approve")["output"]["approval"] == request["id"]
    assert request["status"] == "pending" and request["excluded"] == [STARTER, AUTHOR]
    assert [p["id"] for p in request["previews"]] == ["publish", "mail"]  # the later steps with side effects
    (post,) = request["previews"][0]["output"]["would_publish"]
    assert post["text"] == "Fête de la musique: Grand-Place"
    assert request["texts"] == {"publish": {"texts.outbox": "Fête de la musique: Grand-Place"},
                                "mail": {"subject": "Fête de la musique: Grand-Place", "text": "See you there."}}
    # each approver but the starter and the author is told, with the link to the page
    told = {mail["headers"]["To"]: mail for mail in mails(engine)}
    assert set(told) == {ANA, BOB}
    assert f"/approvals/{request['id']}" in told[ANA]["text"] and "Check the dates" in told[ANA]["text"]

    result, changed = engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve",
                                             texts={"publish": {"texts.outbox": "Fête de la musique, 21 juin!"},
                                                    "mail": {"subject": "Fête: 21 juin"}}, note="dates checked")
    assert changed and result["status"] == "approved"
    run = settled(engine, run_id)
    assert run["status"] == "succeeded", run
    assert step(run, "publish")["output"]["results"][0]["text"] == "Fête de la musique, 21 juin!"
    assert step(run, "mail")["input"]["subject"] == "Fête: 21 juin"
    posts, _ = outbox.items(engine.db, channel="smms")
    assert [p["payload"]["text"] for p in posts] == ["Fête de la musique, 21 juin!"]
    actions = [entry.action for entry in engine.audit.page(target=run_id)]
    assert actions == ["approval.approved", "approval.requested"]
    approved = engine.audit.page(action="approval.approved")[0]
    assert approved.actor == ANA and approved.detail["edited"] == ["mail.subject", "publish.texts.outbox"]
    assert "dates checked" not in str(approved.detail)  # the private note stays on the request


def test_finished_steps_are_not_run_again_when_the_run_resumes(engine, make_engine, database_url, clock):
    data = held_recipe()
    data["steps"][0] = {"id": "note", "uses": "http.request", "with": {"url": "http://127.0.0.1:9/none"},
                        "on_error": "continue"}
    data["steps"][2]["with"]["text"] = "Fixed text"
    data["steps"][3]["with"]["subject"] = "Fixed"
    run_id = start(engine, data)
    assert step(engine.runs.detail(run_id), "note")["attempts"] == 1
    request = request_of(engine, run_id)
    engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve")
    run = settled(engine, run_id)
    assert run["status"] == "succeeded"
    assert step(run, "note")["attempts"] == 1  # journaled as failed-and-continue: not called again on resume


def test_who_may_decide(engine):
    run_id = start(engine, held_recipe({"approvers": [ANA]}))
    request = request_of(engine, run_id)
    for who, role, says in ((STARTER, "approver", "no self-approval"), (AUTHOR, "approver", "no self-approval"),
                            (EDDY, "editor", "approver role"), (BOB, "admin", f"for {ANA} only")):
        with pytest.raises(ApprovalRefused, match=says):
            engine.decide_approval(request["id"], by=who, role=role, decision="approve")
    assert engine.approvals.get(request["id"])["decisions"] == []
    assert engine.runs.detail(run_id)["status"] == "waiting"


def test_a_reject_stops_the_run_with_its_reason(engine):
    run_id = start(engine, held_recipe())
    request = request_of(engine, run_id)
    with pytest.raises(ApprovalInvalid) as refused:
        engine.decide_approval(request["id"], by=ANA, role="approver", decision="reject", reason="  ")
    assert [p.loc for p in refused.value.problems] == ["reason"]
    engine.decide_approval(request["id"], by=ANA, role="approver", decision="reject", reason="wrong date")
    run = settled(engine, run_id)
    assert run["status"] == "failed"
    assert "rejected by ana@city.be: wrong date" in run["error"]
    assert step(run, "publish")["status"] == "pending"
    assert engine.audit.page(action="approval.rejected")[0].actor == ANA


def test_all_listed_approvers_must_approve(engine):
    run_id = start(engine, held_recipe({"approvers": [ANA, BOB], "mode": "all"}))
    request = request_of(engine, run_id)
    result, _ = engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve")
    assert result["status"] == "pending"
    assert engine.runs.detail(run_id)["status"] == "waiting"
    result, _ = engine.decide_approval(request["id"], by=BOB, role="admin", decision="approve")
    assert result["status"] == "approved"
    assert settled(engine, run_id)["status"] == "succeeded"


def test_a_double_click_changes_nothing_and_a_contrary_decision_is_refused(engine):
    run_id = start(engine, held_recipe())
    request = request_of(engine, run_id)
    edit = {"publish": {"texts.outbox": "Edited once"}}
    first, changed = engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve", texts=edit)
    again, changed_again = engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve",
                                                  texts=edit)
    assert changed and not changed_again and again["decisions"] == first["decisions"]
    with pytest.raises(ApprovalConflict, match="already approved"):
        engine.decide_approval(request["id"], by=BOB, role="admin", decision="reject", reason="late")
    assert settled(engine, run_id)["status"] == "succeeded"
    assert len(engine.audit.page(action="approval.approved")) == 1


def test_an_edited_text_over_the_network_limit_is_refused_at_its_place(engine):
    with MastodonServer({"tok-city": "city"}) as server:
        engine.connections.save("city-mastodon", "mastodon", {"base_url": server.url, "access_token": "tok-city",
                                                              "max_characters": 40})
        run_id = start(engine, held_recipe(connection="city-mastodon"))
        request = request_of(engine, run_id)
        (post,) = request["previews"][0]["output"]["would_publish"]
        assert (post["count"], post["limit"]) == (31, 40)
        with pytest.raises(ApprovalInvalid) as refused:
            engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve",
                                   texts={"publish": {"texts.city-mastodon": "x" * 41}})
        (problem,) = refused.value.problems
        assert problem.loc == "texts.publish.texts.city-mastodon" and "41 characters, over the limit of 40" in \
            problem.message
        assert engine.approvals.get(request["id"])["status"] == "pending"
        engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve",
                               texts={"publish": {"texts.city-mastodon": "Fête, 21 juin https://city.be/fete"}})
        assert settled(engine, run_id)["status"] == "succeeded"
        assert [status["text"] for status in server.statuses] == ["Fête, 21 juin https://city.be/fete"]


def test_an_expired_request_fails_the_run_after_a_reminder(engine, clock):
    run_id = start(engine, held_recipe({"expires_after": "2d", "remind_after": "1d"}))
    request = request_of(engine, run_id)
    scheduler = Scheduler(engine, clock=clock)
    scheduler.run_once(clock.advance(hours=1))
    assert scheduler.woken == []
    scheduler.run_once(clock.advance(days=1))  # the reminder is due
    assert scheduler.woken == [run_id]
    assert settled(engine, run_id)["status"] == "waiting"
    assert sorted(m["headers"]["Subject"] for m in mails(engine) if m["headers"]["To"] == ANA) == [
        "Approbation demandée : announce", "Rappel : Approbation demandée : announce"]  # the installation's language
    scheduler.run_once(clock.advance(days=1))  # expired
    run = settled(engine, run_id)
    assert run["status"] == "failed" and "expired" in run["error"]
    assert engine.approvals.get(request["id"])["status"] == "expired"
    with pytest.raises(ApprovalConflict, match="already expired"):
        engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve")
    assert [e.action for e in engine.audit.page(target=run_id)] == [
        "approval.expired", "approval.reminded", "approval.requested"]


def test_an_expired_request_publishes_when_the_recipe_says_so(engine, clock):
    run_id = start(engine, held_recipe({"expires_after": "1h", "on_expiry": "publish"}))
    Scheduler(engine, clock=clock).run_once(clock.advance(hours=2))
    run = settled(engine, run_id)
    assert run["status"] == "succeeded"
    assert step(run, "approve")["output"]["status"] == "expired"
    assert step(run, "publish")["output"]["results"][0]["text"] == "Fête de la musique: Grand-Place"


def test_a_waiting_run_can_be_cancelled(engine):
    run_id = start(engine, held_recipe())
    request = request_of(engine, run_id)
    engine.cancel(run_id)
    assert engine.runs.detail(run_id)["status"] == "cancelled"
    assert engine.approvals.get(request["id"])["status"] == "cancelled"
    with pytest.raises(ApprovalConflict):
        engine.decide_approval(request["id"], by=ANA, role="approver", decision="approve")
    assert engine.runs.detail(run_id)["status"] == "cancelled"


def test_a_waiting_run_survives_a_restart(engine, make_engine, database_url, clock):
    run_id = start(engine, held_recipe())
    request = request_of(engine, run_id)
    engine.close()
    again = make_engine(database_url, clock=clock)
    assert again.orphaned() == [] and again.resume_interrupted() == []  # waiting is not orphaned
    assert again.runs.detail(run_id)["status"] == "waiting"
    again.decide_approval(request["id"], by=ANA, role="approver", decision="approve")
    run = settled(again, run_id)
    assert run["status"] == "succeeded"
    assert step(run, "publish")["status"] == "succeeded"


def test_a_dry_run_does_not_wait(engine):
    engine.save_recipe(held_recipe(), author=AUTHOR)
    run = engine.runs.detail(engine.trigger("announce", {"where": "Parc"}, dry_run=True, submit=False))
    engine.execute(run["id"])
    run = engine.runs.detail(run["id"])
    assert run["status"] == "succeeded"
    assert step(run, "approve")["output"]["status"] == "approved"
    assert engine.approvals.of_run(run["id"]) == []
