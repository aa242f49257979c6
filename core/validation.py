"""Check a recipe against the plugin registry before anything runs; report every problem at once."""
from __future__ import annotations

from typing import Any, cast

from croniter import croniter
from pydantic import BaseModel, ValidationError

from .durations import parse_duration
from .messages import suggest
from .plugins import Registry
from .recipes import Problem, Recipe, RecipeInvalid, pydantic_problems
from .specs import Services
from .templating import Templater
from .webhooks import WebhookConfig, config_problems


def has_template(value: Any) -> bool:
    """True when a value contains a `{{ }}` or `{% %}` template anywhere."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(has_template(v) for v in value)
    return False


def check_with(model: type[BaseModel] | None, values: Any, loc: str, services: Services | None = None) -> list[Problem]:
    """Check static `with` values against an input model; templated values are checked at run time.

    `services` reach the model's validators as `context={"services": …}` (see Services.of).
    """
    if model is None:
        return [Problem(loc, "this takes no options")] if values else []
    if not isinstance(values, dict):
        return []  # the structural check already reported it
    static = {k: v for k, v in values.items() if not has_template(v)}
    try:
        model.model_validate(static, context={"services": services} if services is not None else None)
    except ValidationError as exc:
        problems = []
        for problem, err in zip(pydantic_problems(exc, loc), exc.errors(include_url=False)):
            field = err["loc"][0] if err["loc"] else None
            if err["type"] == "missing" and field in values:
                continue  # present, but templated: known only at run time
            if field is None and len(static) < len(values):
                continue  # a check across fields, some of them templated ("give text or html"): at run time
            problems.append(problem)
        return problems
    return []


class Validator:
    """Validates raw recipe data; `validate()` returns the Recipe or raises RecipeInvalid."""

    def __init__(self, registry: Registry, templater: Templater):
        self.registry = registry
        self.services = Services(registry.services)
        self.templater = templater

    def validate(self, data: Any, source: str | None = None) -> Recipe:
        """Parse and check a recipe; every problem found is reported together."""
        if not isinstance(data, dict):
            raise RecipeInvalid([Problem("", "a recipe is a mapping with name, trigger and steps")], source)
        problems: list[Problem] = []
        recipe = None
        try:
            recipe = Recipe.model_validate(data)
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc))
        problems.extend(self._trigger(data.get("trigger"), data.get("enabled", True) is not False))
        steps = data.get("steps")
        if isinstance(steps, list):
            problems.extend(self._steps(steps))
        problems.extend(self._window(data.get("window"), "window", None))
        if problems:
            # the same place may be reported by the model and by the registry check
            unique = list(dict.fromkeys(problems))
            raise RecipeInvalid(unique, source)
        assert recipe is not None
        return recipe

    def _trigger(self, trigger: Any, enabled: bool = True) -> list[Problem]:
        if not isinstance(trigger, dict) or not isinstance(trigger.get("uses"), str):
            return []
        uses = trigger["uses"]
        spec = self.registry.triggers.get(uses)
        if spec is None:
            return [Problem("trigger.uses", f"unknown trigger {uses!r}" + suggest(uses, list(self.registry.triggers)))]
        problems = check_with(spec.config_model, trigger.get("with") or {}, "trigger.with", self.services)
        if trigger.get("every") is not None and spec.kind != "poll":
            problems.append(Problem("trigger.every", f"{uses} is not a polling trigger"))
        if spec.kind == "poll" and trigger.get("every") is not None:
            try:
                if parse_duration(trigger["every"]) < 10:
                    problems.append(Problem("trigger.every", "poll at most every 10s"))
            except ValueError:
                pass  # reported by the model
        schedule = trigger.get("schedule")
        if spec.kind == "schedule":
            if not schedule:
                problems.append(Problem("trigger.schedule", "a cron expression is required, e.g. '0 9 * * 1'"))
            elif not croniter.is_valid(str(schedule)):
                problems.append(Problem("trigger.schedule", f"invalid cron expression {schedule!r}"))
        elif schedule is not None:
            problems.append(Problem("trigger.schedule", f"{uses} does not run on a schedule"))
        if spec.kind == "webhook" and enabled and spec.config_model is not None:
            try:
                config = spec.config_model.model_validate(trigger.get("with") or {})
            except ValidationError:
                pass  # reported by check_with
            else:
                problems.extend(Problem("trigger.with", message)
                                for message in config_problems(cast(WebhookConfig, config)))
        if has_template(trigger.get("with") or {}):
            problems.append(Problem("trigger.with", "trigger options cannot use templates"))
        if isinstance(trigger.get("sample"), dict) and spec.event_model is not None:
            problems.extend(check_with(spec.event_model, trigger["sample"], "trigger.sample"))
        return problems

    def _steps(self, steps: list[Any]) -> list[Problem]:
        problems: list[Problem] = []
        seen: dict[str, int] = {}
        all_ids = {s["id"]: i for i, s in enumerate(steps) if isinstance(s, dict) and isinstance(s.get("id"), str)}
        for i, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            loc = f"steps[{i}]"
            step_id = step.get("id")
            if isinstance(step_id, str):
                if step_id in seen:
                    problems.append(Problem(f"{loc}.id",
                                            f"duplicate step id {step_id!r} (also steps[{seen[step_id]}])"))
                else:
                    seen[step_id] = i
            uses = step.get("uses")
            spec = self.registry.actions.get(uses) if isinstance(uses, str) else None
            if isinstance(uses, str) and spec is None:
                problems.append(Problem(f"{loc}.uses",
                                        f"unknown action {uses!r}" + suggest(uses, list(self.registry.actions))))
            if spec is not None:
                problems.extend(check_with(spec.input_model, step.get("with") or {}, f"{loc}.with", self.services))
                if step.get("connection") and spec.connection_type is None:
                    problems.append(Problem(f"{loc}.connection", f"{uses} takes no connection"))
            problems.extend(self._templates(step, loc, i, all_ids))
        return problems

    def _window(self, window: Any, loc: str, refs: list[tuple[str, set[str]]] | None) -> list[Problem]:
        """A window's embargo given as a template: its syntax, and the steps it reads (added to `refs`, checked as
        a step's); a recipe's window (`refs` None) applies before any step, so it may read the trigger only."""
        not_before = window.get("not_before") if isinstance(window, dict) else None
        if not isinstance(not_before, str):
            return []
        where = f"{loc}.not_before"
        found = [Problem(*p) for p in self.templater.check(not_before, where)]
        if not found:
            names = self.templater.step_references(not_before)
            if refs is not None:
                refs.append((where, names))
            elif names:
                found.append(Problem(where, "a recipe's window applies before its first step: it may use the "
                                            "trigger's data, not a step's"))
        return found

    def _templates(self, step: dict, loc: str, index: int, all_ids: dict) -> list[Problem]:
        """Template syntax, and `steps.X` references to steps that exist and come earlier."""
        t = self.templater
        problems = [Problem(*p) for p in t.check(step.get("with") or {}, f"{loc}.with")]
        refs: list[tuple[str, set[str]]] = [(f"{loc}.with", t.step_references(step.get("with") or {}))]
        condition = step.get("if")
        if isinstance(condition, str):
            found = [Problem(*p) for p in t.check_expression(condition, f"{loc}.if")]
            problems.extend(found)
            if not found:
                refs.append((f"{loc}.if", t.step_references_in_expression(condition)))
        for_each = step.get("for_each")
        if for_each is not None:
            found = [Problem(*p) for p in t.check(for_each, f"{loc}.for_each")]
            problems.extend(found)
            if not found:
                refs.append((f"{loc}.for_each", t.step_references(for_each)))
        problems.extend(self._window(step.get("window"), f"{loc}.window", refs))
        for where, names in refs:
            for name in sorted(names):
                target = all_ids.get(name)
                if target is None:
                    problems.append(Problem(where, f"refers to step {name!r}, which does not exist"
                                            + suggest(name, [k for k in all_ids if isinstance(k, str)])))
                elif target >= index:
                    problems.append(Problem(where, f"refers to step {name!r}, which "
                                            + ("is this step" if target == index else "comes later")))
        return problems
