"""Forms from JSON Schema: the fields of a pydantic model's `model_json_schema()`, the texts a form shows for some
values, and a posted form read back into values (types converted, conversion errors located, never an exception).

    fields = describe(schema, "with", templates=True)     # what `_schema_form.html`'s `schema_fields` renders
    shown = form_values(schema, step["with"], "with")      # the texts of the inputs, by field id (no secret)
    values, problems = parse(schema, posted_form, "with")  # back to values; problems are FieldProblem(id, text)
    placed = locate(schema, engine_problems, "with", at="steps[1].with")  # the engine's problems beside fields

A field's id (and name) is the prefix and its path: `with.subject`, `with.login.password`. In `templates` mode (a
recipe step's `with:`) any field may hold a template such as `{{ trigger.title }}`: numbers become text inputs,
booleans and choices get a text alternative (`<id>--template`), and text holding `{{` is kept as it is.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from babel.numbers import format_decimal

from .engine_messages import engine_text
from .routes import FieldProblem
from .web import N_

Translate = Callable[..., str]
TEMPLATE = "--template"  # suffix of the text alternative of a boolean or a choice in templates mode
CLEAR = "--clear"  # suffix of the "remove the stored value" box of an optional secret
TRUE = ("true", "on", "1", "yes")
FALSE = ("false", "off", "0", "no")
LONG_NAMES = re.compile(r"(^|_)(text|body|html|description|message|content|certificate)($|_)")
# a longer limit means a long text: not less, as single lines have long limits too (a host 253, a subject 998)
LONG_LENGTH = 1000
ACRONYMS = {"url": "URL", "uri": "URI", "id": "ID", "api": "API", "smtp": "SMTP", "tls": "TLS", "ca": "CA",
            "html": "HTML", "utm": "UTM", "http": "HTTP", "json": "JSON", "pds": "PDS"}
NO_VALUE = object()  # a field without a default


@dataclass(frozen=True)
class Choice:
    """One option of a choice: the value as the form sends it, its label, and the value itself."""

    text: str
    label: str
    value: Any


@dataclass(frozen=True)
class Field:
    """One field of a form generated from a schema.

    `kind` is one of text, textarea, number, integer, boolean, choice, list, object, json, secret; `widget` says how
    it is drawn (text, url, email, number, textarea, checkbox, radios, select, fieldset, password).
    """

    id: str
    key: str  # the path without the prefix: `subject`, `login.password`
    name: str  # the property's own name
    kind: str
    widget: str
    label: str
    hint: str = ""
    required: bool = False
    nullable: bool = False
    default: Any = NO_VALUE
    choices: tuple[Choice, ...] = ()
    fields: tuple[Field, ...] = ()
    item_kind: str = ""  # a list's items: text, integer, number or choice
    templates: bool = False
    minimum: float | None = None
    maximum: float | None = None
    schema: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def has_default(self) -> bool:
        """True when the schema gives a default (shown in the hint, used when the field is left empty)."""
        return self.default is not NO_VALUE and self.default is not None

    @property
    def default_shown(self) -> bool:
        """True when the hint says the default: there is one, it is not empty ('', [], {}) and not a secret's."""
        return self.has_default and self.kind not in ("secret", "object") and \
            not (isinstance(self.default, (str, list, dict)) and not self.default)

    @property
    def default_text(self) -> str:
        """The default as the form shows it ('' when there is none)."""
        return _as_text(self, self.default) if self.has_default and self.kind != "secret" else ""

    def default_in(self, language: str) -> str:
        """The default as a hint shows it: a number in the language's format (`2,5` in French), else default_text."""
        if self.kind in ("integer", "number") and isinstance(self.default, (int, float)) \
                and not isinstance(self.default, bool):
            return format_decimal(self.default, locale=language)
        return self.default_text

    @property
    def template_id(self) -> str:
        """The id of the text alternative of a boolean or a choice (templates mode)."""
        return self.id + TEMPLATE

    @property
    def clear_id(self) -> str:
        """The id of the box that removes an optional secret's stored value."""
        return self.id + CLEAR


def field_id(prefix: str, key: str) -> str:
    """The id and name of a field: `with` and `subject` → `with.subject`."""
    return f"{prefix}.{key}" if prefix and key else prefix or key


def humanise(name: str) -> str:
    """`base_url` → 'Base URL': a property name as a label."""
    words = [ACRONYMS.get(word.lower(), word) for word in name.replace("-", "_").split("_") if word]
    if not words:
        return name
    first = words[0]
    return " ".join([first if first.isupper() else first[:1].upper() + first[1:], *words[1:]])


def describe(schema: Mapping[str, Any], prefix: str = "", *, templates: bool = False,
             translate: Translate | None = None) -> list[Field]:
    """The fields of an object schema (`$ref`s resolved, nested objects as fields with their own `fields`).

    `translate` (the visitor's gettext, or the catalog's `field_text`) is applied to the labels, hints and choices
    the schema gives: a plugin's English texts are shown in the visitor's language where a catalog translates them,
    as they are elsewhere.
    """
    root = _resolve(schema, schema)
    fields = list(_object_fields(schema, root, prefix, "", templates, 0))
    return _translated(fields, translate) if translate is not None else fields


def _translated(fields: Iterable[Field], translate: Translate) -> list[Field]:
    """The fields with their labels, hints and choices translated (a boolean's Yes and No are the template's)."""
    return [replace(spec, label=translate(spec.label), hint=translate(spec.hint) if spec.hint else "",
                    choices=tuple(replace(choice, label=translate(choice.label)) for choice in spec.choices)
                    if spec.kind == "choice" else spec.choices,
                    fields=tuple(_translated(spec.fields, translate))) for spec in fields]


def _resolve(root: Mapping[str, Any], node: Any, depth: int = 0) -> dict[str, Any]:
    """A schema node with its `$ref` (or single `allOf`) replaced by the definition, its own keywords kept."""
    node = dict(node) if isinstance(node, Mapping) else {}
    for _ in range(20):
        if "$ref" in node and isinstance(node["$ref"], str) and node["$ref"].startswith("#/"):
            target: Any = root
            for part in node.pop("$ref")[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            node = {**(target if isinstance(target, Mapping) else {}), **node}
        elif isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            only = node.pop("allOf")[0]
            node = {**(only if isinstance(only, Mapping) else {}), **node}
        else:
            break
    return node


def _object_fields(root: Mapping[str, Any], node: Mapping[str, Any], prefix: str, base: str, templates: bool,
                   depth: int):
    required = set(node.get("required") or ())
    for name, child in (node.get("properties") or {}).items():
        key = f"{base}.{name}" if base else name
        yield _field(root, _resolve(root, child), prefix, key, name, name in required, templates, depth + 1)


def _field(root: Mapping[str, Any], node: dict[str, Any], prefix: str, key: str, name: str, required: bool,
           templates: bool, depth: int) -> Field:
    nullable = False
    options = node.get("anyOf") or node.get("oneOf")
    if isinstance(options, list):
        kept = [_resolve(root, o) for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
        nullable = len(kept) < len(options)
        outer = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
        if len(kept) == 1:
            node = {**kept[0], **outer}
        elif kept and all("const" in o or "enum" in o for o in kept):
            node = {**outer, "enum": [v for o in kept for v in (o["enum"] if "enum" in o else [o["const"]])],
                    "x-labels": [o.get("title") for o in kept for _ in (o["enum"] if "enum" in o else [0])]}
        else:
            node = {**outer, "x-json": True}
    if isinstance(node.get("type"), list):  # ["string", "null"]
        types = [t for t in node["type"] if t != "null"]
        nullable = nullable or len(types) < len(node["type"])
        node = {**node, "type": types[0]} if len(types) == 1 else {**node, "x-json": True}
    if isinstance(node.get("items"), Mapping):
        node = {**node, "items": _resolve(root, node["items"])}
    title = node.get("title")
    label = title if isinstance(title, str) and title and title != _pydantic_title(name) else humanise(name)
    common: dict[str, Any] = {
        "id": field_id(prefix, key), "key": key, "name": name, "label": label,
        "hint": node.get("description") or "", "required": required, "nullable": nullable,
        "default": node.get("default", NO_VALUE), "templates": templates, "schema": node}
    kind = _kind(node, name, depth)
    if kind == "secret":
        return Field(kind="secret", widget="password", **common)
    if kind == "choice":
        values = node["enum"] if "enum" in node else [node["const"]]
        labels = node.get("x-labels") or [None] * len(values)
        choices = tuple(Choice(_plain(v), label or _plain(v), v) for v, label in zip(values, labels))
        widget = "radios" if len(choices) <= 4 else "select"
        return Field(kind="choice", widget=widget, choices=choices, **common)
    if kind == "boolean":
        if nullable:  # yes, no, or not given: three states a checkbox cannot hold
            choices = (Choice("true", N_("Yes"), True), Choice("false", N_("No"), False))
            return Field(kind="boolean", widget="radios", choices=choices, **common)
        return Field(kind="boolean", widget="checkbox", **common)
    if kind in ("integer", "number"):
        return Field(kind=kind, widget="text" if templates else "number",
                     minimum=_number(node.get("minimum", node.get("exclusiveMinimum"))),
                     maximum=_number(node.get("maximum", node.get("exclusiveMaximum"))), **common)
    if kind == "object":
        children = tuple(_object_fields(root, node, prefix, key, templates, depth))
        return Field(kind="object", widget="fieldset", fields=children, **common)
    if kind == "list":
        items = node.get("items") or {}
        item_kind = "choice" if "enum" in items else {"integer": "integer", "number": "number"}.get(
            items.get("type", "string"), "text")
        return Field(kind="list", widget="textarea", item_kind=item_kind, **common)
    if kind == "textarea":
        return Field(kind="textarea", widget="textarea", **common)
    if kind == "json":
        return Field(kind="json", widget="textarea", **common)
    looks = "url" if node.get("format") in ("uri", "url") or str(node.get("pattern", "")).startswith("^https?") \
        else "email" if node.get("format") == "email" else "text"
    return Field(kind="text", widget="text" if templates else looks, **common)


def _kind(node: Mapping[str, Any], name: str, depth: int) -> str:
    kind = node.get("type")
    if node.get("x-json") or depth > 8:
        return "json"
    if node.get("format") == "password" and node.get("writeOnly"):
        return "secret"
    if "enum" in node or "const" in node:
        return "choice"
    if kind == "string":
        long = node.get("contentMediaType") == "text/html" or node.get("format") in ("textarea", "markdown") or \
            LONG_NAMES.search(name.lower()) is not None or (node.get("maxLength") or 0) > LONG_LENGTH
        return "textarea" if long else "text"
    if kind in ("boolean", "integer", "number"):
        return str(kind)
    if kind == "object" and node.get("properties"):
        return "object"
    if kind == "array":
        items = node.get("items")
        if isinstance(items, Mapping) and ("enum" in items or items.get("type") in ("string", "integer", "number")):
            return "list"
    return "json"  # unions, arrays of objects, free mappings, anything: typed as JSON


def _pydantic_title(name: str) -> str:
    """The title pydantic makes up for a property without one (`base_url` → 'Base Url')."""
    return name.replace("_", " ").title()


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _plain(value: Any) -> str:
    """A value as the text of an input or option: strings as they are, the rest as JSON (`true`, `3`)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _as_text(spec: Field, value: Any) -> str:
    """A value as the text of its field's input."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if spec.kind == "boolean":
        return "true" if value is True else "false" if value is False else _plain(value)
    if spec.kind == "list" and isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return "\n".join(_plain(v) for v in value)
    if spec.kind == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    return _plain(value)


def form_values(schema: Mapping[str, Any], values: Mapping[str, Any] | None, prefix: str = "", *,
                templates: bool = False, defaults: bool = True) -> dict[str, str]:
    """The texts of a form's inputs by field id, from values (defaults where a value is missing; never a secret).

    In templates mode a boolean or a choice holding a template puts it in its text alternative (`<id>--template`).
    """
    shown: dict[str, str] = {}
    _fill(shown, describe(schema, prefix, templates=templates), values or {}, defaults)
    return shown


def _fill(shown: dict[str, str], fields: Iterable[Field], values: Mapping[str, Any], defaults: bool) -> None:
    for spec in fields:
        if spec.kind == "secret":
            continue
        value = values.get(spec.name, NO_VALUE) if isinstance(values, Mapping) else NO_VALUE
        if spec.kind == "object":
            _fill(shown, spec.fields, value if isinstance(value, Mapping) else {}, defaults)
            continue
        if value is NO_VALUE:
            if not (defaults and spec.has_default):
                continue
            value = spec.default
        text = _as_text(spec, value)
        if spec.templates and spec.kind in ("boolean", "choice") and _templated(text):
            shown[spec.template_id] = text
        else:
            shown[spec.id] = text


def _templated(text: Any) -> bool:
    return isinstance(text, str) and ("{{" in text or "{%" in text)


def _identity(message: str, **values: Any) -> str:
    return message % values if values else message


def parse(schema: Mapping[str, Any], form: Mapping[str, Any], prefix: str = "", *, templates: bool = False,
          translate: Translate = _identity) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The values of a posted form (by field id, as `_form` gives it) and the fields that could not be converted.

    Empty optional fields are left out, and so are values equal to their default (a recipe's YAML stays short) and
    secrets left empty (the stored value is kept); an optional secret whose `<id>--clear` box is ticked becomes
    None. `translate` is the visitor's gettext (for the problems' texts). Never raises for what a person typed.
    """
    problems: list[FieldProblem] = []
    values = _read(describe(schema, prefix, templates=templates, translate=translate), form, problems, translate)
    return values, problems


def _read(fields: Iterable[Field], form: Mapping[str, Any], problems: list[FieldProblem],
          translate: Translate) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in fields:
        if spec.kind == "object":
            inner = _read(spec.fields, form, problems, translate)
            if inner or spec.required:
                values[spec.name] = inner
            continue
        raw = form.get(spec.id)
        text = raw if isinstance(raw, str) else ""
        if spec.kind == "boolean" or spec.kind == "choice":
            alternative = form.get(spec.template_id) if spec.templates else None
            if isinstance(alternative, str) and alternative.strip():
                text, raw = alternative.strip(), alternative.strip()
        try:
            value = _convert(spec, raw, text, form)
        except ValueError as exc:
            problems.append(FieldProblem(spec.id, translate(str(exc), label=spec.label)))
            continue
        if value is not NO_VALUE and not (not spec.required and spec.has_default and value == spec.default):
            values[spec.name] = value
    return values


def _convert(spec: Field, raw: Any, text: str, form: Mapping[str, Any]) -> Any:
    """One field's value, NO_VALUE to leave it out, or ValueError with a message of the catalog."""
    if spec.kind == "secret":
        if text:
            return text
        cleared = form.get(spec.clear_id)
        return None if spec.nullable and isinstance(cleared, str) and cleared.lower() in TRUE else NO_VALUE
    if spec.kind in ("text", "textarea"):
        kept = text.strip() if spec.kind == "text" else text.replace("\r\n", "\n")
        return kept if kept.strip() else NO_VALUE
    stripped = text.strip()
    if spec.templates and _templated(stripped) and spec.kind not in ("list", "json"):
        return stripped
    if spec.kind == "boolean":
        return _boolean(spec, raw, stripped)
    if not stripped:
        return NO_VALUE
    if spec.kind == "choice":
        return _choice(spec, stripped)
    if spec.kind in ("integer", "number"):
        return _numeric(spec.kind, stripped, N_("%(label)s: enter a whole number, e.g. 10.") if spec.kind == "integer"
                        else N_("%(label)s: enter a number, e.g. 2.5."))
    if spec.kind == "list":
        return _list(spec, stripped)
    try:
        return json.loads(stripped)
    except ValueError:
        if spec.templates and _templated(stripped):
            return stripped  # a template that gives the whole value
        raise ValueError(N_("%(label)s: this is not valid JSON. Check the quotes, commas and brackets.")) from None


def _boolean(spec: Field, raw: Any, text: str) -> Any:
    if spec.widget == "radios" and not text:  # a nullable boolean left unanswered
        return NO_VALUE
    lowered = text.lower()
    if lowered in TRUE:
        value = True
    elif lowered in FALSE or raw is None or not text:  # an unticked box sends nothing
        value = False
    else:
        raise ValueError(N_("%(label)s: answer yes or no."))
    if spec.widget == "checkbox" and not spec.required and not spec.has_default and value is False:
        return NO_VALUE  # no default given: False is what leaving it out means
    return value


def _choice(spec: Field, text: str) -> Any:
    for choice in spec.choices:
        if choice.text == text:
            return choice.value
    raise ValueError(N_("%(label)s: choose one of the options."))


def _numeric(kind: str, text: str, message: str) -> int | float:
    cleaned = re.sub(r"[\s\u00a0\u202f']", "", text).replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        raise ValueError(message) from None
    if kind == "integer":
        if not number.is_integer() or not re.fullmatch(r"[+-]?\d+(\.0*)?", cleaned):
            raise ValueError(message)
        return int(number)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(message)
    return int(number) if re.fullmatch(r"[+-]?\d+", cleaned) else number


def _list(spec: Field, text: str) -> Any:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if spec.templates and len(lines) == 1 and _templated(lines[0]):
        return lines[0]  # one template for the whole list (it gives a list, or a text the action splits)
    items: list[Any] = []
    for line in lines:
        if spec.templates and _templated(line):
            items.append(line)
        elif spec.item_kind in ("integer", "number"):
            items.append(_numeric(spec.item_kind, line, N_("%(label)s: put one number on each line.")))
        elif spec.item_kind == "choice":
            allowed = {choice.text: choice.value for choice in _list_choices(spec)}
            if line not in allowed:
                raise ValueError(N_("%(label)s: each line must be one of the allowed values."))
            items.append(allowed[line])
        else:
            items.append(line)
    return items


def _list_choices(spec: Field) -> tuple[Choice, ...]:
    items = spec.schema.get("items") or {}
    return tuple(Choice(_plain(v), _plain(v), v) for v in items.get("enum", ()))


def allowed_items(spec: Field) -> list[str]:
    """The values a list of choices accepts, as text (for its hint)."""
    return [choice.text for choice in _list_choices(spec)]


_PART = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


def field_for(schema: Mapping[str, Any], location: str, prefix: str = "", *, at: str = "") -> str | None:
    """The id of the field a problem located at `location` concerns, or None when it is not one of the form's.

    `at` is where the form's values sit in the engine's locations: with `at="steps[1].with"` and the prefix
    `with`, `steps[1].with.to[2]` is the field `with.to` and `steps[1].with.login.password` is `with.login.password`.
    """
    if at:
        if location != at and not location.startswith((at + ".", at + "[")):
            return None
        location = location[len(at):]
    parts = [name for index, name in _PART.findall(location) if name]  # list positions point at the list's field
    fields, found = describe(schema, prefix), None
    for part in parts:
        spec = next((f for f in fields if f.name == part), None)
        if spec is None:
            break
        found, fields = spec, list(spec.fields)
        if not fields:
            break
    return found.id if found is not None else None


def locate(schema: Mapping[str, Any], problems: Iterable[Any], prefix: str = "", *, at: str = "",
           fallback: str | None = None, translate: Translate | None = None) -> list[FieldProblem]:
    """The engine's problems (each with `.loc` and `.message`, like core's Problem) as FieldProblems beside fields.

    The text names the field's label; with `translate`, the label and the engine's message are shown in the
    visitor's language where a catalog has them. A problem outside the form's fields goes to `fallback` (default:
    the prefix), with its location kept in the text.
    """
    labels = _labels(describe(schema, prefix, translate=translate))
    placed = []
    for problem in problems:
        loc, message = str(getattr(problem, "loc", "")), str(getattr(problem, "message", problem))
        if translate is not None:
            message = engine_text(message, translate)  # the engine's sentences, from the catalogs
        target = field_for(schema, loc, prefix, at=at)
        if target is not None:
            text = (translate or _identity)(N_("%(label)s: %(problem)s"), label=labels[target], problem=message)
            placed.append(FieldProblem(target, text))
        else:
            placed.append(FieldProblem(fallback if fallback is not None else prefix,
                                       f"{loc}: {message}" if loc else message))
    return placed


def _labels(fields: Iterable[Field]) -> dict[str, str]:
    found: dict[str, str] = {}
    for spec in fields:
        found[spec.id] = spec.label
        found.update(_labels(spec.fields))
    return found


def secret_ids(fields: Iterable[Field]) -> list[str]:
    """The ids of the secret fields (at any depth): what a re-rendered form must never show back."""
    found = []
    for spec in fields:
        if spec.kind == "secret":
            found += [spec.id, spec.clear_id]
        found += secret_ids(spec.fields)
    return found


def without_secrets(schema: Mapping[str, Any], form: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A posted form without its secret fields: what may be shown again in a re-rendered form."""
    hidden = set(secret_ids(describe(schema, prefix)))
    return {key: value for key, value in form.items() if key not in hidden}
