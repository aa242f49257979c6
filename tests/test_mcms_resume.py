"""A push to many subscribers survives a real SIGKILL: `beffroi resume` sends to the others only, once each."""
from __future__ import annotations

from collections import Counter

from beffroi import deliveries
from beffroi_plugins.mcms import subscriptions

from .servers.webpush import PushService
from .test_resume import beffroi, kill, runs, steps_of, the_run, wait_for, write_recipe  # noqa: F401

NAMES = [f"browser{i}" for i in range(6)]


def test_killed_push_resumes_with_the_remaining_subscribers_only(beffroi, runs, make_engine, tmp_path):
    engine = make_engine(beffroi.url)  # same database and key folder as the subprocesses
    with PushService() as service:
        for name in NAMES:
            topic, sub = subscriptions.check("works", service.browser(name).subscription())
            subscriptions.add(engine.db, topic, sub)
        service.hold_after = 3  # the fourth message waits at the push service: the sender is killed meanwhile
        recipe = write_recipe(tmp_path / "push.yaml", "killed-push", [
            {"id": "push", "uses": "mcms.push",
             "with": {"topic": "works", "title": "Rue Haute fermée", "body": "Travaux lundi.", "concurrency": 1}}])
        proc = beffroi.start("run", recipe)

        wait_for("the fourth message held by the push service", service.held.is_set, proc)
        before = wait_for("three subscribers in the delivery journal", lambda: (
            (run := the_run(runs)) and len(deliveries.done_targets(engine.db, f"{run['id']}:push")) == 3 and run),
            proc)
        kill(proc)
        service.let_go.set()  # the service answers the dead sender 503: that message was not delivered
        assert len(service.received) == 3

        resumed = beffroi.run("resume")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    final = the_run(runs)
    assert final["id"] == before["id"] and final["status"] == "succeeded"
    push = steps_of(final)["push"]
    assert {k: push["output"][k] for k in ("recipients", "sent", "already_sent", "failed", "removed")} == {
        "recipients": 6, "sent": 3, "already_sent": 3, "failed": 0, "removed": 0}
    assert Counter(r.name for r in service.received) == dict.fromkeys(NAMES, 1)  # exactly one message each
    assert {r.payload["title"] for r in service.received} == {"Rue Haute fermée"}
