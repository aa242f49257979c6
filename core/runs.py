"""Read models of runs: the detail of one run with every step, and filtered, paginated lists."""
from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased, defer

from .journal import RUN_STATUSES
from .messages import suggest
from .store import Database
from .store.models import RecipeRow, RunRow, StepItemRow, StepRunRow


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _duration_ms(start, end) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000, 3)


def parse_statuses(values: Iterable[str]) -> list[str]:
    """Run statuses from values such as 'failed' or 'failed,cancelled'; ValueError naming the allowed ones."""
    statuses = [s.strip() for value in values for s in value.split(",") if s.strip()]
    unknown = [s for s in statuses if s not in RUN_STATUSES]
    if unknown:
        raise ValueError(f"unknown status {unknown[0]!r}{suggest(unknown[0], list(RUN_STATUSES))}; use one or more "
                         f"of: {', '.join(RUN_STATUSES)}")
    return statuses


def _steps_of(definition: Any) -> list[dict[str, Any]]:
    """The steps of a stored definition, skipping what is not a step (a run of a definition that no longer reads
    is still shown, never an error)."""
    steps = definition.get("steps") if isinstance(definition, dict) else None
    return [s for s in steps if isinstance(s, dict) and isinstance(s.get("id"), str)] if isinstance(steps, list) else []


def run_summary(row: RunRow) -> dict[str, Any]:
    """The fields of a run shown in lists."""
    return {"id": row.id, "recipe": row.recipe_name, "recipe_version": row.recipe_version, "status": row.status,
            "dry_run": row.dry_run, "error": row.error, "created_at": _iso(row.created_at),
            "started_at": _iso(row.started_at), "finished_at": _iso(row.finished_at),
            "duration_ms": _duration_ms(row.started_at, row.finished_at)}


# a summary reads neither the recipe definition a run carries nor its trigger event (both JSON, the bulk of a row)
SUMMARY_ONLY = (defer(RunRow.definition), defer(RunRow.trigger_event))


class RunViews:
    """Builds run documents for the CLI and the API."""

    def __init__(self, db: Database):
        self.db = db

    def detail(self, run_id: str) -> dict[str, Any] | None:
        """One run with its trigger event and every step of its recipe (pending ones included)."""
        with self.db.session() as session:
            run = session.get(RunRow, run_id)
            if run is None:
                return None
            rows = {s.step_id: s for s in session.scalars(select(StepRunRow).where(StepRunRow.run_id == run_id))}
            failed_items: dict[str, list[dict[str, Any]]] = {}
            for item in session.scalars(select(StepItemRow).where(StepItemRow.run_id == run_id,
                                                                  StepItemRow.status == "failed")):
                failed_items.setdefault(item.step_id, []).append({"index": item.idx, "error": item.error})
            steps = []
            for step in _steps_of(run.definition):
                row = rows.get(step["id"])
                entry: dict[str, Any] = {"id": step["id"], "uses": step.get("uses"), "status": "pending", "input": None,
                                         "output": None, "error": None, "attempts": 0, "started_at": None,
                                         "finished_at": None, "duration_ms": None}
                if row is not None:
                    entry.update(status=row.status, input=row.input, output=row.output, error=row.error,
                                 attempts=row.attempts, started_at=_iso(row.started_at),
                                 finished_at=_iso(row.finished_at),
                                 duration_ms=_duration_ms(row.started_at, row.finished_at))
                if step["id"] in failed_items:
                    entry["failed_items"] = failed_items[step["id"]]
                steps.append(entry)
            return {**run_summary(run), "trigger": run.trigger_event, "steps": steps}

    def list(self, *, recipe: str | None = None, statuses: Sequence[str] = (), limit: int = 50,
             offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Runs newest first, filtered by recipe and by status (any of `statuses`), with the total count."""
        query = select(RunRow)
        if recipe:
            query = query.where(RunRow.recipe_name == recipe)
        if statuses:
            query = query.where(RunRow.status.in_(statuses))
        with self.db.session() as session:
            total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = session.scalars(query.order_by(RunRow.created_at.desc()).limit(limit).offset(offset))
            return [run_summary(r) for r in rows], total

    def latest_by_recipe(self, names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """The newest run of each recipe (a summary), by recipe name; of the stored recipes `names` only when given
        (a page of recipes: one seek in the index on (recipe_name, created_at) per recipe, however many runs each
        has)."""
        if names is None:
            newest = (select(RunRow.recipe_name, func.max(RunRow.created_at).label("at"))
                      .group_by(RunRow.recipe_name).subquery())
            query = select(RunRow).join(newest, (RunRow.recipe_name == newest.c.recipe_name)
                                        & (RunRow.created_at == newest.c.at))
        else:
            other = aliased(RunRow)
            newest_id = (select(other.id).where(other.recipe_name == RecipeRow.name)
                         .order_by(other.created_at.desc()).limit(1).correlate(RecipeRow).scalar_subquery())
            query = select(RunRow).where(RunRow.id.in_(select(newest_id).where(RecipeRow.name.in_(list(names)))))
        with self.db.session() as session:
            return {r.recipe_name: run_summary(r) for r in session.scalars(query.options(*SUMMARY_ONLY))}

    def newest(self, status: str, limit: int) -> builtins.list[dict[str, Any]]:
        """The newest runs of one status (summaries), without counting them all (the home page's recent failures;
        the index on (status, created_at) reads just these)."""
        with self.db.session() as session:
            rows = session.scalars(select(RunRow).options(*SUMMARY_ONLY).where(RunRow.status == status)
                                   .order_by(RunRow.created_at.desc()).limit(limit))
            return [run_summary(r) for r in rows]
