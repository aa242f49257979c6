"""Executes one run from its journal: steps in order, `if`, `for_each`, retry, timeout, dry run, resume."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from .durations import parse_duration
from .errors import Parked, StepTimeout, describe
from .journal import Journal, RunWriter, StepRecord
from .plugins import PluginHost
from .publications import PUBLISHING_TYPES  # a recipe's `window` holds these tool types' steps
from .recipes import Recipe, Step, pydantic_problems
from .redaction import redact, scrub
from .specs import ActionContext, ActionSpec, html_fields, secrets_of
from .store.models import utcnow
from .templating import TemplateError, Templater
from .windows import Window, embargo, next_allowed

log = logging.getLogger("beffroi.runner")
# One WARNING per failed run, on its own logger so operators can route or silence it apart from the runner's chatter
failures = logging.getLogger("beffroi.runs")
MAX_ITEMS = 10_000


def connection_lost(exc: BaseException) -> bool:
    """Is this the database connection failing (worth handing the run back), rather than an error in the run?"""
    cause = getattr(exc, "orig", None) or exc
    return isinstance(cause, (ConnectionError, TimeoutError)) or type(cause).__name__ in (
        "OperationalError", "InterfaceError", "DisconnectionError")


class StepFailed(Exception):
    """A step that cannot go on; the message is what the journal records."""


@dataclass
class Outcome:
    status: str
    output: Any = None
    error: str | None = None


def jsonable(value: Any) -> Any:
    """Plain JSON data for an action's output (NaN and infinities, which JSON cannot carry, become null)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    return to_jsonable_python(value, fallback=str, inf_nan_mode="null")


class Runner:
    """Runs journaled runs. One runner per engine; `execute()` is safe to call from many threads.

    On SQLite, a run holds the slot while it executes engine code (claim, templates, journal, pure actions):
    SQLite takes one writer at a time anyway, and threads that all want the GIL would slow each other and
    the event loop that accepts webhooks. A run gives the slot back while it only waits — an action with
    side effects or a timeout (it runs in its own thread), a long-running one (a delay), a retry's backoff —
    so waiting runs still overlap. Pure actions are quick computations: they run holding the slot.
    """

    def __init__(self, *, journal: Journal, host: PluginHost, templater: Templater, worker_id: str,
                 resolve_connections: Callable[[list[str], str | None], list[Any]], http: Any = None,
                 default_timeout: float = 300.0):
        self.journal = journal
        self.host = host
        self.templater = templater
        self.worker_id = worker_id
        self.resolve_connections = resolve_connections
        self.http = http
        self.context: dict[str, Any] = {}  # more ActionContext fields the engine provides (db, signer, public_url)
        self.default_timeout = default_timeout
        self.cancelled: set[str] = set()
        # lookahead.later_steps (the engine sets it): the previews an approving step shows (ActionSpec.approves)
        self.lookahead: Callable[..., list[dict[str, Any]]] | None = None
        self._recipes: dict[tuple[str, int], Recipe] = {}
        self.active: set[str] = set()
        # publish windows: the installation's time zone and whose public holidays (the engine sets its settings')
        self.calendar: tuple[ZoneInfo, str] = (ZoneInfo("Europe/Brussels"), "BE")
        self.sleep = threading.Event().wait  # interruptible sleep hook (tests and shutdown)
        # On SQLite, one run at a time executes engine code (see the class docstring); a Lock is the cheapest slot.
        self.slot = threading.Lock() if journal.db.is_sqlite else None

    # -- a run ---------------------------------------------------------------------------------
    def execute(self, run_id: str, *, from_statuses: tuple[str, ...] = ("queued",)) -> str | None:
        """Claim and run a run to its end; returns the final status, or None when another worker has it.

        A run never stays `running` because of an error inside Beffroi (a value the database refuses, a bug):
        it is marked failed with a message. Only a lost database connection escapes, for the caller to hand
        the run back (it is resumed once the database answers again).
        """
        with self.slot or nullcontext():
            try:
                with self.journal.writer(run_id) as writer:
                    row = writer.claim(self.worker_id, from_statuses)
                    if row is None:
                        return None
                    self.active.add(run_id)
                    try:
                        return self._execute(row, writer)
                    finally:
                        self.active.discard(run_id)
                        self.cancelled.discard(run_id)
            except Exception as exc:
                if connection_lost(exc):
                    raise
                broken = exc
            # Outside the run's writer, whose connection may be unusable after the error.
            where = getattr(broken, "beffroi_step", None)
            log.error("run %s stopped on an internal error%s", run_id, f" at step {where}" if where else "",
                      exc_info=broken)
            self.journal.finish_run(run_id, "failed", (f"step {where!r}: " if where else "")
                                    + f"the run stopped on an error inside Beffroi ({describe(broken)}); the "
                                      "server log has the details")
            return "failed"

    def _execute(self, row: dict, writer: RunWriter) -> str:
        run_id = row["id"]
        recipe = self._recipe(row)
        started = row["started_at"] or utcnow()
        data: dict[str, Any] = {
            "trigger": row["trigger_event"] if row["trigger_event"] is not None else {},
            "steps": {},
            "run": {"id": run_id, "recipe": recipe.name, "started_at": started.isoformat(), "dry_run": row["dry_run"]},
        }
        journal = {} if row["fresh"] else writer.steps()
        overrides = row["overrides"] = {}  # {step id: {field: value}} a step that approves gives later steps
        self.host.track_event({"type": "run.started", "run_id": run_id, "recipe": recipe.name})
        status, error = "succeeded", None
        last = len(recipe.steps) - 1
        for position, step in enumerate(recipe.steps):
            if run_id in self.cancelled or (self._has_side_effects(step) and
                                            self.journal.run_status(run_id) == "cancelled"):
                status = "cancelled"  # another process (the API, a worker) may have cancelled it
                break
            record = journal.get(step.id)
            if record and (record.status in ("succeeded", "skipped")
                           or (record.status == "failed" and step.on_error == "continue")):
                data["steps"][step.id] = record.output if record.status == "succeeded" else None
                if record.status == "succeeded" and type(record.output) is dict and "approved" in record.output:
                    self._approved(step, record.output, overrides)
                continue
            began = time.perf_counter()
            try:
                outcome = self._step(writer, row, recipe, position, step, data, record, position == last)
            except Parked as parked:  # the run waits, journaled: it leaves this worker until it is woken
                writer.park(parked.wake_at)
                self.host.track_event({"type": "run.waiting", "run_id": run_id, "recipe": recipe.name,
                                       "step_id": step.id})
                return "waiting"
            except Exception as exc:
                exc.beffroi_step = step.id  # type: ignore[attr-defined]  # named in the run's error
                raise
            data["steps"][step.id] = outcome.output if outcome.status == "succeeded" else None
            if type(outcome.output) is dict and "approved" in outcome.output:  # rare: a step that approves
                self._approved(step, outcome.output, overrides)
            self.host.track_event({"type": "step.finished", "run_id": run_id, "recipe": recipe.name, "step_id": step.id,
                                   "status": outcome.status,
                                   "duration_ms": round((time.perf_counter() - began) * 1000, 3)})
            if outcome.status == "failed" and step.on_error == "stop":
                status, error = "failed", f"step {step.id!r} failed: {outcome.error}"
                break
        writer.finish(status, error)
        if status == "failed":  # the step's error is what the journal holds: secrets already scrubbed
            failures.warning("%srun %s of %s failed at step %s: %s", "dry " if row["dry_run"] else "", run_id,
                             recipe.name, step.id, outcome.error)
        self.host.track_event({"type": "run.finished", "run_id": run_id, "recipe": recipe.name, "status": status})
        return status

    @contextmanager
    def _waiting(self) -> Iterator[None]:
        """Give the slot back while this thread only waits (an action in its thread, a delay, a backoff)."""
        if self.slot is None:
            yield
            return
        self.slot.release()
        try:
            yield
        finally:
            self.slot.acquire()

    def _recipe(self, row: dict) -> Recipe:
        """The run's recipe; parsed once per stored version (a run's definition is that version's)."""
        version = row["recipe_version"]
        if version is None:
            return Recipe.model_validate(row["definition"])
        key = (row["recipe_name"], version)
        recipe = self._recipes.get(key)
        if recipe is None:
            if len(self._recipes) > 500:
                self._recipes.clear()
            recipe = self._recipes[key] = Recipe.model_validate(row["definition"])
        return recipe

    def _approved(self, step: Step, output: Any, overrides: dict[str, dict]) -> None:
        """Keep the values a step that approves (`ActionSpec.approves`) set for later steps: its `approved` output."""
        if type(output) is dict and type(output.get("approved")) is dict:
            spec = self.host.registry.actions.get(step.uses)
            if spec is not None and spec.approves:
                overrides.update(output["approved"])

    def _has_side_effects(self, step: Step) -> bool:
        spec = self.host.registry.actions.get(step.uses)
        return spec is not None and spec.side_effects

    # -- a step --------------------------------------------------------------------------------
    def _step(self, writer: RunWriter, row: dict, recipe: Recipe, position: int, step: Step, data: dict,
              record: StepRecord | None, last: bool) -> Outcome:
        """Run one step and journal its outcome; the last step's outcome is committed with the run's finish."""
        run_id, dry_run = row["id"], row["dry_run"]
        exists = record is not None
        spec = self.host.registry.actions.get(step.uses)
        started = record.started_at if record is not None and record.started_at else self.now()

        def write(outcome: Outcome, input: Any = None, attempts: int = 0, durable: bool = False) -> Outcome:
            # Durable (on disk before going on) when it records a side effect; see RunWriter.
            writer.write_step(step.id, exists=exists, position=position, status=outcome.status, input=input,
                              output=outcome.output, error=outcome.error, attempts=attempts, started_at=started,
                              finished=True, defer=last, durable=durable)
            return outcome

        if spec is None:
            return write(Outcome("failed", error=f"action {step.uses!r} is not available (is its plugin loaded?)"))
        if step.if_ is not None:
            try:
                if not self.templater.evaluate(step.if_, data, f"steps[{position}].if"):
                    return write(Outcome("skipped"))
            except TemplateError as exc:
                return write(Outcome("failed", error=str(exc)))
        try:
            connections = self.resolve_connections(step.connection_names, spec.connection_type)
        except Exception as exc:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
            return write(Outcome("failed", error=f"connection: {describe(exc)}"))
        secrets = secrets_of(connections)
        window = step.window or (recipe.window if spec.key.split(".", 1)[0] in PUBLISHING_TYPES else None)
        if window is not None and not dry_run:
            try:
                waited = record if record is not None and record.status == "waiting" else None
                chosen = waited.output.get("publish_at") if waited and isinstance(waited.output, dict) else None
                if isinstance(chosen, str):  # rescheduled by a person (Journal.reschedule): that time, not the window
                    at = datetime.fromisoformat(chosen)
                    opens = at if at > self.now() else None
                else:
                    opens = self._window_opens(window, data, f"steps[{position}].window",
                                               waited.started_at if waited else None)
            except StepFailed as exc:
                return write(Outcome("failed", error=str(exc)))
            if opens is not None:  # journaled as waiting for its window; the run is parked by _execute
                writer.write_step(step.id, exists=exists, position=position, status="waiting",
                                  output={"window_opens_at": opens.isoformat(),
                                          **({"publish_at": chosen} if isinstance(chosen, str) else {})},
                                  attempts=record.attempts if record else 0, started_at=started)
                raise Parked(wake_at=opens)
        timeout = parse_duration(step.timeout) if step.timeout else None
        if step.for_each is not None:
            return self._loop(writer, row, recipe, position, step, spec, data, record, connections, secrets, timeout,
                              started, last)
        try:
            payload = self._input(spec, step, position, data, row["overrides"].get(step.id))
        except StepFailed as exc:
            return write(Outcome("failed", error=str(exc)))
        shown = redact(jsonable(payload), secrets)
        ctx = ActionContext(run_id=run_id, step_id=step.id, idempotency_key=f"{run_id}:{step.id}", recipe=recipe.name,
                            dry_run=dry_run, connections=connections, http=self.http, **self.context,
                            attempt=(record.attempts if record else 0) + 1, started_at=started)
        if spec.approves and self.lookahead is not None:  # it shows what each later step would do, data of now
            lookahead = self.lookahead
            ctx.later_previews = lambda: lookahead(self, row, recipe, position, data)
        durable_start = (spec.side_effects or spec.long_running) and not dry_run
        if durable_start:  # a crash during a side effect leaves a trace the action can check on resume
            writer.write_step(step.id, exists=exists, position=position, status="running", input=shown,
                              attempts=ctx.attempt, started_at=started)
            exists = True
        try:
            outcome, attempts = self._attempts(spec, step, payload, ctx, timeout, secrets)
        except Parked as parked:  # journaled as waiting (not a new attempt); the run is parked by _execute
            writer.write_step(step.id, exists=exists, position=position, status="waiting", input=shown,
                              output=redact(jsonable(parked.output), secrets), attempts=ctx.attempt - 1,
                              started_at=started)
            raise
        return write(outcome, shown, attempts, durable=durable_start)

    def now(self) -> datetime:
        """The time as the engine sees it (its clock: tests move it), in UTC."""
        clock = self.context.get("clock")
        return clock() if clock is not None else utcnow()

    def _window_opens(self, window: Window, data: dict, loc: str, reached: datetime | None) -> datetime | None:
        """When the step's publish window opens, in UTC, or None when the step may run now.

        The window is read from when the run first `reached` the step (None: now; "10:00 the next working day" is
        the day after that, however late the run is woken); once that time has come, the step runs now unless
        quiet hours, a weekend or a holiday forbid this moment (a scheduler that was down wakes the run late):
        then it waits for the next allowed moment, without the time of day.
        """
        zone, region = self.calendar
        not_before = None
        if window.not_before and "{{" in window.not_before:
            try:
                text = self.templater.render(window.not_before, data, f"{loc}.not_before")
                not_before = embargo(str(text), zone) if text not in (None, "") else None
            except (TemplateError, ValueError) as exc:
                raise StepFailed(f"{loc}.not_before: {exc}" if isinstance(exc, ValueError) else str(exc)) from None
        now = self.now()
        first = next_allowed(window, reached or now, zone, region, not_before=not_before)
        if first > now:
            return first.astimezone(UTC)
        if window.at is None and window.quiet_hours is None and not window.working_days:
            return None
        relaxed = window.model_copy(update={"at": None, "next_day": False})
        opens = next_allowed(relaxed, now, zone, region, not_before=not_before)
        return opens.astimezone(UTC) if opens > now else None

    def _input(self, spec: ActionSpec, step: Step, position: int, data: dict,
               override: dict | None = None) -> BaseModel:
        """Render `with` and validate it against the action's input model; `override`: approved values laid over."""
        try:
            rendered = self.templater.render(step.with_, data, f"steps[{position}].with",
                                             html=html_fields(spec.input_model))
        except TemplateError as exc:
            raise StepFailed(str(exc)) from None
        if override and isinstance(rendered, dict):
            rendered = {**rendered, **override}
        try:
            return spec.input_model.model_validate(rendered, context={"services": self.context.get("services")})
        except ValidationError as exc:
            raise StepFailed("; ".join(str(p) for p in pydantic_problems(exc, f"steps[{position}].with"))) from None

    def _attempts(self, spec: ActionSpec, step: Step, payload: BaseModel, ctx: ActionContext, timeout: float | None,
                  secrets: list[str]) -> tuple[Outcome, int]:
        """Call run (or preview) with the step's retry policy; returns the outcome and attempts made."""
        allowed = step.retry.attempts if step.retry and not ctx.dry_run else 1
        backoff = parse_duration(step.retry.backoff) if step.retry else 0.0
        first = ctx.attempt
        attempt = first
        while True:
            ctx.attempt = attempt
            try:
                output = self._call(spec, payload, ctx, timeout)
                return Outcome("succeeded", output=redact(jsonable(output), secrets)), attempt
            except Parked:
                raise
            except Exception as exc:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
                message = scrub(describe(exc), secrets)
                retryable = getattr(exc, "retryable", True)
                if not retryable or attempt - first + 1 >= allowed or ctx.run_id in self.cancelled:
                    return Outcome("failed", error=message), attempt
                log.info("step %s of run %s failed (attempt %d): %s; retrying",
                         ctx.step_id, ctx.run_id, attempt, message)
                with self._waiting():
                    self.sleep(backoff * 2 ** (attempt - first))
                attempt += 1

    def _call(self, spec: ActionSpec, payload: BaseModel, ctx: ActionContext, timeout: float | None) -> Any:
        """One call of run/preview, in a watchdog thread when it may block."""
        if ctx.dry_run:
            if spec.preview is not None:
                return spec.preview(payload, ctx)
            if spec.side_effects:
                return {"would_run": spec.key, "input": payload}
            # a pure action changes nothing: running it gives later steps its real output
        if timeout is None and not spec.side_effects:
            if spec.long_running:
                with self._waiting():
                    return spec.run(payload, ctx)
            return spec.run(payload, ctx)  # pure and quick: runs holding the slot
        limit = timeout if timeout is not None else (spec.default_timeout or self.default_timeout)
        ctx.deadline = time.monotonic() + limit
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = spec.run(payload, ctx)
            except BaseException as exc:  # noqa: BLE001 - handed to the runner thread below
                box["error"] = exc

        worker = threading.Thread(target=target, name=f"step-{ctx.step_id}", daemon=True)
        worker.start()
        with self._waiting():
            worker.join(limit)
        if worker.is_alive():
            raise StepTimeout(f"timed out after {limit:g}s")
        if "error" in box:
            raise box["error"]
        return box.get("value")

    # -- a loop --------------------------------------------------------------------------------
    def _loop(self, writer, row, recipe, position, step, spec, data, record, connections, secrets, timeout, started,
              last) -> Outcome:
        run_id, dry_run = row["id"], row["dry_run"]
        exists = record is not None
        effects = spec.side_effects and not dry_run  # then each item's outcome is on disk before the next item

        def write(outcome: Outcome, attempts: int = 0, finished: bool = True) -> Outcome:
            writer.write_step(step.id, exists=exists, position=position, status=outcome.status,
                              input={"items": count}, output=outcome.output, error=outcome.error,
                              attempts=attempts, started_at=started, finished=finished, defer=last and finished,
                              durable=effects)
            return outcome

        count = None
        try:
            items = self.templater.render(step.for_each, data, f"steps[{position}].for_each")
        except TemplateError as exc:
            return write(Outcome("failed", error=str(exc)))
        if isinstance(items, dict):
            items = [{"key": k, "value": v} for k, v in items.items()]
        if not isinstance(items, (list, tuple)):
            return write(Outcome("failed", error=f"for_each: expected a list, got {type(items).__name__}"))
        if len(items) > MAX_ITEMS:
            return write(Outcome("failed", error=f"for_each: {len(items)} items, more than the limit of {MAX_ITEMS}"))
        count = len(items)
        done = writer.items(step.id) if exists else {}
        if not exists:
            write(Outcome("running"), finished=False)
            exists = True
        outputs: list[Any] = []
        for index, item in enumerate(items):
            previous = done.get(index)
            if previous and previous.status == "succeeded":
                outputs.append(previous.output)
                continue
            if run_id in self.cancelled:
                return write(Outcome("failed", output=outputs, error="cancelled"))
            scope = {**data, "item": item, "item_index": index}
            try:
                payload = self._input(spec, step, position, scope, row["overrides"].get(step.id))
            except StepFailed as exc:
                writer.write_item(step.id, index, exists=previous is not None, status="failed", error=str(exc),
                                  durable=False)
                return write(Outcome("failed", output=outputs, error=f"item {index}: {exc}"))
            shown = redact(jsonable(payload), secrets)
            ctx = ActionContext(run_id=run_id, step_id=step.id, idempotency_key=f"{run_id}:{step.id}:{index}",
                                recipe=recipe.name, item_index=index, dry_run=dry_run, connections=connections,
                                http=self.http, **self.context, attempt=(previous.attempts if previous else 0) + 1)
            item_exists = previous is not None
            if effects:
                writer.write_item(step.id, index, exists=item_exists, status="running", input=shown,
                                  attempts=ctx.attempt)
                item_exists = True
            outcome, attempts = self._attempts(spec, step, payload, ctx, timeout, secrets)
            writer.write_item(step.id, index, exists=item_exists, status=outcome.status, input=shown,
                              output=outcome.output, error=outcome.error, attempts=attempts, durable=effects)
            if outcome.status == "failed":
                return write(Outcome("failed", output=outputs, error=f"item {index}: {outcome.error}"))
            outputs.append(outcome.output)
        return write(Outcome("succeeded", output=outputs))
