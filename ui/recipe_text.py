"""A stored recipe told in words for its pages: its trigger and steps with the catalog's titles, and the line by
line difference between the YAML of two of its versions."""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import yaml

from . import catalog
from .web import N_

if TYPE_CHECKING:
    from .web import Visitor

CONTEXT = 3  # unchanged lines shown around each change of a diff
KINDS = {"same": " ", "added": "+", "removed": "−"}  # the symbol of each kind of diff line (not only a colour)
KIND_NAMES = {"same": N_("unchanged"), "added": N_("added"), "removed": N_("removed")}


def one_line(text: str | None, limit: int = 200) -> str:
    """The first line of a message, cut at `limit` characters."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return first if len(first) <= limit else first[:limit - 1] + "…"


def describe_trigger(seen: Visitor, trigger: dict[str, Any], name: str) -> dict[str, Any]:
    """What starts the recipe: the trigger's catalog title and the details that matter to a person."""
    key = str(trigger.get("uses") or "")
    spec = seen.engine.registry.triggers.get(key)
    details: list[tuple[str, str]] = []
    if trigger.get("schedule"):
        options = trigger.get("with") or {}
        details.append((seen.gettext("Schedule (cron)"), str(trigger["schedule"])))
        details.append((seen.gettext("Time zone"), str(options.get("timezone") or "Europe/Brussels")))
    if trigger.get("every"):
        details.append((seen.gettext("Checked every"), str(trigger["every"])))
    if spec is not None and spec.kind == "webhook":
        details.append((seen.gettext("Address"), f"/hooks/{name}"))
    if trigger.get("connection"):
        details.append((seen.gettext("Connection"), str(trigger["connection"])))
    return {"key": key, "title": catalog.translated(spec.title, seen.language) if spec else key,
            "known": spec is not None, "details": details}


def describe_steps(seen: Visitor, definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Each step: its id, its title (or its action's), the action's catalog title, connections and options."""
    steps = definition.get("steps")
    described: list[dict[str, Any]] = []
    if not isinstance(steps, list):
        return described
    for step in steps:
        if not isinstance(step, dict):
            continue
        key = str(step.get("uses") or "")
        spec = seen.engine.registry.actions.get(key)
        action = catalog.translated(spec.title, seen.language) if spec else key
        connection = step.get("connection")
        details: list[tuple[str, str]] = []
        if connection:
            details.append((seen.gettext("Connection"),
                            ", ".join(connection) if isinstance(connection, list) else str(connection)))
        if step.get("if"):
            details.append((seen.gettext("Only if"), str(step["if"])))
        if step.get("for_each"):
            details.append((seen.gettext("For each item of"), str(step["for_each"])))
        if step.get("on_error") == "continue":
            details.append((seen.gettext("On error"), seen.gettext("the recipe goes on")))
        described.append({"id": step.get("id"), "title": step.get("title") or action, "action": action, "key": key,
                          "known": spec is not None, "details": details})
    return described


def as_yaml(definition: dict[str, Any]) -> list[str]:
    """A recipe definition as the lines of its YAML, in the order it was written."""
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=100).splitlines()


def diff_rows(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[dict[str, Any]], int, int]:
    """The changed lines of two definitions' YAML with a few lines around each change, and how many lines were
    added and removed. A row: kind (same, added, removed, gap), its line numbers in each version, its text."""
    before, after = as_yaml(old), as_yaml(new)
    rows: list[dict[str, Any]] = []
    added = removed = 0
    for number, group in enumerate(difflib.SequenceMatcher(a=before, b=after, autojunk=False)
                                   .get_grouped_opcodes(CONTEXT)):
        if number:
            rows.append({"kind": "gap", "old": None, "new": None, "text": ""})
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [{"kind": "same", "old": i + 1, "new": j + 1, "text": before[i]}
                         for i, j in zip(range(i1, i2), range(j1, j2))]
                continue
            rows += [{"kind": "removed", "old": i + 1, "new": None, "text": before[i]} for i in range(i1, i2)]
            rows += [{"kind": "added", "old": None, "new": j + 1, "text": after[j]} for j in range(j1, j2)]
            removed += i2 - i1
            added += j2 - j1
    for row in rows:
        row["symbol"] = KINDS.get(row["kind"], "…")
        row["name"] = KIND_NAMES.get(row["kind"], "")
    return rows, added, removed
