"""The builder's one big form read back into the working recipe: every field of the recipe, its trigger and each
step, by the place problems are reported at (`steps[1].with.subject` is the field's name and id).

Nothing typed is lost: a value that cannot be converted (a number field holding words) is kept as its text, and
the engine's validation reports it when the recipe is saved; what the form does not show (options of a missing
plugin, a trigger's sample, `with` keys the action does not know) is carried over from the draft.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from . import schema_form
from .builder_model import loc_parts, steps_of
from .routes import FieldProblem
from .web import N_

Translate = Callable[..., str]


@functools.cache
def schema_of(model: Any) -> dict[str, Any]:
    """The JSON Schema of an input or config model, made once per model (50 steps share a few models)."""
    return model.model_json_schema(by_alias=True)


def text(form: Any, name: str) -> str:
    """A posted text field ('' when absent), with the browser's line ends made plain."""
    value = form.get(name)
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""


def _set(data: dict[str, Any], key: str, value: Any, *, keep_empty: bool = False) -> None:
    """Set `key` when the value is given, remove it when it is empty (`keep_empty`: unless it was there, so that
    a stored `with: {}` stays as it is)."""
    if keep_empty and key in data and value == {}:
        data[key] = value
    elif value in ("", None, [], {}):
        data.pop(key, None)
    else:
        data[key] = value


def read_window(form: Any, at: str) -> dict[str, Any]:
    """A publish window from its fields (`window.at`, `steps[1].window.quiet_hours`…): only what is given."""
    window: dict[str, Any] = {}
    for key in ("not_before", "quiet_hours", "at"):
        _set(window, key, text(form, f"{at}.{key}").strip())
    for key in ("working_days", "next_day"):
        if form.get(f"{at}.{key}") == "true":
            window[key] = True
    return window


def _number_or_text(value: str) -> int | str:
    stripped = value.strip()
    return int(stripped) if stripped.isdigit() else stripped


def read_options(schema: Mapping[str, Any] | None, form: Any, prefix: str, before: Any, *, templates: bool,
                 translate: Translate) -> tuple[Any, list[FieldProblem]]:
    """A `with:` mapping from its fields (generated from `schema`), or from its YAML text when there is no schema.

    Keys the schema does not know and secrets left empty keep their value from `before`; a value that cannot be
    converted keeps its text (the problem is returned, and validation will report it again on saving).
    """
    old = before if isinstance(before, dict) else {}
    if schema is None:
        written = text(form, prefix)
        if not written.strip():
            return {}, []
        try:
            parsed = yaml.safe_load(written)
        except yaml.YAMLError:
            return written, [FieldProblem(prefix, translate(N_("The options are not valid YAML.")))]
        return (parsed if isinstance(parsed, dict) else written), []
    values, problems = schema_form.parse(schema, form, prefix, templates=templates, translate=translate)
    fields = schema_form.describe(schema, prefix, templates=templates)
    known = {spec.name for spec in fields}
    more: Any = None
    if takes_more(schema):  # fields of any name (data.set): written as YAML
        more, unread = _more(form, f"{prefix}.more", translate)
        problems.extend(unread)
    for key, value in (more if isinstance(more, dict) else old).items():
        if key not in known:
            values[key] = value  # not one of the form's fields: as written, else kept as it was
    for spec in fields:
        if spec.kind == "secret" and spec.name not in values and old.get(spec.name) not in (None, ""):
            values[spec.name] = old[spec.name]  # left empty: the value already there stays
        if spec.kind == "secret" and values.get(spec.name, "") is None:
            values.pop(spec.name)  # "remove the stored value"
    for problem in problems:  # the typed text stays in the draft
        if not problem.field.endswith(".more"):
            _put(values, problem.field[len(prefix) + 1:], _typed(form, problem.field))
    return values, problems


def takes_more(schema: Mapping[str, Any]) -> bool:
    """True when a `with:` takes fields of any name besides those its schema lists."""
    return schema.get("additionalProperties") not in (None, False)


def _more(form: Any, name: str, translate: Translate) -> tuple[Any, list[FieldProblem]]:
    written = text(form, name)
    if not written.strip():
        return {}, []
    try:
        parsed = yaml.safe_load(written)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = translate(N_("Line %(line)d: "), line=mark.line + 1) if mark else ""
        return None, [FieldProblem(name, translate(N_("These fields are not valid YAML. %(where)sWrite one name: "
                                                      "value per line."), where=where))]
    if not isinstance(parsed, dict):
        return None, [FieldProblem(name, translate(N_("Write one name: value per line.")))]
    return {str(k): v for k, v in parsed.items()}, []


def _typed(form: Any, field: str) -> str:
    alternative = text(form, field + schema_form.TEMPLATE)
    return alternative.strip() or text(form, field)


def _put(values: dict[str, Any], key: str, value: Any) -> None:
    parts = [p for p in loc_parts(key) if isinstance(p, str)]
    if not parts:
        return
    target = values
    for part in parts[:-1]:
        inner = target.get(part)
        if not isinstance(inner, dict):
            inner = target[part] = {}
        target = inner
    target[parts[-1]] = value


def read_trigger(form: Any, before: Any, spec: Any, translate: Translate) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The trigger from its card: the same `uses`, its connection, options, polling interval or schedule."""
    trigger = dict(before) if isinstance(before, dict) else {}
    problems: list[FieldProblem] = []
    if spec is None:
        options, problems = read_options(None, form, "trigger.with", trigger.get("with"), templates=False,
                                         translate=translate)
        _set(trigger, "with", options, keep_empty=True)
        return trigger, problems
    if spec.connection_type:
        _set(trigger, "connection", text(form, "trigger.connection").strip())
    if spec.config_model is not None:
        options, problems = read_options(schema_of(spec.config_model), form, "trigger.with",
                                         trigger.get("with"), templates=False, translate=translate)
        _set(trigger, "with", options, keep_empty=True)
    if spec.kind == "poll":
        _set(trigger, "every", text(form, "trigger.every").strip())
    if spec.kind == "schedule":
        _set(trigger, "schedule", text(form, "trigger.schedule").strip())
    return trigger, problems


def read_step(form: Any, index: int, before: Any, spec: Any, translate: Translate
              ) -> tuple[dict[str, Any], list[FieldProblem]]:
    """One step from its card: id, title, connections, `with:` and the advanced options (`if`, `for_each`, retry,
    timeout, on error, publish window)."""
    at = f"steps[{index}]"
    step = dict(before) if isinstance(before, dict) else {}
    step["id"] = text(form, f"{at}.id").strip()
    _set(step, "title", text(form, f"{at}.title").strip())
    chosen = [name for name in form.getlist(f"{at}.connection") if isinstance(name, str) and name]
    _set(step, "connection", chosen[0] if len(chosen) == 1 else chosen)
    schema = schema_of(spec.input_model) if spec is not None else None
    options, problems = read_options(schema, form, f"{at}.with", step.get("with"), templates=True,
                                     translate=translate)
    _set(step, "with", options, keep_empty=True)
    _set(step, "if", text(form, f"{at}.if").strip())
    _set(step, "for_each", _for_each(text(form, f"{at}.for_each").strip()))
    attempts, backoff = text(form, f"{at}.retry.attempts").strip(), text(form, f"{at}.retry.backoff").strip()
    retry: dict[str, Any] = {}
    _set(retry, "attempts", _number_or_text(attempts) if attempts else "")
    _set(retry, "backoff", backoff)
    _set(step, "retry", retry)
    _set(step, "timeout", text(form, f"{at}.timeout").strip())
    on_error = text(form, f"{at}.on_error")
    if on_error == "continue" or "on_error" in step:
        step["on_error"] = on_error or step.get("on_error", "stop")
    _set(step, "window", read_window(form, f"{at}.window"))
    return step, problems


def _for_each(value: str) -> Any:
    """A `for_each` as typed: a JSON list stays a list, anything else is an expression or a template."""
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, list) else value
    return value


def for_each_text(value: Any) -> str:
    """A `for_each` as its field shows it."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def read(form: Any, definition: dict[str, Any], registry: Any, translate: Translate
         ) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The working recipe as the posted builder form gives it, and the fields that could not be converted."""
    data = dict(definition)
    data["title"] = text(form, "title").strip()
    description = text(form, "description").strip()
    if description or "description" in data:  # a stored recipe says description: '' (a round trip keeps it)
        data["description"] = description
    data["enabled"] = form.get("enabled") == "true"
    _set(data, "window", read_window(form, "window"))
    trigger_spec = None
    trigger = data.get("trigger")
    if isinstance(trigger, dict) and isinstance(trigger.get("uses"), str):
        trigger_spec = registry.triggers.get(trigger["uses"])
    data["trigger"], problems = read_trigger(form, trigger, trigger_spec, translate)
    before = steps_of(definition)
    count = _count(form.get("steps.count"), len(before))
    steps = []
    for index in range(count):
        uses = text(form, f"steps[{index}].uses")
        old = before[index] if index < len(before) else {}
        if not isinstance(old, dict) or old.get("uses") != uses:
            old = {"uses": uses}  # the draft changed elsewhere since the page was shown: the form wins
        spec = registry.actions.get(uses)
        step, found = read_step(form, index, old, spec, translate)
        steps.append(step)
        problems.extend(found)
    data["steps"] = steps
    return data, problems


def _count(value: Any, default: int) -> int:
    if isinstance(value, str) and value.isdigit():
        return min(int(value), 1000)
    return default
