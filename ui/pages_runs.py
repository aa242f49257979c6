"""The runs: lists (all, one recipe's) filtered by status and date, the run page with live updates, retry, cancel,
run now. The same services as the API's routes: engine.runs, engine.retry, engine.cancel, engine.trigger."""
from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import anyio
from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from .routes import STATUS_NAMES, FieldProblem, _form
from .runs_view import LiveRun, RunFilters, listed, run_view
from .web import FLASHES, N_, Refused, Visitor, person, redirect, render, role

router = APIRouter(include_in_schema=False)
FLASHES.update({
    "run-started": N_("The run has started. This page follows it."),
    "run-retried": N_("The run starts again from its first unfinished step."),
    "run-cancelled": N_("The run is cancelled."),
})
# what json.loads says, in plain words (another message is shown as it is)
JSON_REASONS = {
    "Expecting property name enclosed in double quotes": N_("a name between double quotes was expected"),
    "Expecting value": N_("a value was expected"),
    "Expecting ',' delimiter": N_("a comma was expected"),
    "Expecting ':' delimiter": N_("a colon was expected"),
    "Unterminated string starting at": N_("a text is not closed by its double quote"),
    "Extra data": N_("something follows the end of the event"),
    "Invalid control character at": N_("a line break or a tab inside a text must be written \\n or \\t"),
}
PAGE_SIZE = 50
POLL_EVERY = 0.5  # seconds between two looks at the journal while a page follows a run
STREAM_LIFETIME = 60.0  # seconds: a stream then ends and the browser reconnects (no connection held forever)
KEEP_ALIVE = 15.0  # seconds of silence before a comment line (finds a browser that left; keeps proxies open)


def _list(seen: Visitor, recipe: str | None, path: str, title: str | None = None):
    filters = RunFilters.read(seen)
    window = filters.window(seen, recipe, PAGE_SIZE)
    assert seen.user is not None
    return render(seen, "runs_list.html", 400 if filters.problems else 200, errors=filters.problems,
                  filters=filters, statuses=STATUS_NAMES, path=path, recipe=recipe, title=title,
                  runs=[listed(seen, run) for run in window.items],
                  total=format_decimal(window.total, locale=seen.language), count=window.total, capped=window.capped,
                  newer=filters.link(path, after=window.newer) if window.newer else None,
                  older=filters.link(path, before=window.older) if window.older else None,
                  zone=seen.engine.settings.timezone, can_edit=seen.user.can("editor"))


@router.get("/runs")
def all_runs(seen: Visitor = Depends(person)):
    """Every run, newest first: filter by status and by date, a page at a time."""
    return _list(seen, None, "/runs")


@router.get("/recipes/{name}/runs")
def recipe_runs(name: str, seen: Visitor = Depends(person)):
    """The runs of one recipe (also of a recipe deleted since, while it has runs)."""
    try:
        title = seen.engine.recipes.get_row(name)["definition"].get("title") or name
    except LookupError:
        if not seen.engine.runs.window(recipe=name, limit=1).total:
            raise Refused(404, seen.gettext("There is no recipe with this name.")) from None
        title = name
    return _list(seen, name, f"/recipes/{name}/runs", title)


def _run(seen: Visitor, run_id: str) -> dict:
    run = seen.engine.runs.detail(run_id)
    if run is None:
        raise Refused(404, seen.gettext("There is no run with this number. It may have been deleted."))
    return run


@router.get("/runs/{run_id}")
def run_page(run_id: str, seen: Visitor = Depends(person)):
    """A run: its status and times, its trigger event, and the timeline of its steps (contents for editors)."""
    run = run_view(seen, _run(seen, run_id))
    assert seen.user is not None
    approvals = seen.engine.approvals.of_run(run_id) if run["status"] == "waiting" else []
    return render(seen, "runs_run.html", run=run, can_edit=seen.user.can("editor"), approvals=approvals)


@router.get("/runs/{run_id}/events")
async def run_events(run_id: str, request: Request, seen: Visitor = Depends(person)):
    """Server-sent events while a run goes on: `run` with the parts of the page that changed, `end` when it ends.

    The journal is read in the thread pool every POLL_EVERY seconds; the stream stops when the run ends, when the
    browser leaves, or after STREAM_LIFETIME (the browser's EventSource then reconnects by itself)."""
    await run_in_threadpool(_run, seen, run_id)
    live = LiveRun(seen, run_id)

    async def stream() -> AsyncIterator[str]:
        yield f"retry: {int(POLL_EVERY * 4000)}\n\n"
        started = last_sent = time.monotonic()
        while True:
            changes = await run_in_threadpool(live.look)
            if changes is None:  # deleted meanwhile
                yield "event: end\ndata: {}\n\n"
                return
            if changes:
                yield f"event: run\ndata: {json.dumps(changes)}\n\n"
                last_sent = time.monotonic()
            if changes.get("finished"):
                yield "event: end\ndata: {}\n\n"
                return
            now = time.monotonic()
            if now - started >= STREAM_LIFETIME or await request.is_disconnected():
                return
            if now - last_sent >= KEEP_ALIVE:
                yield ": still running\n\n"
                last_sent = now
            await anyio.sleep(POLL_EVERY)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _change(request: Request, seen: Visitor, run_id: str, change, flash: str, refusal: str):
    """Retry or cancel (the engine's own checks), then back to the run's page."""
    await _form(request, seen)
    try:
        await run_in_threadpool(change, run_id)
    except LookupError:
        raise Refused(404, seen.gettext("There is no run with this number. It may have been deleted.")) from None
    except ValueError:
        status = await run_in_threadpool(seen.engine.journal.run_status, run_id) or "?"
        raise Refused(409, refusal % {"status": seen.gettext(status)}) from None
    return redirect(seen, f"/runs/{run_id}", flash)


@router.post("/runs/{run_id}/retry")
async def retry(run_id: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Run a failed or cancelled run again from its first unfinished step (finished steps are kept)."""
    return await _change(request, seen, run_id, seen.engine.retry, "run-retried", seen.gettext(
        "Only a failed or cancelled run can be retried; this one is %(status)s. Go back to the run's page."))


@router.post("/runs/{run_id}/cancel")
async def cancel(run_id: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Cancel a queued run, or stop a running one after its current step."""
    return await _change(request, seen, run_id, seen.engine.cancel, "run-cancelled", seen.gettext(
        "This run has already ended (%(status)s): there is nothing to cancel. Go back to the run's page."))


def _recipe(seen: Visitor, name: str):
    try:
        return seen.engine.recipes.get(name)
    except LookupError:
        raise Refused(404, seen.gettext("There is no recipe with this name.")) from None


def _sample(seen: Visitor, recipe) -> str | None:
    """The trigger's sample event as indented JSON (as the API's /recipes/{name}/sample gives it), or None."""
    try:
        return json.dumps(seen.engine.sample_event(recipe), indent=2, ensure_ascii=False)
    except ValueError:  # SampleUnavailable: this trigger has no sample
        return None


@router.get("/recipes/{name}/run")
def run_now_page(name: str, seen: Visitor = Depends(role("editor"))):
    """The form to run a recipe now: its trigger event (the trigger's sample to start from) and "dry run"."""
    recipe, _version = _recipe(seen, name)
    sample = _sample(seen, recipe)
    return render(seen, "runs_start.html", recipe=recipe, sample=sample is not None,
                  values={"payload": sample if sample is not None else "{}", "dry_run": False})


@router.post("/recipes/{name}/run")
async def run_now(name: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Start a run with the event typed (a JSON object); a mistake is shown beside the field, the text kept."""
    form = await _form(request, seen)
    recipe, _version = await run_in_threadpool(_recipe, seen, name)
    text, dry_run = form.get("payload", ""), form.get("dry_run") == "1"
    event, problem = _event_of(seen, text)
    if problem is not None:
        sample = await run_in_threadpool(_sample, seen, recipe)
        return render(seen, "runs_start.html", 400, recipe=recipe, sample=sample is not None, errors=[problem],
                      values={"payload": text, "dry_run": dry_run})
    run_id = await run_in_threadpool(lambda: seen.engine.trigger(name, event, dry_run=dry_run,
                                                                 started_by=seen.user.email if seen.user else None))
    return redirect(seen, f"/runs/{run_id}", "run-started")


def _event_of(seen: Visitor, text: str) -> tuple[dict | None, FieldProblem | None]:
    """The trigger event typed in the form: a JSON object (empty text: {}), or the problem in plain words."""
    if not text.strip():
        return {}, None
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, FieldProblem("payload", seen.gettext(
            "The trigger event is not valid JSON: look at line %(line)d, column %(column)d (%(reason)s).",
            line=exc.lineno, column=exc.colno,
            reason=seen.gettext(JSON_REASONS[exc.msg]) if exc.msg in JSON_REASONS else exc.msg))
    if not isinstance(event, dict):
        return None, FieldProblem("payload", seen.gettext(
            "The trigger event must be a JSON object, between braces: {\"name\": \"value\"}."))
    return event, None
