"""Checking the texts an approver edited: each edited step previewed again with them (as the run will send them),
so its counts against the limits are the network's own, and a text too long is refused at its place."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .approvals import ApprovalInvalid, editable, overrides
from .errors import describe
from .recipes import Problem
from .redaction import redact
from .runner import jsonable
from .specs import ActionContext, secrets_of

if TYPE_CHECKING:
    from .engine import Engine


def checked(engine: Engine, request: dict[str, Any], texts: dict[str, dict[str, str]]
            ) -> tuple[dict[str, dict[str, str]], list[dict[str, Any]]]:
    """The edited texts that differ from the request's, and the request's previews with them laid over; or
    ApprovalInvalid naming each problem at `texts.<step>.<field>`."""
    fields = {(f.step_id, f.key): f for f in editable(request["previews"])}
    problems: list[Problem] = []
    changed: dict[str, dict[str, str]] = {}
    for step_id, values in (texts or {}).items():
        for key, text in (values or {}).items():
            where = f"texts.{step_id}.{key}"
            field = fields.get((step_id, key))
            if field is None:
                problems.append(Problem(where, "this text cannot be edited here (no such step or field)"))
            elif not isinstance(text, str) or not text.strip():
                problems.append(Problem(where, "the text is empty; write it, or reject the content"))
            elif not key.startswith("texts.") and field.limit is not None and len(text.strip()) > field.limit:
                problems.append(Problem(where, f"{len(text.strip())} characters, over the limit of {field.limit}"))
            elif text.replace("\r\n", "\n").strip() != field.text:
                changed.setdefault(step_id, {})[key] = text.replace("\r\n", "\n").strip()
    if problems:
        raise ApprovalInvalid(problems)
    previews = copy.deepcopy(request["previews"])
    current = {step: {**fields_, **changed.get(step, {})} for step, fields_ in request["texts"].items()}
    laid = overrides(current)
    for entry in previews:
        if entry["id"] in changed:
            problems += _preview_again(engine, request, entry, laid[entry["id"]], changed[entry["id"]])
    if problems:
        raise ApprovalInvalid(problems)
    return changed, previews


def _preview_again(engine: Engine, request: dict, entry: dict, override: dict, changed: dict[str, str]
                   ) -> list[Problem]:
    """Preview one step again with the approved values (entry updated in place); the problems, located."""
    spec = engine.registry.actions.get(entry["uses"])
    problems: list[Problem] = []
    if spec is None:
        return [Problem(f"texts.{entry['id']}", f"action {entry['uses']!r} is not available")]
    given = {**(entry.get("input") or {}), **override}
    try:
        payload = spec.input_model.model_validate(given, context={"services": engine.runner.context.get("services")})
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            key = next((k for k in changed if k == name or k.startswith(f"{name}.")), next(iter(changed)))
            problems.append(Problem(f"texts.{entry['id']}.{key}", error["msg"]))
        return problems
    try:
        connections = engine.connections.resolve(entry.get("connections") or [], spec.connection_type)
        ctx = ActionContext(run_id=request["run_id"], step_id=entry["id"],
                            idempotency_key=f"{request['run_id']}:{entry['id']}", recipe=request["recipe"],
                            dry_run=True, connections=connections, http=engine.http, **engine.runner.context)
        output = spec.preview(payload, ctx) if spec.preview is not None else {"would_run": spec.key, "input": payload}
        secrets = secrets_of(connections)
        entry["input"] = redact(jsonable(payload), secrets)
        entry["output"] = redact(jsonable(output), secrets)
    except Exception as exc:  # noqa: BLE001 - a boundary: a preview that fails is said at the step
        return [Problem(f"texts.{entry['id']}", describe(exc))]
    for item in (entry["output"] or {}).get("would_publish") or []:
        key = f"texts.{item.get('account')}"
        if key in changed and not item.get("within_limit", True):
            problems.append(Problem(f"texts.{entry['id']}.{key}",
                                    f"{item.get('count')} {item.get('unit') or 'characters'}, over the limit of "
                                    f"{item.get('limit')}"))
    return problems
