"""Test and preview: the trigger's sample (or a live one), a dry run of the recipe, one step alone.

Editors only, as in the API: a sample event (the newest contact of a list), a step's rendered input and its preview
(a campaign's first message with its recipient's address) hold personal data (GET /api/recipes/{name}/sample and
the dry runs of POST /api/recipes/{name}/runs need an editor token too).

A preview is a dry run kept in the run journal: POST → redirect to `?run=<id>` (reloading shows it again, nothing is
run twice). "Test this step" previews the steps up to the chosen one on the same event and shows that step alone.
"""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from . import catalog, i18n, previews
from .routes import FieldProblem, _form
from .web import Refused, Visitor, redirect, render, role

router = APIRouter(include_in_schema=False)
editor = role("editor")


def _recipe(seen: Visitor, name: str):
    try:
        recipe, _version = seen.engine.recipes.get(name)
    except LookupError:
        raise Refused(404, seen.gettext("There is no recipe with this name.")) from None
    return recipe


def _pretty(event: Any) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False)


def _sample(seen: Visitor, recipe, *, live: bool = False) -> tuple[dict | None, str | None]:
    """(the sample event, None) or (None, why there is none), from the engine's service the API uses too."""
    try:
        return seen.engine.sample_event(recipe, live=live), None
    except ValueError as exc:  # SampleUnavailable: a message for the officer
        return None, str(exc)


def _page(seen: Visitor, recipe, *, status: int = 200, run: dict | None = None, step: str | None = None,
          event_text: str | None = None, errors: list[FieldProblem] | None = None, live: dict | None = None,
          live_problem: str | None = None):
    """The test page: the trigger and its sample, the preview form, the steps (with the shown run's results)."""
    sample, sample_problem = _sample(seen, recipe)
    spec = seen.engine.registry.triggers.get(recipe.trigger.uses)
    shown = previews.steps_of(seen.engine, recipe, run, seen.language) if run is not None else []
    if step is not None:
        shown = [s for s in shown if s.id == step]
    results = {s.id: s for s in shown}
    if event_text is None:
        event = run["trigger"] if run is not None else live if live is not None else sample
        event_text = _pretty(event) if event is not None else ""
    actions = seen.engine.registry.actions
    steps = [{"id": s.id, "uses": s.uses, "result": results.get(s.id),
              "title": s.title or (catalog.translated(actions[s.uses].title, seen.language) if s.uses in actions
                                   else s.uses)} for s in recipe.steps]
    when = None
    if run is not None:
        when = i18n.when(run["finished_at"] or run["created_at"], seen.language, seen.engine.settings.timezone)
    failed = next((s for s in shown if s.status == "failed"), None)
    trigger_title = catalog.translated(spec.title, seen.language) if spec else recipe.trigger.uses
    return render(seen, "testing_page.html", status, recipe=recipe, trigger_title=trigger_title,
                  polling=spec is not None and spec.kind == "poll", sample=sample, sample_problem=sample_problem,
                  sample_fields=previews.fields(sample), live=live, live_fields=previews.fields(live),
                  live_problem=live_problem, event_text=event_text,
                  errors=errors or [], run=run, step=step, when=when, steps=steps, shown=shown, failed=failed,
                  number=previews.numbers(seen.language))


@router.get("/recipes/{name}/test")
def test_page(name: str, run: str | None = None, step: str | None = None, seen: Visitor = Depends(editor)):
    """The test page; `run`: a preview of this recipe to show (`step`: the one step it tested)."""
    recipe = _recipe(seen, name)
    detail = None
    if run is not None:
        detail = seen.engine.runs.detail(run)
        if detail is None or detail["recipe"] != name or not detail["dry_run"]:
            raise Refused(404, seen.gettext("There is no preview of this recipe at this address. Preview it again."))
    return _page(seen, recipe, run=detail, step=step)


def _event(seen: Visitor, text: str) -> tuple[dict | None, FieldProblem | None]:
    """The event typed in the form (None when left empty: the sample), or the problem beside the field."""
    if not text.strip():
        return None, None
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, FieldProblem("event", seen.gettext(
            "The event is not valid JSON (line %(line)d, column %(column)d): check the quotes, commas and braces.",
            line=exc.lineno, column=exc.colno))
    if not isinstance(event, dict):
        return None, FieldProblem("event", seen.gettext(
            "The event must be a JSON object, between braces: {\"title\": \"…\"}."))
    return event, None


@router.post("/recipes/{name}/test/preview")
async def run_preview(name: str, request: Request, seen: Visitor = Depends(editor)):
    """Preview the recipe (or, with `step`, the steps up to that one) on the event of the form; nothing is sent."""
    form = await _form(request, seen)
    recipe = await run_in_threadpool(_recipe, seen, name)
    text, step = form.get("event", ""), form.get("step") or None
    if step is not None and step not in [s.id for s in recipe.steps]:
        raise Refused(404, seen.gettext("This recipe has no step with this name."))
    event, problem = _event(seen, text)
    if problem is None and event is None:
        event, why = await run_in_threadpool(_sample, seen, recipe)
        if event is None:
            problem = FieldProblem("event", seen.gettext("There is no sample event (%(why)s): type one.", why=why))
    if problem is not None:
        return await run_in_threadpool(lambda: _page(seen, recipe, status=400, event_text=text, errors=[problem]))
    run_id = await run_in_threadpool(previews.start, seen.engine, recipe, event, through=step)
    target = f"/recipes/{name}/test?run={run_id}" + (f"&step={step}#step-{step}" if step else "#preview")
    return redirect(seen, target)


@router.post("/recipes/{name}/test/live")
async def live_sample(name: str, request: Request, seen: Visitor = Depends(editor)):
    """Read the newest item of a polling trigger's source now (a test of the trigger: nothing is marked as seen)."""
    await _form(request, seen)
    recipe = await run_in_threadpool(_recipe, seen, name)
    live, problem = await run_in_threadpool(lambda: _sample(seen, recipe, live=True))
    return await run_in_threadpool(lambda: _page(seen, recipe, live=live, live_problem=problem))
