"""One Beffroi engine: settings, plugins, database, templates, outbound HTTP and the runner, wired together."""
from __future__ import annotations

import heapq
import logging
import os
import threading
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .accounts import Accounts
from .approvals import Approvals
from .audit import AuditLog
from .clocks import clock_of
from .connections import ConnectionProblem, ConnectionStore
from .drafts import Draft, DraftStore
from .errors import RunConflict, RunNotFound, SampleUnavailable, SetupError
from .http import HttpClient
from .journal import FINISHED, Journal
from .lookahead import later_steps
from .messages import suggest
from .notify_mail import Notifier
from .owners import HOST, owner_gone
from .plugins import PluginHost
from .progress import ProgressBoard
from .queue import InlineQueue, RunQueue
from .recipe_store import RecipeNotFound, RecipeStore
from .recipes import Problem, Recipe, RecipeInvalid, mask_secrets
from .runner import Runner
from .runs import RunViews
from .secrets import embedded_keys, key_problem, load_or_create_key
from .settings import DEFAULT_PUBLIC_URL, Settings, local_url
from .signing import LazySigner, Signer
from .specs import Services
from .store import Database
from .store.models import utcnow
from .templating import Templater
from .tokens import TokenStore
from .users import UserStore
from .validation import Validator

log = logging.getLogger("beffroi.engine")


def check_setup(settings) -> None:
    """What a long-running process needs beyond its database: a strong key, and Redis when it is configured."""
    if settings.secret_key and (problem := key_problem(settings.secret_key.get_secret_value(),
                                                       "BEFFROI_SECRET_KEY")):
        raise SetupError(f"{problem}; to move to a new key, run `beffroi secrets rotate` with BEFFROI_NEW_SECRET_KEY")
    if settings.redis_url:
        from .rq_backend import require_redis

        require_redis(settings.redis_url)


class Engine:
    """Everything one process needs to validate and run recipes; nothing lives in module globals."""

    def __init__(self, settings: Settings | None = None, *, plugins: list[Any] | None = None,
                 load_entry_points: bool = True, migrate: bool = True, clock: Any = None):
        self.settings = settings or Settings.from_environment()
        simulated = None if clock else clock_of(self.settings)  # BEFFROI_CLOCK_FILE: tests and rehearsals only
        self.simulated_clock = simulated is not None  # every page says so
        # now, in UTC: publish windows, approval expiries, parked runs' wake-up times, the UI's today (tests set it)
        self.clock = clock or simulated or utcnow
        self.host = PluginHost(extra_plugins=plugins, load_entry_points=load_entry_points,
                               disabled=self.settings.disable_plugins, plugins_dir=self.settings.plugins_dir)
        self.registry = self.host.registry
        self.templater = Templater(clock=lambda: self.clock())
        self.validator = Validator(self.registry, self.templater)
        self.db = Database(self.settings.database_url)
        if migrate:
            self.db.migrate()
        self.connections = ConnectionStore(self.db, self.registry, self._secret_key)
        self.http = HttpClient(allowed_networks=self.settings.allowed_networks, timeout=self.settings.http_timeout)
        self.journal = Journal(self.db)
        self.progress = ProgressBoard(self.db, self.settings.progress_interval)  # what long steps report (ctx.progress)
        self.worker_id = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.runner = Runner(journal=self.journal, host=self.host, templater=self.templater, worker_id=self.worker_id,
                             resolve_connections=self.connections.resolve, http=self.http,
                             default_timeout=self.settings.default_step_timeout)
        self.runner.context = {"db": self.db, "signer": LazySigner(lambda: self.signer),
                               "services": Services(self.registry.services),
                               "read_run_status": self.journal.run_status, "clock": lambda: self.clock(),
                               "progress_board": self.progress, "notifier": Notifier(
                                   self.settings.notify_connection,
                                   lambda name: self.connections.resolve([name], "email")[0],
                                   self.settings.language, self.settings.timezone),
                               "public_url": (self.settings.public_url or DEFAULT_PUBLIC_URL).rstrip("/"),
                               "allowed_folders": [str(self.settings.data_dir / "posts"),
                                                   *self.settings.allowed_folders],
                               "data_dir": str(self.settings.data_dir),
                               "resolve_connections": self.connections.resolve}
        self.runner.lookahead = later_steps
        self.runner.calendar = (ZoneInfo(self.settings.timezone), self.settings.holidays)  # publish windows
        self.connections.context = self.runner.context
        self.runs = RunViews(self.db)
        self.recipes = RecipeStore(self.db)
        self.drafts = DraftStore(self.db)  # the web UI builder's unsaved edits, per person
        self.tokens = TokenStore(self.db)
        self.users = UserStore(self.db)
        self.audit = AuditLog(self.db)  # who changed what, who decided what
        self.approvals = Approvals(self.db)  # runs held at a flow.approve step, and the decisions on them
        self.accounts = Accounts(self.users, self.tokens, self.audit)  # people and tokens changed, each audited
        self._queue: RunQueue | None = None
        self._signer: Signer | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def serving_at(self, host: str, port: int) -> None:
        """Links in messages point to where `serve` listens (not always port 8000), unless BEFFROI_PUBLIC_URL is set."""
        if not self.settings.public_url:
            self.runner.context["public_url"] = local_url(host, port)

    def _secret_key(self) -> list[str]:
        """BEFFROI_SECRET_KEY, or in embedded mode the key file(s) in the data folder (created on first use)."""
        if self.settings.secret_key:
            return [self.settings.secret_key.get_secret_value()]
        return embedded_keys(self.settings.data_dir)

    @property
    def signer(self) -> Signer:
        """Signs public links; its key (BEFFROI_LINK_SECRET or a key file) outlives secret rotations."""
        if self._signer is None:
            secret = self.settings.link_secret.get_secret_value() if self.settings.link_secret else \
                load_or_create_key(self.settings.data_dir, "link.key")
            self._signer = Signer(secret, "links")
        return self._signer

    # -- recipes -------------------------------------------------------------------------------
    def validate(self, data: Any, source: str | None = None) -> Recipe:
        """A valid Recipe, or RecipeInvalid listing every problem with its location (connections included)."""
        recipe = self.validator.validate(data, source)
        problems = self.connection_problems(recipe)
        if problems:
            raise RecipeInvalid(problems, source)
        return recipe

    def connection_problems(self, recipe: Recipe) -> list[Problem]:
        """Connections the recipe names that are of the wrong type for their step, or missing while it is enabled.

        A disabled recipe may name connections still to be created (the examples are imported that way);
        enabling it needs them.
        """
        registry = self.registry
        trigger = registry.triggers.get(recipe.trigger.uses)
        wanted: list[tuple[str, str, str | None, str]] = []  # (where, name, type or tool type needed, by what)
        if recipe.trigger.connection:
            wanted.append(("trigger.connection", recipe.trigger.connection,
                           trigger.connection_type if trigger else None, recipe.trigger.uses))
        for index, step in enumerate(recipe.steps):
            action = registry.actions.get(step.uses)
            listed = isinstance(step.connection, list)
            for position, name in enumerate(step.connection_names):
                wanted.append((f"steps[{index}].connection" + (f"[{position}]" if listed else ""), name,
                               action.connection_type if action else None, step.uses))
        if not wanted:
            return []
        stored = self.connections.types()  # names alike as city-mastodon and city-matomo need a close match
        problems = []
        for where, name, needed, user in wanted:
            kind = stored.get(name)
            if kind is None:
                if recipe.enabled:
                    problems.append(Problem(where, f"no connection named {name!r}{suggest(name, list(stored), 0.88)}: "
                                                   "create it first, or save the recipe disabled until it exists"))
                continue
            spec = registry.connection_types.get(kind)
            if spec is not None and needed and needed not in (spec.key, spec.tool_type):
                problems.append(Problem(where, f"{name!r} is a {spec.key} connection ({spec.tool_type}); "
                                               f"{user} needs one of type {needed}"))
        return problems

    def save_recipe(self, data: Any, *, author: str | None = None, create_only: bool = False,
                    action: str = "recipe.saved") -> tuple[Recipe, int]:
        """Validate and store a recipe as a new version; nothing is stored when it is invalid. A webhook secret
        left out or sent back masked (`***`, as the API and the pages show it) keeps the stored one."""
        recipe = self.validate(data if create_only or not isinstance(data, dict)
                               else self.recipes.keep_secret(str(data.get("name")), data))
        version = self.recipes.save(recipe, author=author, create_only=create_only)
        self.audit.record(author, action, "recipe", recipe.name, {"version": version})
        return recipe, version

    def set_enabled(self, name: str, enabled: bool, *, author: str | None = None) -> int:
        """Turn a stored recipe's trigger on or off, saved as a new version and validated as any save (enabling
        needs the connections it names); returns the new version number."""
        recipe, _ = self.recipes.get(name)
        return self.save_recipe(recipe.model_copy(update={"enabled": enabled}).to_data(), author=author,
                                action="recipe.enabled" if enabled else "recipe.disabled")[1]

    def duplicate_recipe(self, name: str, *, author: str | None = None, title: str | None = None) -> str:
        """Save a copy of a stored recipe, disabled, as `<name>-copy` (or `-copy-2`, `-copy-3`…); returns its name."""
        data = {**self.recipes.get_row(name)["definition"], "enabled": False}
        if title is not None:
            data["title"] = title
        base = f"{name[:100 - len('-copy-999')]}-copy"
        for number in range(1, 1000):
            data["name"] = base if number == 1 else f"{base}-{number}"
            try:
                self.save_recipe(data, author=author, create_only=True, action="recipe.duplicated")
            except FileExistsError:
                continue
            return data["name"]
        raise FileExistsError(f"{base} and its next 998 numbers are taken")

    def restore_version(self, name: str, version: int, *, author: str | None = None) -> int:
        """Save an earlier version of a recipe as its new version (validated as any save; the recipe keeps its
        current enabled state); returns the new version number. RecipeInvalid when that version no longer reads."""
        data = {**self.recipes.version(name, version, masked=False)["definition"], "name": name,
                "enabled": self.recipes.get_row(name)["enabled"]}
        return self.save_recipe(data, author=author, action="recipe.restored")[1]

    def delete_recipe(self, name: str, *, author: str | None = None) -> None:
        """Delete a recipe and its versions (its runs stay), recorded as `recipe.deleted`; RecipeNotFound."""
        self.recipes.delete(name)
        self.audit.record(author, "recipe.deleted", "recipe", name)

    def next_fire(self, trigger: dict[str, Any], now: datetime | None = None) -> datetime | None:
        """When the scheduler next fires a stored recipe's `trigger` (a cron `schedule:`), in UTC; else None."""
        from .scheduler import next_fire

        return next_fire(self.registry, trigger, now or self.clock())

    def upcoming(self, limit: int, now: datetime | None = None) -> list[dict[str, Any]]:
        """The next `limit` scheduled runs of enabled recipes, soonest first: {name, title, at}."""
        now = now or self.clock()
        found = [{"name": name, "title": title, "at": at} for name, title, trigger in self.recipes.scheduled()
                 if (at := self.next_fire(trigger, now)) is not None]
        return heapq.nsmallest(limit, found, key=lambda entry: (entry["at"], entry["name"]))

    def draft_of(self, name: str, user_id: str) -> Draft:
        """A person's draft of a recipe, else a copy of the stored recipe (secrets masked, not written as a draft
        until it changes); RecipeNotFound when there is neither. `latest_version` is the stored version now."""
        draft = self.drafts.get(name, user_id)
        try:
            row = self.recipes.get_row(name)
        except RecipeNotFound:
            if draft is None:
                raise
            return draft
        if draft is None:
            return Draft(name, mask_secrets(row["definition"]), row["version"], None, row["version"])
        return replace(draft, latest_version=row["version"])

    def save_draft(self, name: str, user_id: str, *, author: str | None = None) -> tuple[Recipe, int]:
        """Save a person's draft as the recipe's next version (validated as `save_recipe` does; a masked webhook
        secret keeps the stored one), then discard the draft. A draft of a new recipe does not replace a recipe
        stored meanwhile under its name (FileExistsError). LookupError when the person has no such draft."""
        draft = self.drafts.get(name, user_id)
        if draft is None:
            raise LookupError(f"no draft of {name!r}")
        saved = self.save_recipe({**draft.definition, "name": name}, author=author,
                                 create_only=draft.base_version is None)
        self.drafts.discard(name, user_id)
        return saved

    # -- connections ---------------------------------------------------------------------------
    def save_connection(self, name: str, type_: str, config: dict[str, Any], *, new: bool,
                        actor: str | None = None) -> list[Problem]:
        """Create (`new`) or replace the settings of a connection; secrets left out of an update keep their stored
        value. Returns the located problems (`name`, `config.<field>`) when it is refused: nothing is stored then."""
        try:
            if new:
                self.connections.create(name, type_, config)
            else:
                self.connections.save(name, type_, config, keep_secrets=True)
        except ConnectionProblem as exc:
            problems = exc.problems
            if new and all(problem.loc == "name" for problem in problems):
                try:  # the name refused: say what else is wrong at once
                    self.connections.validated(self.connections.spec(type_), config)
                except ConnectionProblem as more:
                    problems = problems + more.problems
            return problems
        self.audit.record(actor, "connection.created" if new else "connection.changed", "connection", name,
                          {"type": type_})  # the type only: a connection's settings may be secret
        return []

    def delete_connection(self, name: str, *, actor: str | None = None) -> None:
        """Delete a connection, recorded as `connection.deleted`; ConnectionNotFound when there is none."""
        self.connections.delete(name)
        self.audit.record(actor, "connection.deleted", "connection", name)

    # -- runs ----------------------------------------------------------------------------------
    @property
    def queue(self) -> RunQueue:
        """The execution backend: RQ when BEFFROI_REDIS_URL is set, else a thread pool in this process."""
        if self._queue is None:
            if self.settings.redis_url:
                from .rq_backend import RQQueue

                self._queue = RQQueue(self.settings.redis_url, self.settings.queue_name)
            else:
                self._queue = InlineQueue(self.runner.execute, self.settings.workers, initializer=self.journal.pin)
        return self._queue

    def trigger(self, name: str, event: Any = None, *, dry_run: bool = False, trigger_key: str | None = None,
                submit: bool = True, started_by: str | None = None) -> str | None:
        """Start a run of a stored recipe: recorded in SQL first, then queued (None for a duplicate key).
        `started_by`: who started it by hand (an e-mail, `token:<name>`), who may then not approve it."""
        recipe, version = self.recipes.get(name)
        run_id = self.create_run(recipe, event, dry_run=dry_run, version=version, trigger_key=trigger_key,
                                 started_by=started_by)
        if run_id is not None and submit:
            self.queue.submit(run_id)
        return run_id

    def trigger_many(self, name: str, events: list[tuple[Any, str | None]]) -> list[str | None]:
        """Start one run per (event, trigger key) of a stored recipe: recorded in one transaction, then queued
        together (an RQ job carries them as one batch); None for each key already seen."""
        recipe, version = self.recipes.get(name)
        definition = mask_secrets(recipe.to_data())
        run_ids = self.journal.create_runs([{"recipe_name": recipe.name, "definition": definition, "event": event,
                                             "version": version, "trigger_key": key} for event, key in events])
        self.queue.submit_many([run_id for run_id in run_ids if run_id is not None])
        return run_ids

    def create_run(self, recipe: Recipe, event: Any = None, *, dry_run: bool = False, version: int | None = None,
                   trigger_key: str | None = None, started_by: str | None = None) -> str | None:
        """Record a queued run of a recipe (None when the trigger key was already seen)."""
        return self.journal.create_run(recipe_name=recipe.name, definition=mask_secrets(recipe.to_data()), event=event,
                                       dry_run=dry_run, version=version, trigger_key=trigger_key,
                                       started_by=started_by)

    def execute(self, run_id: str) -> str | None:
        """Run a queued run to its end in this thread; returns its final status."""
        return self.runner.execute(run_id)

    def sample_event(self, recipe: Recipe, *, live: bool = False) -> dict:
        """The event a dry run uses when given none: the recipe's `trigger.sample`, else its trigger's sample.

        `live`: the newest item its polling trigger's source shows now (the first poll's view: no trigger state
        is read or written, so nothing is marked as seen). SampleUnavailable says why when there is none.
        """
        spec = self.registry.triggers.get(recipe.trigger.uses)
        if spec is None:
            raise SampleUnavailable(f"trigger {recipe.trigger.uses!r} is not available (is its plugin loaded?)")
        if not live:
            return dict(recipe.trigger.sample) if recipe.trigger.sample is not None else spec.sample()
        if spec.kind != "poll":
            raise SampleUnavailable(f"{spec.key} is not a polling trigger: a live sample is read from a polled "
                                    "source (a feed, a folder, a site); give the event instead")
        from .scheduler import one_line, poll_source

        try:
            items = poll_source(self, recipe, spec, None).items
        except Exception as exc:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
            raise SampleUnavailable(f"the source could not be read: {one_line(exc)}") from None
        if not items:
            raise SampleUnavailable("the source has no item yet")
        return items[-1].event  # polls list items oldest first

    def run_recipe(self, recipe: Recipe, event: Any = None, *, dry_run: bool = False) -> dict:
        """Create, execute and return a run in one call (the CLI's `beffroi run`)."""
        run_id = self.create_run(recipe, event, dry_run=dry_run)
        assert run_id is not None  # None only for a trigger key already seen, and there is none here
        self.start_heartbeat()
        self.execute(run_id)
        run = self.runs.detail(run_id)
        assert run is not None  # stored above, never deleted
        return run

    def calendar(self, start: datetime, end: datetime, *, channel: str | None = None) -> list[Any]:
        """What the publication calendar shows from `start` to `end` (UTC), soonest first: runs held by their publish
        window or for approval, the next runs of scheduled publishing recipes, the publications (calendar.Entry)."""
        from .calendar import entries

        return entries(self.db, start, end, next_fire=self.next_fire, channel=channel)

    def reschedule(self, run_id: str, at: datetime, *, actor: str | None = None) -> None:
        """Publish a run held by its publish window at `at` instead (at once when `at` has passed), audited.
        RunNotFound when there is no such run; RunConflict when it is not waiting for a publish window."""
        status = self.journal.run_status(run_id)
        if status is None:
            raise RunNotFound(f"no run {run_id!r}")
        if not self.journal.reschedule(run_id, at):
            raise RunConflict("only a run waiting for its publish window can be rescheduled; this one is "
                              + ("waiting for approval" if status == "waiting" else status))
        self.audit.record(actor, "run.rescheduled", "run", run_id, {"at": at.isoformat()})
        if at <= self.clock():
            self.wake(run_id)

    def cancel(self, run_id: str) -> None:
        """Cancel a run: a queued one never starts, a running one stops between two steps (in any process).

        RunNotFound (a LookupError) when there is no such run; RunConflict (a ValueError) when it has ended.
        """
        status = self.journal.run_status(run_id)
        if status is None:
            raise RunNotFound(f"no run {run_id!r}")
        if status in FINISHED:
            raise RunConflict(f"the run is already {status}")
        if status != "waiting":  # a waiting run has no runner to stop
            self.runner.cancelled.add(run_id)
        self.journal.cancel(run_id)
        if status == "waiting":
            self.approvals.close_run(run_id)

    def wake(self, run_id: str) -> bool:
        """Queue a parked (`waiting`) run again at once; False when it was not waiting (see Journal.wake)."""
        if self.journal.wake(run_id):
            self.queue.submit(run_id)
            return True
        return False

    def wake_due(self, now: datetime | None = None) -> list[str]:
        """Queue again every parked run whose wake-up time has come (the scheduler's tick); the ids woken."""
        return [run_id for run_id in self.journal.due(now or self.clock()) if self.wake(run_id)]

    def decide_approval(self, approval_id: str, *, by: str, role: str, decision: str,
                        texts: dict[str, dict[str, str]] | None = None, reason: str | None = None,
                        note: str | None = None) -> tuple[dict[str, Any], bool]:
        """Approve (with the texts edited, checked against each channel's limit) or reject (with a reason) an
        approval request; (the request, whether it changed). A decision that ends it queues the run again.
        ApprovalNotFound, ApprovalRefused, ApprovalInvalid (located problems), ApprovalConflict (already decided)."""
        from .approval_decisions import decide

        return decide(self, approval_id, by=by, role=role, decision=decision, texts=texts, reason=reason, note=note)

    def retry(self, run_id: str) -> None:
        """Queue a failed or cancelled run again from its first unfinished step (its finished steps are kept).

        RunNotFound (a LookupError) when there is no such run; RunConflict (a ValueError) when it is not failed or
        cancelled, or changed meanwhile.
        """
        status = self.journal.run_status(run_id)
        if status is None:
            raise RunNotFound(f"no run {run_id!r}")
        if status not in ("failed", "cancelled"):
            raise RunConflict(f"only failed or cancelled runs can be retried; this one is {status}")
        if not self.journal.requeue(run_id):
            raise RunConflict("the run changed meanwhile; reload it")
        self.queue.submit(run_id)

    # -- recovery ------------------------------------------------------------------------------
    def orphaned(self) -> list[dict]:
        """Unfinished runs nobody is executing: queued, or claimed by a dead process or a silent worker.

        Each as Journal.unfinished() gives it: id, status, claimed_by, heartbeat_at.
        """
        now = utcnow()
        found = []
        for run in self.journal.unfinished():
            owner = run["claimed_by"]
            if run["status"] == "queued" or (owner != self.worker_id
                                             and owner_gone(owner, run["heartbeat_at"], now)):
                found.append(run)
        return found

    def resume_interrupted(self) -> list[str]:
        """Resume every orphaned run at its first unfinished step; returns the ids resumed.

        A `running` orphan is first handed back to `queued` with a compare-and-set on the owner and the
        heartbeat that made it look orphaned: if its worker beat (or finished it) since, it is left alone.
        """
        resumed = []
        for run in self.orphaned():
            if run["status"] == "running" and not self.journal.release(
                    run["id"], owner=run["claimed_by"], heartbeat=run["heartbeat_at"]):
                continue
            if self.runner.execute(run["id"]) is not None:
                log.info("resumed run %s", run["id"])
                resumed.append(run["id"])
        return resumed

    def start_heartbeat(self, every: float = 15.0) -> None:
        """Keep this worker's runs visibly alive for other processes' recovery checks."""
        if self._heartbeat is not None:
            return

        def beat() -> None:
            while not self._stop.wait(every):
                try:
                    self.journal.heartbeat(self.worker_id)
                except Exception:
                    log.exception("heartbeat failed")

        self._heartbeat = threading.Thread(target=beat, name="beffroi-heartbeat", daemon=True)
        self._heartbeat.start()

    def close(self) -> None:
        """Stop background threads and release the database and HTTP connections."""
        self._stop.set()
        if self._queue is not None:
            self._queue.shutdown()
        self.http.close()
        self.journal.close()
        self.db.dispose()
