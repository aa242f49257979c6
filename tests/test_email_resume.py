"""A campaign survives a real SIGKILL: `beffroi resume` sends to the remaining recipients only, once each."""
from __future__ import annotations

from beffroi import deliveries
from beffroi_plugins.crm.contacts import add_to_list, upsert_contact

from .test_email_servers import password_check, smtp_factory  # noqa: F401
from .test_resume import beffroi, kill, runs, steps_of, the_run, wait_for, write_recipe  # noqa: F401

PEOPLE = [f"person{i}@example.org" for i in range(5)]


def test_killed_campaign_resumes_with_the_remaining_recipients_only(beffroi, runs, smtp_factory,
                                                                     make_engine, tmp_path):
    mailbox, port = smtp_factory(auth_require_tls=False, authenticator=password_check("news", "pw-resume-1"))
    mailbox.hold_message = 2  # the third message waits at DATA: the sender is killed meanwhile
    engine = make_engine(beffroi.url)  # same database and key folder as the subprocesses
    for index, email in enumerate(PEOPLE):
        upsert_contact(engine.db, email, first_name=f"P{index}", consent=True, consent_source="test")
        add_to_list(engine.db, email, "press", "test")
    upsert_contact(engine.db, "no-consent@example.org", consent=False)
    add_to_list(engine.db, "no-consent@example.org", "press", "test")
    engine.connections.save("city-smtp", "smtp", {"host": "127.0.0.1", "port": port, "security": "none",
                                                  "username": "news", "password": "pw-resume-1",
                                                  "from_address": "communication@namur.example"})
    recipe = write_recipe(tmp_path / "campaign.yaml", "killed-campaign", [
        {"id": "news", "uses": "email.send_campaign", "connection": "city-smtp",
         "with": {"list": "press", "subject": "Nouvelles pour [[ contact.first_name ]]", "text": "Bonjour",
                  "rate_per_minute": 6000}},
        {"id": "after", "uses": "data.set", "with": {"sent": "{{ steps.news.sent + steps.news.already_sent }}"}},
    ])
    proc = beffroi.start("run", recipe)

    wait_for("the third message held by the server", mailbox.held.is_set, proc)
    before = wait_for("two recipients in the delivery journal", lambda: (
        (run := the_run(runs)) and len(deliveries.done_targets(engine.db, f"{run['id']}:news")) == 2 and run), proc)
    kill(proc)
    mailbox.release.set()  # the server answers the dead client's DATA with a 451: that message was not delivered

    run_id = before["id"]
    assert runs.detail(run_id)["status"] == "running"
    assert steps_of(runs.detail(run_id))["news"]["status"] == "running"
    assert sorted(a for m in mailbox.messages for a in m["to"]) == PEOPLE[:2]

    resumed = beffroi.run("resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    final = the_run(runs)
    assert final["id"] == run_id and final["status"] == "succeeded"
    news = steps_of(final)["news"]
    assert news["attempts"] == 2
    assert {k: news["output"][k] for k in ("recipients", "sent", "already_sent", "skipped", "failed")} == {
        "recipients": 5, "sent": 3, "already_sent": 2, "skipped": 1, "failed": 0}
    assert steps_of(final)["after"]["output"] == {"sent": 5}
    assert [len(mailbox.to(email)) for email in PEOPLE] == [1, 1, 1, 1, 1]  # exactly one message each, in all
    assert mailbox.to("no-consent@example.org") == []
    assert mailbox.data_seen == 6  # five delivered, plus the one interrupted by the kill
    assert [m["message"]["Subject"] for m in mailbox.messages] == [f"Nouvelles pour P{i}" for i in range(5)]
