"""The builder's changes to a working recipe (plain data, valid or not yet): a blank one, the examples to start
from, steps added, moved and deleted, and the ids of fields named after the places problems are reported at."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MANUAL_TRIGGER = "builtins.manual"
EXAMPLE_SUFFIXES = (".yaml", ".yml")


def blank(name: str, title: str) -> dict[str, Any]:
    """A new recipe started by hand, disabled until its author enables it: no step yet, which saving will ask for."""
    return {"name": name, "title": title, "enabled": False, "trigger": {"uses": MANUAL_TRIGGER}, "steps": []}


@dataclass(frozen=True)
class Example:
    """A recipe of the installation's examples folder: its file name (without suffix), title and data."""

    key: str
    title: str
    definition: dict[str, Any]


def examples(folder: Path) -> list[Example]:
    """The example recipes in `folder` (BEFFROI_RECIPES_DIR) by title; a file that is no recipe is left out."""
    found = []
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.suffix not in EXAMPLE_SUFFIXES or not path.is_file():
                continue
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            if isinstance(data, dict) and isinstance(data.get("trigger"), dict):
                found.append(Example(path.stem, str(data.get("title") or data.get("name") or path.stem), data))
    return sorted(found, key=lambda e: e.title.casefold())


def from_example(example: Example, name: str, title: str) -> dict[str, Any]:
    """A new recipe that starts as a copy of an example, under its new name (and title, when one is given)."""
    data = copy.deepcopy(example.definition)
    data["name"] = name
    data["title"] = title or example.title
    return data


def steps_of(definition: dict[str, Any]) -> list[Any]:
    """The steps of a working recipe as a list (a YAML edit may have left something else there)."""
    steps = definition.get("steps")
    return steps if isinstance(steps, list) else []


def step_id(step: Any, index: int) -> str:
    """The id a step is called by in messages (its position when it has none)."""
    value = step.get("id") if isinstance(step, dict) else None
    return value if isinstance(value, str) and value else f"#{index + 1}"


def new_step_id(uses: str, taken: set[str]) -> str:
    """An id for a new step from its action (`smms.publish` → `publish`, then `publish_2`…), a valid one."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", uses.rsplit(".", 1)[-1]) or "step"
    if not re.match(r"[A-Za-z_]", base):
        base = f"step_{base}"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    return candidate


def insert_step(definition: dict[str, Any], after: int, uses: str) -> tuple[dict[str, Any], int]:
    """The recipe with a new step using `uses` below step `after` (-1: first); returns it and the new index."""
    steps = list(steps_of(definition))
    index = max(0, min(after + 1, len(steps)))
    taken = {str(s["id"]) for s in steps if isinstance(s, dict) and isinstance(s.get("id"), str)}
    steps.insert(index, {"id": new_step_id(uses, taken), "uses": uses, "with": {}})
    return {**definition, "steps": steps}, index


def choose_trigger(definition: dict[str, Any], uses: str) -> dict[str, Any]:
    """The recipe started by another trigger (its options start afresh; the same trigger keeps them)."""
    trigger = definition.get("trigger")
    if isinstance(trigger, dict) and trigger.get("uses") == uses:
        return definition
    return {**definition, "trigger": {"uses": uses}}


def move_step(definition: dict[str, Any], index: int, offset: int) -> tuple[dict[str, Any], int] | None:
    """The recipe with step `index` moved up (-1) or down (+1), and its new index; None when it cannot move."""
    steps = list(steps_of(definition))
    target = index + offset
    if not (0 <= index < len(steps) and 0 <= target < len(steps)):
        return None
    steps[index], steps[target] = steps[target], steps[index]
    return {**definition, "steps": steps}, target


def delete_step(definition: dict[str, Any], index: int) -> tuple[dict[str, Any], Any] | None:
    """The recipe without step `index`, and the step deleted; None when there is no such step."""
    steps = list(steps_of(definition))
    if not 0 <= index < len(steps):
        return None
    removed = steps.pop(index)
    return {**definition, "steps": steps}, removed


def loc_parts(loc: str) -> list[str | int]:
    """`steps[1].with.subject` → ['steps', 1, 'with', 'subject']."""
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", loc):
        parts.append(int(index) if index else name)
    return parts
