"""Runs: start one (manual/API trigger), list, detail with every step, retry, cancel.

A run's detail holds its trigger event and each step's input and output (a subscriber's address, a contact
upserted), and a sample event may be the newest item of the source (the newest contact): both need an editor
token. The list of runs (statuses, times) stays open to viewers, without the errors' text, which may quote a
recipient's address.
"""
from __future__ import annotations

import time
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ...errors import RunConflict, RunNotFound, SampleUnavailable
from ...journal import FINISHED, RUN_STATUSES
from ...recipe_store import RecipeNotFound
from ...runs import parse_statuses
from ..deps import Editor, EngineDep, Offset, Viewer
from ..problems import FieldError, JSONRoute, json_kind, problem_responses

router = APIRouter(tags=["runs"], route_class=JSONRoute, responses=problem_responses(401, 403))
WAIT_LIMIT = 120.0
HIDDEN_ERROR = "hidden: a step's error may name a contact (an editor token shows it)"


class RunSummary(BaseModel):
    """A run as lists show it."""

    id: str
    recipe: str
    recipe_version: int | None
    status: str = Field(description=f"one of {', '.join(RUN_STATUSES)}")
    dry_run: bool
    error: str | None = Field(description="why it failed (hidden from viewer tokens)")
    created_at: str | None = Field(description="ISO 8601")
    started_at: str | None = Field(description="ISO 8601")
    finished_at: str | None = Field(description="ISO 8601")
    duration_ms: float | None
    wake_at: str | None = Field(None, description="a waiting run: when it is woken (ISO 8601, UTC): its publish "
                                                  "window opens, or an approval expires or is reminded")


class FailedItem(BaseModel):
    index: int = Field(description="the item's position in `for_each`")
    error: str | None


class StepProgress(BaseModel):
    """How far a long step got, as it reported (a campaign: messages sent of recipients), updated while it runs."""

    done: int = Field(description="items done (a campaign: messages sent, by this attempt and earlier ones)")
    total: int | None = Field(description="items in all, when known")
    rate_per_second: float | None = Field(description="items per second of the current (or last) attempt; null "
                                                      "until it has done one")
    seconds_left: float | None = Field(description="at that rate, about how long until the end (null: unknown)")
    updated_at: str = Field(description="when the step last reported (ISO 8601)")


class StepRun(BaseModel):
    """One step of a run: pending until it starts."""

    id: str
    uses: str | None
    status: str = Field(description="pending, running, waiting (a run held at this step), succeeded, failed or "
                                    "skipped")
    input: Any = Field(description="the rendered input (secrets redacted)")
    output: Any
    error: str | None
    attempts: int
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None
    failed_items: list[FailedItem] | None = Field(None, description="the items of a `for_each` that failed (only then)")
    items: dict[str, int] | None = Field(None, description="a `for_each` step: how many of its items are in each "
                                                           "status (only then)")
    progress: StepProgress | None = Field(None, description="a step that reports its progress (a campaign): how far "
                                                           "it got, its rate and the time left (only then)")


class RunDetail(RunSummary):
    """A run with its trigger event and every step of its recipe."""

    trigger: Any = Field(description="the trigger event")
    steps: list[StepRun]


class RunQueued(BaseModel):
    """A run waiting for a worker; follow `url`."""

    id: str
    status: str = Field(examples=["queued"])
    url: str = Field(description="where the run is (also in the Location header)")


class RunPage(BaseModel):
    items: list[RunSummary]
    total: int
    limit: int
    offset: int


def _detail(engine, run_id: str) -> dict:
    run = engine.runs.detail(run_id)
    if run is None:
        raise HTTPException(404, f"no run {run_id!r}")
    return run


async def _wait(engine, run_id: str) -> dict:
    """Execute here when runs are inline; with workers, wait for them (bounded)."""
    if not engine.settings.redis_url:
        await run_in_threadpool(engine.runner.execute, run_id, from_statuses=("queued",))
        return _detail(engine, run_id)
    engine.queue.submit(run_id)
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        run = _detail(engine, run_id)
        if run["status"] in FINISHED:
            return run
        await anyio.sleep(0.05)
    return _detail(engine, run_id)


async def _recipe(engine, name: str):
    try:
        return await run_in_threadpool(engine.recipes.get, name)
    except RecipeNotFound:
        raise HTTPException(404, f"no recipe named {name!r}") from None


async def _sample(engine, recipe, live: bool) -> dict:
    try:
        return await run_in_threadpool(engine.sample_event, recipe, live=live)
    except SampleUnavailable as exc:
        raise HTTPException(422 if not live else 502, f"no sample event: {exc}") from None


@router.get("/recipes/{name}/sample", response_model=dict[str, Any], responses=problem_responses(404, 422, 502))
async def sample_event(name: str, engine: EngineDep, _: Editor,
                       live: bool = Query(False, description="read the newest item of the polled source now "
                                                             "(nothing is marked as seen)")) -> dict:
    """The event a dry run uses when given none: the recipe's sample, its trigger's, or (live) the source's newest."""
    recipe, _version = await _recipe(engine, name)
    return await _sample(engine, recipe, live)


@router.post("/recipes/{name}/runs", status_code=202, response_model=None, responses={
    202: {"model": RunQueued, "description": "Queued", "headers": {"Location": {"schema": {"type": "string"}}}},
    200: {"model": RunDetail, "description": "The finished run (`?wait=true`)"},
    **problem_responses(400, 404, 415, 422, 502)})
async def start_run(name: str, engine: EngineDep, token: Editor, event: Any = Body(None),
                    dry_run: bool = Query(False, description="preview every step; nothing is sent; without a body, "
                                                             "with the recipe's sample event"),
                    sample: Literal["stored", "live"] = Query(
                        "stored", description="with dry_run and no body: the stored sample event, or the newest item "
                                              "of the polled source (live)"),
                    wait: bool = Query(False, description="answer with the finished run")):
    """Start a run with the body as its trigger event: 202 with the run id, or the finished run with ?wait=true."""
    recipe, version = await _recipe(engine, name)
    if sample == "live" and (not dry_run or event is not None):
        raise HTTPException(422, "sample=live goes with dry_run=true and an empty body")
    if event is None:
        event = await _sample(engine, recipe, sample == "live") if dry_run else {}
    elif not isinstance(event, dict):
        raise HTTPException(422, f"the trigger event must be a JSON object ({{\"key\": value, …}}), "
                                 f"not {json_kind(event)}")
    run_id = await run_in_threadpool(lambda: engine.create_run(recipe, event, dry_run=dry_run, version=version,
                                                               started_by=f"token:{token.name}"))
    assert run_id is not None  # None only for a trigger key already seen, and there is none here
    if wait:
        return JSONResponse(status_code=200, content=await _wait(engine, run_id))
    engine.queue.submit(run_id)
    return JSONResponse(status_code=202, content={"id": run_id, "status": "queued", "url": f"/api/runs/{run_id}"},
                        headers={"Location": f"/api/runs/{run_id}"})


@router.get("/runs", response_model=RunPage, responses=problem_responses(422))
def list_runs(engine: EngineDep, token: Viewer, recipe: str | None = None,
              status: list[str] = Query([], description=f"one or more of {', '.join(RUN_STATUSES)} "
                                                         "(repeat it, or separate with commas)"),
              limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> dict:
    """Runs, newest first, filtered by recipe and by status (several statuses: any of them)."""
    try:
        statuses = parse_statuses(status)
    except ValueError as exc:
        raise FieldError("query.status", str(exc)) from None
    items, total = engine.runs.list(recipe=recipe, statuses=statuses, limit=limit, offset=offset)
    if not token.can("editor"):
        items = [{**run, "error": HIDDEN_ERROR} if run["error"] else run for run in items]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/runs/{run_id}", response_model=RunDetail, response_model_exclude_unset=True,
            responses=problem_responses(404))
def get_run(run_id: str, engine: EngineDep, _: Editor) -> dict:
    """A run with every step: input, output, error, attempts, timings."""
    return _detail(engine, run_id)


@router.post("/runs/{run_id}/retry", status_code=202, response_model=RunQueued, responses=problem_responses(404, 409))
def retry_run(run_id: str, engine: EngineDep, _: Editor) -> dict:
    """Run a failed or cancelled run again from its first unfinished step (finished steps are kept)."""
    _run_change(engine.retry, run_id)
    return {"id": run_id, "status": "queued", "url": f"/api/runs/{run_id}"}


@router.post("/runs/{run_id}/cancel", response_model=RunDetail, response_model_exclude_unset=True,
             responses=problem_responses(404, 409))
def cancel_run(run_id: str, engine: EngineDep, _: Editor) -> dict:
    """Cancel a queued run, or stop a running one after its current step."""
    _run_change(engine.cancel, run_id)
    return _detail(engine, run_id)


def _run_change(change, run_id: str) -> None:
    """engine.retry or engine.cancel, their refusals as 404 and 409."""
    try:
        change(run_id)
    except RunNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except RunConflict as exc:
        raise HTTPException(409, str(exc)) from None
