"""What a step can insert in its fields: the trigger's event and the outputs of the steps before it, as references
(`{{ steps.announce.results[0].url }}`) with a readable label and an example value.

The fields come from the specs' models (the trigger's `event_model`, each action's `output_model`, as the JSON
Schema the API's catalog shows), completed by the data at hand: the sample event and the last run's step outputs.
Nested objects are flattened to a few levels; a list is read through its first item (`[0]`), and a list of texts
can also be inserted whole, joined by commas.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from . import catalog, i18n
from .web import N_

MAX_DEPTH = 4  # fields below the trigger or a step: results[0].url is 2
MAX_PER_SOURCE = 80  # references from one trigger or step: a huge sample or output is cut there
EXAMPLE_LENGTH = 80
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXPRESSION = re.compile(r"{{-?\s*(.+?)\s*-?}}", re.DOTALL)
ACRONYMS = {"id": "ID", "url": "URL", "html": "HTML", "http": "HTTP", "json": "JSON", "utc": "UTC", "iso": "ISO",
            "utm": "UTM", "api": "API", "smtp": "SMTP"}
SCALARS = ("string", "integer", "number", "boolean", "null")
TRIGGER = N_("Trigger")
TRIGGER_NAMED = N_("Trigger: %(title)s")
STEP_NAMED = N_("Step %(number)s: %(title)s")
FIRST = N_("first item")
ALL_JOINED = N_("all, separated by commas")
CURRENT_ITEM = N_("Current item")
ITEM_POSITION = N_("Position of the current item (from 0)")
SEPARATOR = " › "


@dataclass(frozen=True)
class Reference:
    """One piece of data a field can insert.

    `label`: readable, in the page's language ("Announce › Results › first item › URL"); `expression`: the template
    to insert (`{{ steps.announce.results[0].url }}`); `example`: a value it had in the sample event or the last run
    (shortened), or None; `source`: `trigger`, a step id, or `item`; `source_label`: the trigger or step it
    comes from, readable (the panel groups references under it).
    """

    label: str
    expression: str
    example: str | None
    source: str
    source_label: str

    @property
    def path(self) -> str:
        """The expression without its braces (`steps.announce.results[0].url`)."""
        return self.expression[3:-3]


def humanised(name: str) -> str:
    """A field name as a label: `image_url` → "Image URL" (the catalog translates it when it knows it)."""
    words = [ACRONYMS.get(w.lower(), w.lower()) for w in re.split(r"[_\-\s]+", name) if w]
    if not words:
        return name
    first = words[0]
    return " ".join([first if first.isupper() else first[:1].upper() + first[1:], *words[1:]])


def _key(path: str, name: str) -> str:
    """`path.name`, or `path["name"]` for a name that is no identifier or that a dict method would shadow."""
    if IDENTIFIER.match(name) and not hasattr(dict, name):
        return f"{path}.{name}"
    return f"{path}[{json.dumps(name, ensure_ascii=False)}]"


def _example(value: Any) -> str | None:
    """A value as a template would insert it, shortened; None when there is none to show."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text if len(text) <= EXAMPLE_LENGTH else text[:EXAMPLE_LENGTH - 1] + "…"


class _Walker:
    """Flattens one schema (and its example data) into references below a root path."""

    def __init__(self, language: str, source: str, source_label: str, found: list[Reference],
                 lists: dict[str, tuple[dict, Any]]):
        self.language, self.source, self.source_label = language, source, source_label
        self.found, self.lists = found, lists
        self.defs: dict[str, Any] = {}

    def label(self, name: str) -> str:
        return catalog.translated(humanised(name), self.language)

    def resolve(self, schema: Any) -> dict:
        """The schema itself: `$ref` followed, an optional (`anyOf` with null) reduced to its other branch."""
        for _ in range(10):
            if not isinstance(schema, dict):
                return {}
            if "$ref" in schema:
                schema = self.defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
                continue
            branches = [b for b in schema.get("anyOf") or schema.get("oneOf") or ()
                        if not (isinstance(b, dict) and b.get("type") == "null")]
            if len(branches) == 1:
                schema = {**{k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}, **branches[0]}
                continue
            return schema
        return {}

    def walk(self, schema: Any, example: Any, path: str, labels: list[str], depth: int) -> None:
        if len(self.found) >= MAX_PER_SOURCE:
            return
        schema = self.resolve(schema)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema or (kind is None and isinstance(example, dict)):
            self.walk_object(schema, example if isinstance(example, dict) else {}, path, labels, depth)
        elif kind == "array" or (kind is None and isinstance(example, list)):
            self.walk_list(schema, example if isinstance(example, list) else [], path, labels, depth)
        else:
            self.add(labels, path, example)

    def walk_object(self, schema: dict, example: dict, path: str, labels: list[str], depth: int) -> None:
        properties = schema.get("properties") or {}
        names = list(properties)
        if schema.get("additionalProperties") not in (False, None) or not properties:
            names += [name for name in example if name not in properties]  # what the data shows beyond the model
        if not names or depth >= MAX_DEPTH:
            if labels and depth < MAX_DEPTH and not properties:
                self.add(labels, path, None)  # an object whose fields are unknown yet: the whole of it
            return
        for name in names:
            self.walk(properties.get(name, {}), example.get(name), _key(path, name), [*labels, self.label(name)],
                      depth + 1)

    def walk_list(self, schema: dict, example: list, path: str, labels: list[str], depth: int) -> None:
        items = self.resolve(schema.get("items", {}))
        first = example[0] if example else None
        self.lists[path] = (items, first)
        scalar = items.get("type") in SCALARS or (not items and not isinstance(first, (dict, list)))
        if scalar:
            joined = ", ".join(str(v) for v in example) if example else None
            self.add([*labels[:-1], f"{labels[-1]} ({catalog.translated(ALL_JOINED, self.language)})"],
                     f'{path} | join(", ")', joined)
        if depth < MAX_DEPTH:
            self.walk(items, first, f"{path}[0]", [*labels, catalog.translated(FIRST, self.language)], depth + 1)

    def add(self, labels: list[str], path: str, example: Any) -> None:
        if len(self.found) < MAX_PER_SOURCE:
            self.found.append(Reference(SEPARATOR.join(labels), "{{ " + path + " }}", _example(example), self.source,
                                        self.source_label))


@functools.lru_cache(maxsize=512)
def _model_schema(model: Any) -> dict:
    return model.model_json_schema(by_alias=True)


def _schema(model: Any) -> tuple[dict, dict]:
    """A pydantic model's JSON Schema (by alias, as the API's catalog shows it) and its `$defs` (kept per model)."""
    if model is None:
        return {}, {}
    schema = _model_schema(model)
    return schema, schema.get("$defs", {})


def _trigger_example(engine: Any, trigger: dict, sample: dict | None, last_run: dict | None) -> Any:
    """The event shown as examples: the one given, else the last run's, else the recipe's or its trigger's sample."""
    if sample is not None:
        return sample
    if last_run and isinstance(last_run.get("trigger"), dict):
        return last_run["trigger"]
    if isinstance(trigger.get("sample"), dict):
        return trigger["sample"]
    spec = engine.registry.triggers.get(trigger.get("uses"))
    return spec.sample() if spec is not None else {}


def _outputs(last_run: dict | None) -> dict[str, Any]:
    """The last run's output of each step that succeeded, by step id."""
    steps = (last_run or {}).get("steps") or []
    return {s["id"]: s.get("output") for s in steps if isinstance(s, dict) and s.get("status") == "succeeded"}


def step_label(step: dict, language: str) -> str:
    """A step as the panel names it: its title, else its id made readable."""
    title = step.get("title")
    return title if isinstance(title, str) and title.strip() else humanised(str(step.get("id") or ""))


class _Sources:
    """The references each source provides (the trigger, then each step in order), computed once for a recipe."""

    def __init__(self, engine: Any, definition: dict, language: str, sample: dict | None, last_run: dict | None):
        registry = engine.registry
        self.language = language
        self.lists: dict[str, tuple[dict, Any]] = {}
        given = definition.get("trigger")
        trigger: dict = given if isinstance(given, dict) else {}
        spec = registry.triggers.get(trigger.get("uses"))
        heading = catalog.translated(TRIGGER, language)
        source_label = heading if spec is None else i18n.translations(language).gettext(TRIGGER_NAMED) % {
            "title": catalog.describe(registry, spec, language).title}
        self.trigger: list[Reference] = []
        event = _trigger_example(engine, trigger, sample, last_run)
        if spec is not None or event:  # a trigger not loaded, without data, tells nothing
            walker = _Walker(language, "trigger", source_label, self.trigger, self.lists)
            schema, walker.defs = _schema(spec.event_model if spec is not None else None)
            walker.walk(schema, event, "trigger", [heading], 0)
        steps = definition.get("steps")
        self.steps: list[Any] = steps if isinstance(steps, list) else []
        self.outputs: list[list[Reference]] = []  # per position in `steps`
        examples = _outputs(last_run)
        for position, step in enumerate(self.steps):
            found: list[Reference] = []
            self.outputs.append(found)
            step_id = step.get("id") if isinstance(step, dict) else None
            if not isinstance(step_id, str) or not IDENTIFIER.match(step_id):
                continue
            action = registry.actions.get(step.get("uses"))
            example = examples.get(step_id)
            if action is None and example is None:
                continue
            label = step_label(step, language)
            what = step.get("title") or (catalog.describe(registry, action, language).title if action else label)
            source_label = i18n.translations(language).gettext(STEP_NAMED) % {"number": position + 1, "title": what}
            walker = _Walker(language, step_id, source_label, found, self.lists)
            schema, walker.defs = _schema(action.output_model if action is not None else None)
            if step.get("for_each") is not None:  # its output is the list of each item's output
                schema = {"type": "array", "items": schema}
            walker.walk(schema, example, f"steps.{step_id}", [label], 0)

    def items(self, step_index: int) -> list[Reference]:
        """`item` and `item_index` when step `step_index` is repeated `for_each` item ([] otherwise)."""
        step = self.steps[step_index] if 0 <= step_index < len(self.steps) else None
        if not isinstance(step, dict) or step.get("for_each") is None:
            return []
        found: list[Reference] = []
        _item_references(step["for_each"], self.language, found, self.lists)
        return found


def references(engine: Any, definition: dict, step_index: int, language: str, sample: dict | None = None,
               last_run: dict | None = None) -> list[Reference]:
    """What the fields of step `step_index` can insert: the trigger's event, then each earlier step's output.

    `definition`: the recipe as data (a draft may be incomplete: steps without an id or an unknown `uses` are
    skipped or shown from their data only). `sample`: the trigger's event to show as examples (else the last run's,
    else the recipe's `trigger.sample`, else the trigger's own sample). `last_run`: `engine.runs.detail(run_id)`,
    whose step outputs give the steps' examples. When step `step_index` has a `for_each`, `item` is offered too.
    """
    sources = _Sources(engine, definition, language, sample, last_run)
    earlier = [r for found in sources.outputs[:max(step_index, 0)] for r in found]
    return [*sources.trigger, *earlier, *sources.items(step_index)]


def _item_references(for_each: Any, language: str, found: list[Reference], lists: dict[str, tuple[dict, Any]]):
    """`item` and `item_index` for a step repeated for each item; the item's fields when the list is a known one."""
    label = catalog.translated(CURRENT_ITEM, language)
    match = EXPRESSION.fullmatch(for_each.strip()) if isinstance(for_each, str) else None
    known = lists.get(match.group(1)) if match else None
    walker = _Walker(language, "item", label, found, {})
    if known is not None and (known[0].get("properties") or isinstance(known[1], dict)):
        walker.walk(known[0], known[1], "item", [label], 0)
    else:
        walker.add([label], "item", known[1] if known else None)
    walker.add([catalog.translated(ITEM_POSITION, language)], "item_index", 0)


def used(references_: list[Reference], text: Any) -> list[Reference]:
    """The references a field's text uses, in order, each once; an expression not offered is shown as itself."""
    if not isinstance(text, str):
        return []
    by_path = {" ".join(r.path.split()): r for r in references_}
    seen: dict[str, Reference] = {}
    for match in EXPRESSION.finditer(text):
        path = " ".join(match.group(1).split())
        if path not in seen:
            seen[path] = by_path.get(path) or Reference(path, "{{ " + path + " }}", None, "", "")
    return list(seen.values())

