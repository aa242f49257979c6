"""What the rest of a run would do, seen from one of its steps: each later step previewed with the data of now.

A step that holds a run for approval (`ActionSpec.approves`) shows the approvers every later step as a dry run
shows it (each action's `preview`: nothing is sent), with the data the run holds at that point; pure steps in
between run for real (they change nothing) so that later steps see their outputs.
"""
from __future__ import annotations

import copy
from typing import Any

from .errors import describe
from .recipes import Recipe, Step
from .redaction import redact
from .runner import Runner, StepFailed, jsonable
from .specs import ActionContext, secrets_of
from .templating import TemplateError


def later_steps(runner: Runner, row: dict, recipe: Recipe, position: int, data: dict) -> list[dict[str, Any]]:
    """Each step after `position`: {id, uses, connections, side_effects, status, input, output, error}, as a dry run's
    journal would hold it (status succeeded, skipped or failed; after a failed step, the next ones are pending)."""
    data = copy.deepcopy(data)
    overrides = row.get("overrides") or {}
    found: list[dict[str, Any]] = []
    blocked = False
    for index, step in enumerate(recipe.steps[position + 1:], start=position + 1):
        spec = runner.host.registry.actions.get(step.uses)
        entry: dict[str, Any] = {"id": step.id, "uses": step.uses, "connections": step.connection_names,
                                 "side_effects": bool(spec and spec.side_effects), "status": "pending",
                                 "input": None, "output": None, "error": None}
        found.append(entry)
        data["steps"][step.id] = None
        if blocked:
            continue
        if spec is None:
            entry.update(status="failed", error=f"action {step.uses!r} is not available (is its plugin loaded?)")
            blocked = True
            continue
        try:
            if step.if_ is not None and not runner.templater.evaluate(step.if_, data, f"steps[{index}].if"):
                entry["status"] = "skipped"
                continue
            connections = runner.resolve_connections(step.connection_names, spec.connection_type)
            secrets = secrets_of(connections)
            ctx = ActionContext(run_id=row["id"], step_id=step.id, idempotency_key=f"{row['id']}:{step.id}",
                                recipe=recipe.name, dry_run=True, connections=connections, http=runner.http,
                                **runner.context)
            override = overrides.get(step.id)
            if step.for_each is not None:
                items = _items(runner, step, index, data)
                inputs, outputs = [], []
                for item_index, item in enumerate(items):
                    payload = runner._input(spec, step, index, {**data, "item": item, "item_index": item_index},
                                            override)
                    ctx.item_index = item_index
                    inputs.append(redact(jsonable(payload), secrets))
                    outputs.append(redact(jsonable(runner._call(spec, payload, ctx, None)), secrets))
                entry.update(status="succeeded", input={"items": len(items)}, output=outputs, looped=True)
            else:
                payload = runner._input(spec, step, index, data, override)
                entry["input"] = redact(jsonable(payload), secrets)
                entry.update(status="succeeded", output=redact(jsonable(runner._call(spec, payload, ctx, None)),
                                                               secrets))
            data["steps"][step.id] = entry["output"]
        except (StepFailed, TemplateError) as exc:
            entry.update(status="failed", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a boundary: a preview that fails is shown with its reason
            entry.update(status="failed", error=describe(exc))
        if entry["status"] == "failed" and step.on_error == "stop":
            blocked = True
    return found


def _items(runner: Runner, step: Step, index: int, data: dict) -> list[Any]:
    items = runner.templater.render(step.for_each, data, f"steps[{index}].for_each")
    if isinstance(items, dict):
        items = [{"key": k, "value": v} for k, v in items.items()]
    if not isinstance(items, (list, tuple)):
        raise StepFailed(f"for_each: expected a list, got {type(items).__name__}")
    return list(items)[:100]  # enough to see what would go out; the run itself goes through them all
