"""Previews of a recipe: a dry run through the engine (each action's `preview`, nothing sent), read back step by step
and shaped for the page by a small registry of renderers (social posts, e-mails, web posts, analytics events; any
other action falls back to its fields).

`preview(engine, recipe_or_definition, event)` is what a page calls, the builder too (on an unsaved draft).
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from babel.numbers import format_decimal

from beffroi import Engine

from . import catalog

# "steps[1].with.subject: …" or "steps[0].if: …": where in the recipe a step's error is
_WHERE = re.compile(r"^steps\[\d+\]\.(?P<part>with|if|for_each)(?:\.(?P<field>[\w.\[\]-]+))?:\s*")
_CONNECTION = re.compile(r"^connection:\s*")
_LINK = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]']")


def pretty(value: Any) -> str:
    """A value as people read it: text as it is, anything else as indented JSON."""
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


def fields(value: Any) -> list[tuple[str, str, bool]]:
    """The fields of a mapping as (name, text, is_block): text as it is, lists and objects as JSON blocks."""
    if not isinstance(value, dict):
        return [("", pretty(value), True)] if value is not None else []
    return [(str(key), pretty(item), not isinstance(item, str) or "\n" in item) for key, item in value.items()]


def with_links(text: str) -> list[tuple[str, str | None]]:
    """A post's text in pieces: (text, None), or (address, address) for a link as the networks make one."""
    pieces: list[tuple[str, str | None]] = []
    at = 0
    for match in _LINK.finditer(text):
        if match.start() > at:
            pieces.append((text[at:match.start()], None))
        pieces.append((match.group(), match.group()))
        at = match.end()
    if at < len(text):
        pieces.append((text[at:], None))
    return pieces


@dataclass
class StepPreview:
    """One step of a preview: what it was given (templates rendered), what it would do, or why it cannot."""

    id: str
    position: int  # from 1, as people count
    uses: str
    title: str
    status: str  # succeeded, failed, skipped, or pending (not reached: an earlier step failed)
    input: Any = None
    output: Any = None
    error: str | None = None
    field: str | None = None  # the part of the step the error concerns: "subject", "connection", "if"…
    looped: bool = False  # a `for_each` step: its output is one per item
    kind: str = "generic"  # the renderer chosen for its output (see RENDERERS)
    view: dict[str, Any] = dataclasses.field(default_factory=dict)  # what the renderer's macro shows
    parts: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)  # (kind, view) per output:
    # one for a step, one per item for a `for_each` step (then kind and view are the first item's)

    @property
    def input_fields(self) -> list[tuple[str, str, bool]]:
        """The step's rendered `with`, field by field."""
        return fields(self.input)

    @property
    def output_text(self) -> str:
        """The whole output as JSON (folded away under the rendered view)."""
        return pretty(self.output)


@dataclass(frozen=True)
class Renderer:
    """How one kind of output is shown: `matches(uses, output)` picks it, `view(output)` shapes it for its macro."""

    kind: str
    matches: Callable[[str, Any], bool]
    view: Callable[[Any], dict[str, Any]]


def _has(key: str) -> Callable[[str, Any], bool]:
    return lambda uses, output: isinstance(output, dict) and key in output


# the accessibility advice on a post the preview shows (plugins/smms/accessibility.py; _testing_preview.html says it)
POST_ADVICE = frozenset({"hashtag_case", "fancy_letters", "emoji_bullets", "link_only", "shouting"})


def _social(output: dict) -> dict[str, Any]:
    posts = []
    for item in output.get("would_publish") or []:
        image: dict | None = item.get("image") or None
        count, limit, text = item.get("count"), item.get("limit"), item.get("text", "")
        over = count - limit if isinstance(count, int) and isinstance(limit, int) and count > limit else 0
        posts.append({"account": item.get("account", ""), "network": item.get("network", ""), "text": text,
                      "pieces": with_links(text), "count": count, "limit": limit, "unit": item.get("unit"),
                      "over": over, "within_limit": item.get("within_limit", True),
                      "truncated": item.get("truncated", False), "problem": item.get("problem"),
                      "language": item.get("language"), "image": image,
                      "image_without_alt": image is not None and not (image.get("alt") or "").strip(),
                      "advice": [a for a in item.get("advice") or []
                                 if isinstance(a, dict) and a.get("code") in POST_ADVICE]})
    return {"posts": posts}


def _message(described: dict | None) -> dict[str, Any] | None:
    """An e-mail as `describe()` of the email plugin gives it: headers, text, html, envelope."""
    if not isinstance(described, dict):
        return None
    headers = described.get("headers") or {}
    return {"subject": headers.get("Subject", ""), "from": headers.get("From", ""), "to": headers.get("To", ""),
            "reply_to": headers.get("Reply-To"), "text": described.get("text"), "html": described.get("html"),
            "unsubscribe": headers.get("List-Unsubscribe")}


def _email(output: dict) -> dict[str, Any]:
    return {"message": _message(output.get("would_send")), "recipients": output.get("recipients", 0), "list": None,
            "list_size": None, "skipped": 0, "already_sent": 1 if output.get("already_sent") else 0, "minutes": None,
            "outbox": output.get("outbox", False), "connection": output.get("connection"), "warnings": []}


def _campaign(output: dict) -> dict[str, Any]:
    return {"message": _message(output.get("first_message")), "recipients": output.get("would_send", 0),
            "list": output.get("list"), "list_size": output.get("recipients", 0),
            "skipped": output.get("skipped", 0), "already_sent": output.get("already_sent", 0),
            "minutes": output.get("estimated_minutes"), "outbox": output.get("outbox", False),
            "connection": output.get("connection"), "warnings": list(output.get("warnings") or [])}


def _web_post(output: dict) -> dict[str, Any]:
    post = output.get("would_create") or {}
    return {"title": post.get("title", ""), "excerpt": post.get("excerpt"), "status": post.get("status", ""),
            "site": post.get("site"), "connection": post.get("connection"), "categories": post.get("categories") or [],
            "date": post.get("date")}


def _analytics(output: dict) -> dict[str, Any]:
    stored = output.get("would_store") or {}
    return {"name": stored.get("name", ""), "campaign": stored.get("campaign"),
            "properties": fields(stored.get("properties") or {}),
            "tools": [{"connection": sent.get("connection"), "type": sent.get("type")}
                      for sent in output.get("would_send") or []]}


def _generic(output: Any) -> dict[str, Any]:
    return {"fields": fields(output)}


# Tried in order; the last one takes anything. A plugin's new action shows as its fields until a renderer is added.
RENDERERS: list[Renderer] = [
    Renderer("social", _has("would_publish"), _social),
    Renderer("campaign", _has("first_message"), _campaign),
    Renderer("email", lambda uses, output: isinstance(output, dict) and isinstance(output.get("would_send"), dict)
             and "headers" in output["would_send"], _email),
    Renderer("web_post", _has("would_create"), _web_post),
    Renderer("analytics", _has("would_store"), _analytics),
    Renderer("generic", lambda uses, output: True, _generic),
]


def render_output(uses: str, output: Any) -> tuple[str, dict[str, Any]]:
    """The kind of a step's output and its view, from the first renderer that matches."""
    for renderer in RENDERERS:
        if renderer.matches(uses, output):
            return renderer.kind, renderer.view(output)
    return "generic", _generic(output)  # pragma: no cover - the last renderer matches everything


def located(error: str) -> tuple[str | None, str]:
    """(the field an error concerns, the error without its location): `steps[1].with.subject: x` → (subject, x)."""
    match = _WHERE.match(error)
    if match:
        return match.group("field") or match.group("part"), error[match.end():]
    match = _CONNECTION.match(error)
    if match:
        return "connection", error[match.end():]
    return None, error


def steps_of(engine: Engine, recipe: Any, run: dict, language: str = "en") -> list[StepPreview]:
    """The steps of a finished dry run (`engine.runs.detail`), each with its renderer's view; a step without a
    title of its own is named by what its action does, in `language` (the catalog's texts)."""
    steps_by_id = {step.id: step for step in recipe.steps}
    found = []
    for position, entry in enumerate(run["steps"], start=1):
        uses = entry.get("uses") or ""
        step = steps_by_id.get(entry["id"])
        spec = engine.registry.actions.get(uses)
        title = (step.title if step is not None and step.title else None) or (
            catalog.translated(spec.title, language) if spec else uses)
        shown = StepPreview(id=entry["id"], position=position, uses=uses, title=title, status=entry["status"],
                            input=entry.get("input"), output=entry.get("output"), looped=bool(step and step.for_each))
        if entry.get("error"):
            shown.field, shown.error = located(entry["error"])
        output = entry.get("output")
        if entry["status"] == "succeeded":
            looped = step is not None and step.for_each is not None and isinstance(output, list)
            shown.parts = [render_output(uses, item) for item in output] if looped else [render_output(uses, output)]
            if shown.parts:
                shown.kind, shown.view = shown.parts[0]
        found.append(shown)
    return found


def numbers(language: str) -> Callable[[Any], str]:
    """The `number` the macros of _testing_preview.html take: a count in the language's format (1 234 / 1,234)."""
    return lambda value: format_decimal(value, locale=language)


def start(engine: Engine, recipe: Any, event: dict | None = None, *, through: str | None = None) -> str:
    """Dry-run a recipe (up to and including step `through`) on an event (None: its sample) in this thread; the
    run's id. Every action with side effects only previews; the run is kept as a dry run of the recipe."""
    if through is not None:
        ids = [step.id for step in recipe.steps]
        recipe = recipe.model_copy(update={"steps": recipe.steps[:ids.index(through) + 1]})
    if event is None:
        event = engine.sample_event(recipe)
    run_id = engine.create_run(recipe, event, dry_run=True)
    assert run_id is not None  # None only for a trigger key already seen, and a preview has none
    engine.execute(run_id)
    return run_id


def preview(engine: Engine, recipe_or_definition: Any, event: dict | None = None, *,
            through: str | None = None, language: str = "en") -> list[StepPreview]:
    """Preview a recipe or an unsaved definition (validated as a save would: RecipeInvalid lists its problems) on an
    event (None: its sample): each step's rendered input and what it would do. Nothing is sent."""
    recipe = engine.validate(recipe_or_definition) if isinstance(recipe_or_definition, dict) else recipe_or_definition
    run = engine.runs.detail(start(engine, recipe, event, through=through))
    assert run is not None  # stored just above
    return steps_of(engine, recipe, run, language)
