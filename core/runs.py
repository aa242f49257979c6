"""Read models of runs: the detail of one run with every step, and filtered, paginated lists."""
from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, tuple_, union_all
from sqlalchemy.orm import aliased

from .journal import RUN_STATUSES
from .messages import suggest
from .progress import of_run as progress_of_run
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


def _conditions(recipe: str | None, statuses: Sequence[str], since: datetime | None,
                until: datetime | None) -> list[Any]:
    """The WHERE clauses of a list of runs."""
    conditions: list[Any] = []
    if recipe:
        conditions.append(RunRow.recipe_name == recipe)
    if statuses:
        conditions.append(RunRow.status.in_(statuses))
    if since is not None:
        conditions.append(RunRow.created_at >= since)
    if until is not None:
        conditions.append(RunRow.created_at < until)
    return conditions


def _ordered(query: Any, columns: Any, newest_first: bool) -> Any:
    """A query of runs ordered by (created_at, id), newest or oldest first."""
    if newest_first:
        return query.order_by(columns.created_at.desc(), columns.id.desc())
    return query.order_by(columns.created_at, columns.id)


def _steps_of(definition: Any) -> list[dict[str, Any]]:
    """The steps of a stored definition, skipping what is not a step (a run of a definition that no longer reads
    is still shown, never an error)."""
    steps = definition.get("steps") if isinstance(definition, dict) else None
    return [s for s in steps if isinstance(s, dict) and isinstance(s.get("id"), str)] if isinstance(steps, list) else []


def run_summary(row: Any) -> dict[str, Any]:
    """The fields of a run shown in lists (from a RunRow, or a row of _SUMMARY_COLUMNS)."""
    return {"id": row.id, "recipe": row.recipe_name, "recipe_version": row.recipe_version, "status": row.status,
            "dry_run": row.dry_run, "error": row.error, "created_at": _iso(row.created_at),
            "started_at": _iso(row.started_at), "finished_at": _iso(row.finished_at),
            "duration_ms": _duration_ms(row.started_at, row.finished_at), "wake_at": _iso(row.wake_at)}


# a summary reads neither the recipe definition a run carries nor its trigger event (both JSON, the bulk of a row)
_SUMMARY_COLUMNS = (RunRow.id, RunRow.recipe_name, RunRow.recipe_version, RunRow.status, RunRow.dry_run, RunRow.error,
                   RunRow.created_at, RunRow.started_at, RunRow.finished_at, RunRow.wake_at)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _cursor(row) -> str:
    """Where a page starts or ends, for keyset pagination: the run's creation time (µs since 1970) and its id."""
    return f"{(row.created_at - _EPOCH) // _MICROSECOND}_{row.id}"


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    """The (creation time, id) of a cursor made by _cursor(); ValueError for anything else."""
    micros, _, run_id = cursor.partition("_")
    if not run_id or not micros.isdigit() or len(micros) > 18:
        raise ValueError(f"not a cursor of runs: {cursor!r}")
    return _EPOCH + int(micros) * _MICROSECOND, run_id


@dataclass(frozen=True)
class RunWindow:
    """One page of runs, newest first, with the number of runs matching the filters (at least that many when
    `capped`) and the cursors of the pages around it (`newer` for `after=`, `older` for `before=`; None at either
    end)."""

    items: list[dict[str, Any]]
    total: int
    newer: str | None
    older: str | None
    capped: bool = False


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
            item_counts: dict[str, dict[str, int]] = {}
            for step_id, status, count in session.execute(
                    select(StepItemRow.step_id, StepItemRow.status, func.count())
                    .where(StepItemRow.run_id == run_id).group_by(StepItemRow.step_id, StepItemRow.status)):
                item_counts.setdefault(step_id, {})[status] = count
            progress = progress_of_run(session, run_id)
            steps = []
            for step in _steps_of(run.definition):
                row = rows.get(step["id"])
                entry: dict[str, Any] = {"id": step["id"], "title": step.get("title"), "uses": step.get("uses"),
                                         "status": "pending", "input": None,
                                         "output": None, "error": None, "attempts": 0, "started_at": None,
                                         "finished_at": None, "duration_ms": None}
                if row is not None:
                    entry.update(status=row.status, input=row.input, output=row.output, error=row.error,
                                 attempts=row.attempts, started_at=_iso(row.started_at),
                                 finished_at=_iso(row.finished_at),
                                 duration_ms=_duration_ms(row.started_at, row.finished_at))
                if step["id"] in failed_items:
                    entry["failed_items"] = failed_items[step["id"]]
                if step["id"] in item_counts:
                    entry["items"] = item_counts[step["id"]]  # a `for_each` step: its items by status
                if step["id"] in progress:
                    entry["progress"] = progress[step["id"]]  # what a long step reported (ctx.progress)
                steps.append(entry)
            title = run.definition.get("title") if isinstance(run.definition, dict) else None
            return {**run_summary(run), "recipe_title": title or None, "trigger": run.trigger_event, "steps": steps}

    def list(self, *, recipe: str | None = None, statuses: Sequence[str] = (), limit: int = 50,
             offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Runs newest first, filtered by recipe and by status (any of `statuses`), with the total count."""
        conditions = _conditions(recipe, statuses, None, None)
        with self.db.session() as session:
            total = session.execute(select(func.count()).select_from(RunRow).where(*conditions)).scalar_one()
            rows = session.execute(select(*_SUMMARY_COLUMNS).where(*conditions)
                                   .order_by(RunRow.created_at.desc(), RunRow.id.desc()).limit(limit).offset(offset))
            return [run_summary(r) for r in rows], total

    def window(self, *, recipe: str | None = None, statuses: Sequence[str] = (), since: datetime | None = None,
               until: datetime | None = None, before: str | None = None, after: str | None = None,
               limit: int = 50, count_limit: int = 10_000) -> RunWindow:
        """A page of runs newest first, filtered by recipe, status (any of) and creation time (since ≤ t < until).

        Keyset pagination, as fast on the last page as on the first: `before` (a window's `older`) gives the next
        older runs, `after` (its `newer`) the next newer ones. ValueError for a cursor not made here. Runs are
        counted up to `count_limit` (the window's `capped` says there are more): a count costs what it counts.
        """
        conditions = _conditions(recipe, statuses, since, until)
        keyset: list[Any] = []
        if after is not None:
            keyset.append(tuple_(RunRow.created_at, RunRow.id) > _parse_cursor(after))
        elif before is not None:
            keyset.append(tuple_(RunRow.created_at, RunRow.id) < _parse_cursor(before))
        newest_first = after is None
        if len(statuses) > 1 and not recipe:  # one recipe's runs: its index (recipe_name, created_at)
            # one index range per status (status, created_at, id), merged: `status IN (…)` ordered by time would
            # sort every matching run when the database has no statistics (SQLite before ANALYZE)
            others = _conditions(recipe, (), since, until)
            parts = [_ordered(select(*_SUMMARY_COLUMNS).where(*others, RunRow.status == status, *keyset),
                              RunRow.__table__.c, newest_first).limit(limit + 1).subquery() for status in statuses]
            merged = union_all(*(select(part) for part in parts)).subquery()
            query = _ordered(select(merged), merged.c, newest_first)
        else:
            query = _ordered(select(*_SUMMARY_COLUMNS).where(*conditions, *keyset), RunRow.__table__.c, newest_first)
        with self.db.session() as session:
            rows = list(session.execute(query.limit(limit + 1)))
            more = len(rows) > limit
            if after is not None and not more:  # back at the newest runs: the first page, full
                return self.window(recipe=recipe, statuses=statuses, since=since, until=until, limit=limit,
                                   count_limit=count_limit)
            counted = select(RunRow.id).where(*conditions).limit(count_limit + 1).subquery()
            total = session.execute(select(func.count()).select_from(counted)).scalar_one()
        rows = rows[:limit]
        if after is not None:
            rows.reverse()
        newer = _cursor(rows[0]) if rows and (after is not None or before is not None) else None
        older = _cursor(rows[-1]) if rows and (more or after is not None) else None
        return RunWindow([run_summary(r) for r in rows], min(total, count_limit), newer, older, total > count_limit)

    def latest_by_recipe(self, names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """The newest run of each recipe (a summary), by recipe name; of the stored recipes `names` only when given
        (a page of recipes: one seek in the index on (recipe_name, created_at) per recipe, however many runs each
        has)."""
        if names is None:
            newest = (select(RunRow.recipe_name, func.max(RunRow.created_at).label("at"))
                      .group_by(RunRow.recipe_name).subquery())
            query = select(*_SUMMARY_COLUMNS).join(newest, (RunRow.recipe_name == newest.c.recipe_name)
                                                   & (RunRow.created_at == newest.c.at))
        else:
            other = aliased(RunRow)
            newest_id = (select(other.id).where(other.recipe_name == RecipeRow.name)
                         .order_by(other.created_at.desc()).limit(1).correlate(RecipeRow).scalar_subquery())
            query = select(*_SUMMARY_COLUMNS).where(
                RunRow.id.in_(select(newest_id).where(RecipeRow.name.in_(list(names)))))
        with self.db.session() as session:
            return {r.recipe_name: run_summary(r) for r in session.execute(query)}

    def newest(self, status: str, limit: int, *, recipe: str | None = None,
               dry_run: bool = False) -> builtins.list[dict[str, Any]]:
        """The newest runs of one status (summaries), of one recipe or of all, real runs or previews (`dry_run`),
        without counting them all: the home page's recent failures read the index on (status, created_at); one
        recipe's last success (the builder's examples) reads its own runs on (recipe_name, created_at)."""
        query = select(*_SUMMARY_COLUMNS).where(RunRow.dry_run.is_(dry_run))
        if recipe is None:
            query = query.where(RunRow.status == status)
        else:
            # its own runs, newest first, however common the status: the status is compared through a function, so
            # no planner walks every run of that status (by time) looking for this recipe's, which for a recipe
            # with few or no runs reads them all
            query = query.where(RunRow.recipe_name == recipe, func.coalesce(RunRow.status, "") == status)
        with self.db.session() as session:
            rows = session.execute(query.order_by(RunRow.created_at.desc()).limit(limit))
            return [run_summary(r) for r in rows]
