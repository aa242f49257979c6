"""The YAML tab's text: a working recipe as YAML, YAML read back with the line and column of a mistake, and the line
where a problem's place (`steps[1].with.subject`) is written."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from .builder_model import loc_parts


def dump(definition: dict[str, Any]) -> str:
    """The recipe as YAML, its keys in the order of the recipe (name, title, trigger, steps)."""
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


@dataclass(frozen=True)
class Mistake:
    """Why YAML text could not be read, and where (1-based line and column; 0 when unknown)."""

    line: int
    column: int
    problem: str


def parse(text: str) -> tuple[Any, Mistake | None]:
    """The data of YAML text, or the mistake that stops it being read."""
    try:
        return yaml.safe_load(text), None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        return None, Mistake(line, column, str(exc.problem or exc.context or "invalid YAML"))
    except yaml.YAMLError as exc:
        return None, Mistake(0, 0, str(exc))


def line_of(text: str, loc: str) -> int:
    """The line (1-based) where the value at `loc` is written: the nearest enclosing one found; 0 when unknown."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return 0
    if node is None:
        return 0
    line = node.start_mark.line + 1
    for part in loc_parts(loc):
        child = None
        if isinstance(part, int) and isinstance(node, yaml.SequenceNode) and part < len(node.value):
            child = node.value[part]
        elif isinstance(part, str) and isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    child, line = value, key.start_mark.line + 1
                    break
        if child is None:
            break
        node = child
        if isinstance(part, int):
            line = node.start_mark.line + 1
    return line
