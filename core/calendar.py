"""The publication calendar: what is planned, waiting and published between two instants, per channel.

- `scheduled`: a run held by its publish window (`window_opens_at`): it publishes then;
- `awaiting`: a run held for approval before it publishes (at its expiry, when it has one, else when it started);
- `planned`: the next runs of a recipe on a cron `schedule:` that publishes;
- `published` / `failed`: finished runs of publishing recipes, with what went out on which channel (a failed run
  may have published some of its steps).
Channels are tool types: smms (social media), email, wcms (the website), mcms (the city app).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from .publications import page as publications_page
from .publications import publishing_recipes
from .store import Database
from .store.models import RecipeRow, RunRow, StepRunRow

CHANNELS = ("smms", "email", "wcms", "mcms")
PLANNED_PER_RECIPE = 100  # a recipe every hour fills a week with 168 runs: a month view shows the first 100
PUBLISHED_AT_MOST = 1000


@dataclass(frozen=True)
class Entry:
    """One thing on the calendar."""

    at: datetime  # UTC
    state: str  # scheduled | awaiting | planned | published | failed
    recipe: str
    title: str
    channels: tuple[str, ...]  # tool types the recipe publishes on (or published on)
    run_id: str | None = None
    accounts: tuple[str, ...] = field(default=())  # where it went (published) or will go (connection names)


def _channels_of(definition: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tool types and the connection names of a definition's publishing steps."""
    kinds: list[str] = []
    accounts: list[str] = []
    for step in (definition.get("steps") if isinstance(definition, dict) else None) or []:
        uses = step.get("uses") if isinstance(step, dict) else None
        kind = uses.split(".", 1)[0] if isinstance(uses, str) else ""
        if kind in CHANNELS:
            kinds.append(kind)
            named = step.get("connection")
            accounts.extend([named] if isinstance(named, str) else [n for n in named or [] if isinstance(n, str)])
    return tuple(dict.fromkeys(kinds)), tuple(dict.fromkeys(accounts))


def entries(db: Database, start: datetime, end: datetime, *, next_fire: Callable[[dict, datetime], datetime | None],
            channel: str | None = None) -> list[Entry]:
    """Everything on the calendar from `start` (included) to `end` (excluded), soonest first; of one channel when
    given. `next_fire(trigger, after)`: when a cron trigger next fires (Engine.next_fire)."""
    found: list[Entry] = []
    with db.session() as session:
        titles: dict[str, str | None] = {}
        for name, title in session.execute(select(RecipeRow.name, RecipeRow.definition["title"].as_string())):
            titles[name] = title
        waiting = session.execute(select(RunRow.id, RunRow.recipe_name, RunRow.definition, RunRow.wake_at,
                                         RunRow.created_at).where(RunRow.status == "waiting")).all()
        held: dict[str, Any] = {}
        if waiting:
            for run_id, output in session.execute(select(StepRunRow.run_id, StepRunRow.output).where(
                    StepRunRow.run_id.in_([row.id for row in waiting]), StepRunRow.status == "waiting")):
                held[run_id] = output
        scheduled = session.execute(select(RecipeRow.name, RecipeRow.definition).where(
            RecipeRow.enabled.is_(True), RecipeRow.definition[("trigger", "schedule")].as_string().is_not(None))).all()
    for row in waiting:
        kinds, accounts = _channels_of(row.definition)
        output = held.get(row.id)
        opens = output.get("window_opens_at") if isinstance(output, dict) else None
        if isinstance(opens, str):
            found.append(Entry(datetime.fromisoformat(opens), "scheduled", row.recipe_name,
                               titles.get(row.recipe_name) or row.recipe_name, kinds, row.id, accounts))
        else:
            found.append(Entry(row.wake_at or row.created_at, "awaiting", row.recipe_name,
                               titles.get(row.recipe_name) or row.recipe_name, kinds, row.id, accounts))
    for name, definition in scheduled:
        kinds, accounts = _channels_of(definition)
        if not kinds:
            continue
        at, count = next_fire(definition["trigger"], start), 0
        while at is not None and at < end and count < PLANNED_PER_RECIPE:
            found.append(Entry(at, "planned", name, titles.get(name) or name, kinds, None, accounts))
            at, count = next_fire(definition["trigger"], at), count + 1
    for run in publications_page(db, recipes=publishing_recipes(db), since=start, until=end,
                                 limit=PUBLISHED_AT_MOST):
        lines = run["channels"]
        found.append(Entry(run["finished_at"] or run["created_at"], "published" if run["status"] == "succeeded"
                           else "failed", run["recipe"], titles.get(run["recipe"]) or run["recipe"],
                           tuple(dict.fromkeys(line["channel"] for line in lines)), run["id"],
                           tuple(dict.fromkeys(str(line["where"]) for line in lines if line.get("where")))))
    found = [entry for entry in found if start <= entry.at < end and (channel is None or channel in entry.channels)]
    return sorted(found, key=lambda entry: (entry.at, entry.recipe))
