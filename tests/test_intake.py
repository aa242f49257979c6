"""Accepting webhook deliveries: group commit (intake.py) and the plain route that serves POST /hooks/{name}."""
from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from beffroi.api import create_app
from beffroi.intake import Intake

SECRET = "intake-secret-123"
HOOK = {"name": "signup", "trigger": {"uses": "builtins.webhook",
                                      "with": {"check": "token", "secret": SECRET, "delivery_header": "X-Delivery"}},
        "steps": [{"id": "note", "uses": "data.set", "with": {"email": "{{ trigger.email }}"}}]}


class FakeJournal:
    def __init__(self, fail: bool = False):
        self.batches: list[list[dict]] = []
        self.fail = fail

    def pin(self):
        pass

    def create_runs(self, requests):
        self.batches.append(requests)
        if self.fail:
            raise RuntimeError("disk full")
        return [None if r.get("trigger_key") == "seen" else f"run-{r['n']}" for r in requests]


def test_deliveries_of_one_turn_of_the_loop_share_one_transaction():
    journal, submitted = FakeJournal(), []
    intake = Intake(journal, submitted.append)

    async def burst():
        return await asyncio.gather(*(intake.start_run(n=i, trigger_key="seen" if i == 2 else None) for i in range(5)))

    assert asyncio.run(burst()) == ["run-0", "run-1", None, "run-3", "run-4"]
    assert [len(batch) for batch in journal.batches] == [5]
    assert submitted == [["run-0", "run-1", "run-3", "run-4"]]  # queued together once committed; not the duplicate


def test_a_failed_commit_fails_every_caller_of_the_batch_and_queues_nothing():
    journal, submitted = FakeJournal(fail=True), []
    intake = Intake(journal, submitted.append)

    async def burst():
        return await asyncio.gather(*(intake.start_run(n=i) for i in range(3)), return_exceptions=True)

    assert [str(e) for e in asyncio.run(burst())] == ["disk full"] * 3 and submitted == []


def test_runs_that_cannot_be_queued_fail_their_callers_and_the_next_batch_goes_through():
    calls = []

    def submit_many(run_ids):
        calls.append(run_ids)
        if len(calls) == 1:
            raise ConnectionError("redis is down")

    intake = Intake(FakeJournal(), submit_many)

    async def burst():
        return await asyncio.gather(*(intake.start_run(n=i) for i in range(3)), return_exceptions=True)

    assert all(isinstance(answer, ConnectionError) for answer in asyncio.run(burst()))  # stored, then a 5xx
    assert asyncio.run(burst()) == ["run-0", "run-1", "run-2"]


def test_in_its_thread_the_intake_keeps_accepting_during_a_commit_and_stores_the_next_batch_after_it():
    release = threading.Event()

    class SlowJournal(FakeJournal):
        started: list[int] = []

        def create_runs(self, requests):
            self.started.append(len(requests))
            if len(self.started) == 1:
                assert release.wait(10)  # the first commit waits for the disk...
            return super().create_runs(requests)

    journal, submitted = SlowJournal(), []
    intake = Intake(journal, submitted.append, in_thread=True)

    async def burst():
        first = asyncio.ensure_future(intake.start_run(n=0))
        await asyncio.sleep(0.05)  # ...while the loop accepts more deliveries
        rest = [asyncio.ensure_future(intake.start_run(n=i)) for i in range(1, 6)]
        await asyncio.sleep(0.05)
        assert not first.done() and journal.started == [1]
        release.set()
        return await asyncio.gather(first, *rest)

    try:
        assert asyncio.run(burst()) == [f"run-{i}" for i in range(6)]
    finally:
        intake.close()
    assert [len(batch) for batch in journal.batches] == [1, 5]  # one commit in flight at a time; the next is bigger
    assert submitted == [["run-0"], [f"run-{i}" for i in range(1, 6)]]


@pytest.fixture
def engine(make_engine, database_url):
    engine = make_engine(database_url)
    engine.save_recipe(HOOK)
    return engine


def test_concurrent_deliveries_each_get_their_own_durable_run(engine):
    app = create_app(engine)

    async def deliver(i: int, delivery: str):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.post("/hooks/signup", json={"email": f"{i}@example.org"},
                                     headers={"X-Beffroi-Token": SECRET, "X-Delivery": delivery})

    async def burst():
        return await asyncio.gather(*(deliver(i, "same" if i < 3 else f"d-{i}") for i in range(8)))

    answers = asyncio.run(burst())
    accepted = [a.json()["run"] for a in answers if a.status_code == 202]
    duplicates = [a for a in answers if a.status_code == 200 and a.json()["status"] == "duplicate"]
    assert len(accepted) == 6 and len(set(accepted)) == 6 and len(duplicates) == 2
    assert {run["id"] for run in engine.runs.list()[0]} == set(accepted)  # each answer's run is stored


def test_the_webhook_endpoint_stays_documented(engine):
    schema = create_app(engine).openapi()
    assert "post" in schema["paths"]["/hooks/{name}"]
