"""What the builder page shows: the trigger card and one card per step, built once per page from the working
recipe, the catalog and the connections (read once: no query per step), with each problem beside its field."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from . import catalog, schema_form
from .builder_form import for_each_text, schema_of, takes_more
from .builder_model import loc_parts, steps_of
from .engine_messages import engine_text
from .routes import FieldProblem
from .web import N_

# a publish window's fields, after `window` (the recipe's) or `steps[i].window`
WINDOW_FIELDS = ("window", *(f"window.{key}"
                             for key in ("not_before", "quiet_hours", "working_days", "at", "next_day")))
# the fields every step card has, after `steps[i]`: where problems located there are shown
STEP_FIELDS = ("id", "title", "connection", "with", "if", "for_each", "retry", "retry.attempts", "retry.backoff",
               "timeout", "on_error", *WINDOW_FIELDS)
ADVANCED = ("if", "for_each", "retry", "timeout", "on_error", "window")
TRIGGER_FIELDS = ("connection", "with", "every", "schedule")
RECIPE_FIELDS = ("recipe", "title", "description", "enabled", "steps", "trigger", *WINDOW_FIELDS)
# the labels of the card's own fields, named in the error summary ("Step 2 – Time limit: …")
LABELS = {"id": N_("Step id"), "title": N_("Name shown (optional)"), "connection": N_("Accounts this step uses"),
          "if": N_("Only if"), "for_each": N_("For each item of"), "retry.attempts": N_("Attempts"),
          "retry.backoff": N_("First wait"), "timeout": N_("Time limit"), "on_error": N_("If the step still fails"),
          "every": N_("Check every"), "schedule": N_("Schedule"), "window": N_("When it may publish"),
          "window.not_before": N_("Not before (embargo)"), "window.quiet_hours": N_("Never between (quiet hours)"),
          "window.at": N_("At this time of day"), "window.working_days": N_("Working days only"),
          "window.next_day": N_("On the next day, not the day it starts")}
# the engine's plain messages that say no value of their own (core/messages.py), shown in the visitor's language
ENGINE_MESSAGES = (
    N_("must be an address starting with http:// or https://"),
    N_("must be an address starting with http:// or https://, e.g. https://mastodon.social"),
    N_("must be a full address with its scheme, e.g. https://www.ville.example/page"),
    N_("may hold only lowercase letters, digits and - (not first), e.g. blog-to-social"),
    N_("may hold only letters, digits and _ and may not start with a digit, e.g. announce"),
    N_("must be a language code such as fr, nl, de or en"),
    N_("is not valid JSON"), N_("must be a date (e.g. 2026-12-07)"),
    N_("must be a date and time (ISO 8601, e.g. 2026-12-07T10:00:00+01:00)"), N_("must be a list"),
    N_("must be a number"), N_("must be a whole number"), N_("must be an address"),
    N_("must be an object (key: value pairs)"), N_("must be text"), N_("must be true or false"),
    N_("required field is missing"), N_("unknown field"), N_("must not be empty"),
)


@dataclass
class Options:
    """The `with:` of a step or trigger: generated fields and their texts, or YAML text when there is no schema."""

    prefix: str
    fields: list[Any] | None
    values: dict[str, str]
    yaml_text: str = ""
    stored: list[str] = field(default_factory=list)
    schema: dict[str, Any] | None = None
    more: str | None = None  # fields of any name, as YAML (None: the schema takes none)


@dataclass
class Picker:
    """A connection picker: the connections of the right tool type, those the recipe names, what can be created."""

    name: str  # the field's name and id
    tool_type: str
    available: list[str]
    chosen: list[str]
    missing: list[str]  # named by the recipe but not stored (or of another type)
    creatable: list[tuple[str, str]]  # (connection type key, title)


@dataclass
class Card:
    """One card: the trigger (index None) or a step."""

    loc: str
    index: int | None
    data: dict[str, Any]
    uses: str
    title: str
    description: str
    known: bool
    options: Options
    picker: Picker | None
    kind: str = ""  # the trigger's kind (manual, webhook, poll, schedule)
    advanced_open: bool = False
    side_effects: bool = False  # a step that publishes, sends or changes something: it may have a publish window

    @property
    def position(self) -> int:
        """The step's position as people count (1, 2, …)."""
        return (self.index or 0) + 1

    def text(self, key: str) -> str:
        """The text of one of the card's own fields (`if`, `retry.attempts`…)."""
        value: Any = self.data
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if key == "for_each":
            return for_each_text(value)
        return "" if value is None else str(value)


def described(registry: Any, spec: Any, language: str) -> tuple[str, str]:
    """The title and description of an action or trigger in the visitor's language (the catalog's texts)."""
    entry = catalog.describe(registry, spec, language)
    return entry.title or spec.key, entry.description


def _options(schema: dict[str, Any] | None, values: Any, prefix: str, templates: bool,
             overrides: dict[str, str], language: str) -> Options:
    if schema is None or not isinstance(values, dict):
        text = values if isinstance(values, str) else (
            yaml.safe_dump(values, sort_keys=False, allow_unicode=True) if values else "")
        return Options(prefix, None, {}, text)
    fields = schema_form.describe(schema, prefix, templates=templates, translate=catalog.field_gettext(language))
    shown = schema_form.form_values(schema, values, prefix, templates=templates, defaults=False)
    stored = [spec.key for spec in fields if spec.kind == "secret" and values.get(spec.name) not in (None, "")]
    more = None
    if takes_more(schema):
        known = {spec.name for spec in fields}
        extra = {k: v for k, v in values.items() if k not in known}
        more = overrides.get(f"{prefix}.more") if f"{prefix}.more" in overrides else (
            yaml.safe_dump(extra, sort_keys=False, allow_unicode=True) if extra else "")
    return Options(prefix, fields, shown, stored=stored, schema=schema, more=more)


def _picker(name: str, needed: str | None, named: list[str], registry: Any, stored: dict[str, str]
            ) -> Picker | None:
    if not needed:
        return None
    fits = {key for key, spec in registry.connection_types.items() if needed in (key, spec.tool_type)}
    available = sorted(n for n, kind in stored.items() if kind in fits)
    creatable = sorted(((key, registry.connection_types[key].title) for key in fits), key=lambda c: c[1])
    return Picker(name, needed, available, [n for n in named if n in available],
                  [n for n in named if n not in available], creatable)


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def trigger_card(definition: dict[str, Any], registry: Any, stored: dict[str, str], language: str,
                 overrides: dict[str, str]) -> Card:
    """The trigger's card."""
    trigger = definition.get("trigger") if isinstance(definition.get("trigger"), dict) else {}
    assert isinstance(trigger, dict)
    uses = str(trigger.get("uses")) if isinstance(trigger.get("uses"), str) else ""
    spec = registry.triggers.get(uses)
    title, description = described(registry, spec, language) if spec else (uses, "")
    schema = schema_of(spec.config_model) if spec and spec.config_model else None
    options = _options(schema, trigger.get("with") or {}, "trigger.with", False, overrides, language) \
        if spec is None or schema else \
        Options("trigger.with", [], {})
    picker = _picker("trigger.connection", spec.connection_type if spec else None, _names(trigger.get("connection")),
                     registry, stored)
    return Card("trigger", None, trigger, uses, title, description, spec is not None, options, picker,
                kind=spec.kind if spec else "")


def step_cards(definition: dict[str, Any], registry: Any, stored: dict[str, str], language: str,
               overrides: dict[str, str]) -> list[Card]:
    """One card per step, in order."""
    cards = []
    for index, step in enumerate(steps_of(definition)):
        step = step if isinstance(step, dict) else {}
        uses = str(step.get("uses")) if isinstance(step.get("uses"), str) else ""
        spec = registry.actions.get(uses)
        title, description = described(registry, spec, language) if spec else (uses, "")
        loc = f"steps[{index}]"
        schema = schema_of(spec.input_model) if spec else None
        options = _options(schema, step.get("with") or {}, f"{loc}.with", True, overrides, language)
        picker = _picker(f"{loc}.connection", spec.connection_type if spec else None,
                         _names(step.get("connection")), registry, stored)
        if picker is None and step.get("connection"):  # an action without connections, named anyway: shown
            picker = Picker(f"{loc}.connection", "", [], [], _names(step.get("connection")), [])
        advanced = any(step.get(key) not in (None, "", "stop") for key in ADVANCED)
        cards.append(Card(loc, index, step, uses, title, description, spec is not None, options, picker,
                          advanced_open=advanced, side_effects=spec is None or spec.side_effects
                          or bool(step.get("window"))))
    return cards


def known_fields(trigger: Card, steps: list[Card]) -> set[str]:
    """The ids of the fields and headings of the page (where a problem can be shown)."""
    known = set(RECIPE_FIELDS)
    for card in [trigger, *steps]:
        known.add(card.loc)
        known.update(f"{card.loc}.{name}" for name in (STEP_FIELDS if card.index is not None else TRIGGER_FIELDS))
        known.update(_ids(card.options.fields or []))
        if card.options.more is not None:
            known.add(f"{card.options.prefix}.more")
    return known


def _ids(fields: list[Any]) -> list[str]:
    found = []
    for spec in fields:
        found.append(spec.id)
        found.extend(_ids(list(spec.fields)))
    return found


def place(problems: list[Any], known: set[str], cards: list[Card], gettext: Any) -> list[FieldProblem]:
    """The engine's problems (loc, message) beside the fields they concern: the field itself, else the nearest
    enclosing place the page shows (a step's card, the trigger, the recipe). Each text names its step and field,
    for the error summary; the engine's plain messages and the fields' labels are translated (`gettext`: the
    catalog's `field_gettext`)."""
    placed = []
    for problem in problems:
        loc, message = str(problem.loc), engine_text(str(problem.message), gettext)
        card = _card_of(loc, cards)
        where = "" if card is None else gettext("Trigger") if card.index is None else \
            gettext("Step %(number)d", number=card.position)
        options = card.options if card is not None else None
        if options is not None and options.schema is not None and loc.startswith(options.prefix):
            located = _Message(loc, message)
            for found in schema_form.locate(options.schema, [located], options.prefix, at=options.prefix,
                                            translate=gettext):
                moved = found.field == options.prefix and options.more is not None  # data.set: beside its YAML
                placed.append(FieldProblem(f"{options.prefix}.more" if moved else found.field,
                                           f"{where} – {found.text}"))
            continue
        target = nearest(loc, known)
        label = LABELS.get(target[len(card.loc) + 1:]) if card is not None and target != card.loc else None
        place = gettext(label) if label is not None else "" if target == loc else loc
        place = " – ".join(part for part in (where, place) if part)
        shown = gettext(N_("%(place)s: %(text)s"), place=place, text=message) if place else message
        placed.append(FieldProblem(target, shown))
    return placed


@dataclass(frozen=True)
class _Message:
    loc: str
    message: str


def _card_of(loc: str, cards: list[Card]) -> Card | None:
    for card in cards:
        if loc == card.loc or loc.startswith((card.loc + ".", card.loc + "[")):
            return card
    return None


def nearest(loc: str, known: set[str]) -> str:
    """The id of the place a problem is shown at: its own field, else the nearest enclosing place shown."""
    parts = loc_parts(loc)
    while parts:
        candidate = _join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return "recipe"


def _join(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
