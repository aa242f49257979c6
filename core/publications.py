"""Publications: the runs of recipes that publish (social posts, e-mails, web posts), newest first, each with what
went out on which channel, read from its steps' outputs in the journal."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_

from .store import Database
from .store.models import RecipeRow, RunRow, StepRunRow

# The actions whose outputs say what went out, and so what results and the calendar count as published. Their tool
# types are those a publish window holds (the runner's PUBLISHING_TYPES): one list, so the two cannot drift apart.
PUBLISHING = ("smms.publish", "email.send", "email.send_campaign", "wcms.create_post", "mcms.publish_item",
              "mcms.push")
PUBLISHING_TYPES = frozenset(key.split(".", 1)[0] for key in PUBLISHING)
SHOWN_STATUSES = ("succeeded", "failed")  # a failed run may have published some of its steps


def _steps_of(definition: Any) -> dict[str, str]:
    """The publishing steps of a recipe definition: {step id: uses}."""
    steps = definition.get("steps") if isinstance(definition, dict) else None
    return {str(step.get("id")): step["uses"] for step in steps or []
            if isinstance(step, dict) and step.get("uses") in PUBLISHING}


def went_out(uses: str, output: Any) -> list[dict[str, Any]]:
    """What one step's output says went out: a line per account, mailing or web post."""
    if not isinstance(output, dict):
        return []
    if uses == "smms.publish":
        return [{"channel": "smms", "where": post.get("account"), "network": post.get("network"),
                 "url": post.get("url"), "outbox": bool(post.get("outbox")), "count": 1}
                for post in output.get("results") or [] if isinstance(post, dict)]
    if uses == "email.send":
        return [{"channel": "email", "where": output.get("connection"), "network": None, "url": None,
                 "outbox": bool(output.get("outbox")), "count": len(output.get("accepted") or [])}]
    if uses == "email.send_campaign":
        return [{"channel": "email", "where": output.get("list"), "network": output.get("connection"), "url": None,
                 "outbox": bool(output.get("outbox")),
                 "count": int(output.get("sent") or 0) + int(output.get("already_sent") or 0)}]
    if uses == "mcms.publish_item":
        return [{"channel": "mcms", "where": output.get("feed"), "network": None, "url": output.get("json_url"),
                 "outbox": False, "count": 1}]
    if uses == "mcms.push":
        return [{"channel": "mcms", "where": output.get("topic"), "network": output.get("channel"), "url": None,
                 "outbox": False, "count": int(output.get("sent") or 0) + int(output.get("already_sent") or 0)}]
    return [{"channel": "wcms", "where": output.get("status"), "network": None, "url": output.get("url"),
             "outbox": False, "count": 1}]


def publishing_recipes(db: Database) -> list[str]:
    """The names of the stored recipes that have a publishing step."""
    with db.session() as session:
        return [name for name, definition in session.execute(select(RecipeRow.name, RecipeRow.definition))
                if _steps_of(definition)]


def page(db: Database, *, recipes: list[str], since: datetime | None = None, until: datetime | None = None,
         before: tuple[datetime, str] | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Finished runs (not dry runs) of these recipes, newest first, older than the (created_at, id) `before`; each
    with `channels`: what its publishing steps sent (steps that did not succeed sent nothing)."""
    if not recipes:
        return []
    query = (select(RunRow.id, RunRow.recipe_name, RunRow.status, RunRow.definition, RunRow.created_at,
                    RunRow.started_at, RunRow.finished_at)
             .where(RunRow.recipe_name.in_(recipes), RunRow.dry_run.is_(False), RunRow.status.in_(SHOWN_STATUSES))
             .order_by(RunRow.created_at.desc(), RunRow.id.desc()).limit(limit))
    if since is not None:
        query = query.where(RunRow.created_at >= since)
    if until is not None:
        query = query.where(RunRow.created_at < until)
    if before is not None:
        query = query.where(tuple_(RunRow.created_at, RunRow.id) < tuple_(*before))
    with db.session() as session:
        runs = session.execute(query).all()
        wanted = {run.id: _steps_of(run.definition) for run in runs}
        outputs = session.execute(select(StepRunRow.run_id, StepRunRow.step_id, StepRunRow.output).where(
            StepRunRow.run_id.in_(list(wanted)), StepRunRow.status == "succeeded")).all() if wanted else []
    sent: dict[str, list[dict[str, Any]]] = {}
    for run_id, step_id, output in outputs:
        uses = wanted[run_id].get(step_id)
        if uses:
            sent.setdefault(run_id, []).extend({**line, "step": step_id} for line in went_out(uses, output))
    for run_id, lines in sent.items():  # in the order of the recipe's steps
        order = list(wanted[run_id])
        lines.sort(key=lambda line: order.index(line["step"]))
    return [{"id": run.id, "recipe": run.recipe_name, "status": run.status, "created_at": run.created_at,
             "started_at": run.started_at, "finished_at": run.finished_at, "channels": sent.get(run.id, [])}
            for run in runs]
