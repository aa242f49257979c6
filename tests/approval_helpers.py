"""What the approval tests share: the people, a recipe held for approval before it publishes, a clock."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from beffroi.store.models import utcnow

AUTHOR, STARTER, ANA, BOB, EDDY = "author@city.be", "starter@city.be", "ana@city.be", "bob@city.be", "eddy@city.be"


class Clock:
    """Now, as the engine sees it; moved forward by the test (never slept)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def friday_clock() -> Clock:
    """A clock on Friday 11 December 2026, 16:00 in Brussels: the next working day's 10:00 is after a weekend."""
    clock = Clock()
    clock.now = datetime(2026, 12, 11, 15, 0, tzinfo=UTC)
    return clock


def people(engine) -> None:
    """Two approvers, the recipe's author and the person who starts runs (editors), a viewer."""
    for email, role in ((ANA, "approver"), (BOB, "admin"), (AUTHOR, "approver"), (STARTER, "approver"),
                        (EDDY, "editor")):
        engine.users.create(email, "a long enough password", role=role)


def held_recipe(approve: dict | None = None, *, connection: str | list | None = None, name: str = "announce") -> dict:
    """Note, approve, publish on social media (the outbox unless a connection is named), send an e-mail."""
    publish = {"id": "publish", "uses": "smms.publish", "with": {"text": "{{ steps.note.line }}"}}
    if connection is not None:
        publish["connection"] = connection
    return {"name": name, "trigger": {"uses": "builtins.manual"}, "steps": [
        {"id": "note", "uses": "data.set", "with": {"line": "Fête de la musique: {{ trigger.where }}"}},
        {"id": "approve", "uses": "flow.approve", "with": {"message": "Check the dates", **(approve or {})}},
        publish,
        {"id": "mail", "uses": "email.send", "with": {"to": "press@city.be", "subject": "{{ steps.note.line }}",
                                                       "text": "See you there."}},
    ]}


def start(engine, data: dict, event: dict | None = None) -> str:
    """Save the recipe as AUTHOR, start a run as STARTER and execute it in this thread (up to where it waits)."""
    engine.save_recipe(data, author=AUTHOR)
    run_id = engine.trigger(data["name"], event or {"where": "Grand-Place"}, started_by=STARTER, submit=False)
    engine.execute(run_id)
    return run_id


def settled(engine, run_id: str, limit: float = 20.0) -> dict:
    """The run once it is no longer queued or running (a woken run goes through the engine's queue)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        run = engine.runs.detail(run_id)
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.02)
    raise AssertionError(engine.runs.detail(run_id))


def step(run: dict, step_id: str) -> dict:
    return next(s for s in run["steps"] if s["id"] == step_id)
