"""The recipe model, loading from YAML/JSON, and validation against the plugin registry."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .durations import Duration
from .messages import plain
from .windows import Window

STEP_ID = r"^[A-Za-z_][A-Za-z0-9_]*$"
CONTEXT_NAMES = {"trigger", "steps", "run", "item", "item_index"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Retry(_Model):
    """How often a failing step is attempted again, and the first wait (doubled each time)."""

    attempts: int = Field(3, ge=1, le=20)
    backoff: Duration = "10s"


class Trigger(_Model):
    """What starts the recipe: `uses` a trigger key, its `with` options, and `every` or `schedule`."""

    uses: str
    connection: str | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    every: Duration | None = None
    schedule: str | None = None
    sample: dict[str, Any] | None = Field(None, description="the event a dry run uses when given none (the "
                                                            "trigger's own sample otherwise)")


class Step(_Model):
    """One step: an action with its input (`with`) and the engine's options kept outside `with`."""

    id: str = Field(pattern=STEP_ID)
    title: str | None = None
    uses: str
    connection: str | list[str] | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    if_: str | None = Field(None, alias="if")
    for_each: str | list[Any] | None = None
    retry: Retry | None = None
    timeout: Duration | None = None
    on_error: Literal["stop", "continue"] = "stop"
    window: Window | None = Field(None, description="when this step may publish or send (see beffroi.windows); "
                                                    "else the recipe's window")

    @property
    def connection_names(self) -> list[str]:
        """The connection names as a list (one, several or none)."""
        if self.connection is None:
            return []
        return [self.connection] if isinstance(self.connection, str) else list(self.connection)


class Recipe(_Model):
    """A whole recipe: one trigger, then steps. The same model for YAML files and the API."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)
    title: str = ""
    description: str = ""
    enabled: bool = True
    trigger: Trigger
    steps: list[Step] = Field(min_length=1)
    window: Window | None = Field(None, description="when the steps that publish or send may run: an embargo, quiet "
                                                    "hours, working days, a time of day (see beffroi.windows)")

    @field_validator("title")
    @classmethod
    def _default_title(cls, value: str, info) -> str:
        return value or info.data.get("name", "")

    def to_data(self) -> dict[str, Any]:
        """The recipe as plain data with `with`/`if` keys, omitting unset options."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def mask_secrets(definition: dict[str, Any]) -> dict[str, Any]:
    """A recipe document with its trigger's secret (a webhook's shared secret) hidden."""
    trigger = definition.get("trigger") or {}
    options = trigger.get("with") or {}
    if options.get("secret"):
        return {**definition, "trigger": {**trigger, "with": {**options, "secret": "***"}}}
    return definition


@dataclass(frozen=True)
class Problem:
    """One validation error: where (`steps[1].with.subject`) and what."""

    loc: str
    message: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.message}" if self.loc else self.message


class RecipeInvalid(ValueError):
    """A recipe that cannot be saved or run; `problems` lists every error with its location."""

    def __init__(self, problems: list[Problem], source: str | None = None):
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(str(p) for p in problems))


def format_loc(parts: tuple[Any, ...] | list[Any], prefix: str = "") -> str:
    """('steps', 1, 'with', 'subject') → 'steps[1].with.subject'."""
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def pydantic_problems(error: ValidationError, prefix: str = "") -> list[Problem]:
    """Turn a pydantic ValidationError into located problems with readable messages."""
    problems = []
    for err in error.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-after"))]
        problems.append(Problem(format_loc(loc, prefix), plain(err)))
    return problems


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a recipe file (YAML or JSON) into plain data; a parse error names the file and line."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise RecipeInvalid([Problem("", f"cannot parse the file: {where}{exc.problem or exc}")], str(path)) from None
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise RecipeInvalid([Problem("", f"cannot parse the file: {exc}")], str(path)) from None
    if not isinstance(data, dict):
        raise RecipeInvalid([Problem("", "a recipe is a mapping with name, trigger and steps")], str(path))
    return data


