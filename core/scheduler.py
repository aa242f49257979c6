"""The scheduler: polls `every:` triggers and fires cron `schedule:` triggers of enabled stored recipes.

Several schedulers may share one database (two processes, two machines). Each decision that must
happen once is a compare-and-set UPDATE on the recipe's `trigger_state` row, and every run it starts
carries a trigger key deduplicated in `trigger_seen` — two independent protections.
"""
from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from .durations import parse_duration
from .redaction import scrub
from .specs import ActionContext, PollResult
from .store.models import TriggerSeenRow, TriggerStateRow, utcnow

log = logging.getLogger("beffroi.scheduler")
STATE = TriggerStateRow.__table__
SEEN = TriggerSeenRow.__table__
DEFAULT_EVERY = "5m"
DEFAULT_TIMEZONE = "Europe/Brussels"
_UPSERT: dict[str, Callable[..., postgresql.Insert | sqlite.Insert]] = {"postgresql": postgresql.insert,
                                                                     "sqlite": sqlite.insert}


def latest_tick(expression: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The most recent tick of a 5-field cron expression at or before `now`, in UTC."""
    # croniter's get_prev excludes its start; ticks fall on whole minutes, so start just after now's minute.
    start = (now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)).astimezone(tz)
    return croniter(expression, start).get_prev(datetime).astimezone(UTC)


def next_tick(expression: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The first tick the scheduler fires after `now` (the hour repeated when clocks go back is skipped), in UTC."""
    return _next_tick(expression, tz, now.astimezone(UTC).replace(second=0, microsecond=0))


@functools.lru_cache(maxsize=4096)
def _next_tick(expression: str, tz: ZoneInfo, minute: datetime) -> datetime:
    # ticks fall on whole minutes: the first one after `now` is the first one after its minute, so recipes sharing
    # an expression share one computation per minute (the UI shows the next tick of every schedule)
    ticks = croniter(expression, minute.astimezone(tz))
    tick = ticks.get_next(datetime)
    while repeated_hour(expression, tick, tz):
        tick = ticks.get_next(datetime)
    return tick.astimezone(UTC)


def cron_zone(spec, options: dict[str, Any]) -> ZoneInfo:
    """The time zone of a schedule trigger's cron expression: its `timezone` option, else Brussels."""
    config = spec.config_model.model_validate(options) if spec.config_model else options
    zone = config.get("timezone") if isinstance(config, dict) else getattr(config, "timezone", None)
    return ZoneInfo(zone or DEFAULT_TIMEZONE)


def next_fire(registry, trigger: dict[str, Any], now: datetime) -> datetime | None:
    """When the scheduler next fires a stored recipe's trigger (its `trigger` mapping), in UTC; None when it is not
    a cron `schedule:` trigger of a loaded plugin, or its options no longer read."""
    spec = registry.triggers.get(trigger.get("uses"))
    if spec is None or spec.kind != "schedule" or not trigger.get("schedule"):
        return None
    try:
        return next_tick(str(trigger["schedule"]), cron_zone(spec, trigger.get("with") or {}), now)
    except (ValueError, KeyError):  # a bad expression or zone: validation refuses it at save, nothing fires
        return None


def repeated_hour(expression: str, tick: datetime, tz: ZoneInfo) -> bool:
    """True for a fixed-hour tick in the hour repeated when clocks go back: it already fired (as Vixie cron does)."""
    return tick.astimezone(tz).fold == 1 and not expression.split()[1].startswith("*")


def poll_source(engine, recipe, spec, cursor: Any) -> PollResult:
    """One poll of a recipe's source through its trigger's `poll`; reads the source, touches no trigger state."""
    if spec.poll is None:
        raise RuntimeError(f"trigger {spec.key} declares kind 'poll' but gives no poll function")
    trigger = recipe.trigger
    config = spec.config_model.model_validate(trigger.with_) if spec.config_model else dict(trigger.with_)
    names = [trigger.connection] if trigger.connection else []
    ctx = ActionContext(run_id="", step_id="trigger", idempotency_key="", recipe=recipe.name,
                        connections=engine.connections.resolve(names, spec.connection_type),
                        http=engine.http, **engine.runner.context)
    try:
        result = spec.poll(config, cursor, ctx)
    except Exception as exc:
        if not ctx.secret_values:
            raise
        # the source's answer may quote the credential it was sent: cleaned before it is logged or stored
        raise PollFailed(scrub(one_line(exc), ctx.secret_values)) from None
    return result if isinstance(result, PollResult) else PollResult.model_validate(result)


class PollFailed(Exception):
    """A poll that failed, its message (`Type: text`) cleaned of the connection's secrets."""


def one_line(exc: BaseException) -> str:
    """An exception as one short line for `last_error` and logs."""
    if isinstance(exc, PollFailed):
        return str(exc)
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"[:500]


class Scheduler:
    """Fires polling triggers (`every:`) and cron triggers (`schedule:`) of enabled stored recipes."""

    def __init__(self, engine, *, tick: float = 1.0, clock: Callable[[], datetime] | None = None):
        self.engine = engine
        self.tick = tick
        self.clock = clock or engine.clock  # the engine's: a simulated clock (BEFFROI_CLOCK_FILE) moves both
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.woken: list[str] = []  # the parked runs the last pass queued again
        self._complaints: dict[str, str] = {}  # last error logged per recipe, so a broken one does not flood the log

    # -- the loop ------------------------------------------------------------------------------
    def run_once(self, now: datetime | None = None) -> list[str]:
        """One pass over the enabled recipes; returns the ids of the runs started in it."""
        now = now or self.clock()
        now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
        started: list[str] = []
        try:  # parked runs whose time has come (an approval's reminder or expiry, a publish window)
            self.woken = self.engine.wake_due(now)
        except Exception as exc:  # noqa: BLE001 - the triggers still fire
            self._complain("(waiting runs)", one_line(exc))
        for recipe, _version in self.engine.recipes.enabled():
            spec = self.engine.registry.triggers.get(recipe.trigger.uses)
            if spec is None or spec.kind not in ("poll", "schedule"):
                continue
            try:
                if spec.kind == "poll":
                    started += self._poll(recipe, spec, now)
                else:
                    started += self._cron(recipe, spec, now)
                self._complaints.pop(recipe.name, None)
            except Exception as exc:  # noqa: BLE001 - one broken recipe never stops the others
                self._complain(recipe.name, one_line(exc))
        return started

    def start(self) -> None:
        """Call run_once every `tick` seconds in a background thread until stop()."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="beffroi-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop the background thread, letting the current pass finish (up to `timeout` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # e.g. the database is unreachable: try again at the next tick
                log.exception("scheduler pass failed")
            self._stop.wait(self.tick)

    def _complain(self, name: str, message: str) -> None:
        if self._complaints.get(name) != message:
            log.error("scheduler: recipe %s: %s", name, message)
            self._complaints[name] = message

    # -- polling -------------------------------------------------------------------------------
    def _poll(self, recipe, spec, now: datetime) -> list[str]:
        """Poll a recipe whose period has come; the first poll only seeds the seen keys."""
        name = recipe.name
        period = timedelta(seconds=parse_duration(recipe.trigger.every or DEFAULT_EVERY))
        if self._state(name) is None:
            self._create_state(name)
        claim = now + period
        if not self._claim_poll(name, now, claim):
            return []
        state = self._state(name)
        if state is None:  # the trigger changed (state deleted) since the claim: the next pass starts afresh
            return []
        try:
            result = self._call_poll(recipe, spec, state["cursor"])
        except Exception as exc:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
            message = one_line(exc)
            log.warning("poll of recipe %s failed (retried in %s): %s", name, period, message)
            self._set_state(name, claim, last_error=message)
            return []
        started: list[str] = []
        if not state["seeded"]:
            self._seed(name, [item.key for item in result.items])
        else:
            fresh = self._unseen(name, [item.key for item in result.items])
            events = []
            for item in result.items:
                if item.key in fresh:
                    fresh.discard(item.key)
                    events.append((item.event, item.key))
            if events:  # one transaction and one queue submission for the whole poll
                started = [run_id for run_id in self.engine.trigger_many(name, events) if run_id is not None]
        self._set_state(name, claim, cursor=result.cursor, seeded=True, last_error=None)
        return started

    def _call_poll(self, recipe, spec, cursor: Any) -> PollResult:
        return poll_source(self.engine, recipe, spec, cursor)

    def _claim_poll(self, name: str, now: datetime, next_at: datetime) -> bool:
        """Compare-and-set: only one scheduler wins a given period of a recipe."""
        with self.engine.db.engine.begin() as conn:
            claimed = conn.execute(update(STATE).where(
                STATE.c.recipe_name == name,
                (STATE.c.next_poll_at.is_(None)) | (STATE.c.next_poll_at <= now),
            ).values(next_poll_at=next_at, updated_at=utcnow()))
        return claimed.rowcount == 1

    def _seed(self, name: str, keys: list[str]) -> None:
        """Record keys as seen without starting runs (run_id NULL); keys already seen are left alone."""
        rows = [{"recipe_name": name, "key": key, "run_id": None, "created_at": utcnow()}
                for key in dict.fromkeys(keys)]
        if rows:
            with self.engine.db.engine.begin() as conn:
                _insert_ignore(conn, SEEN, rows)

    def _unseen(self, name: str, keys: list[str]) -> set[str]:
        """The keys not yet in trigger_seen (one query, so old items cost no recipe load)."""
        if not keys:
            return set()
        with self.engine.db.engine.connect() as conn:
            seen = set(conn.execute(select(SEEN.c.key).where(SEEN.c.recipe_name == name, SEEN.c.key.in_(set(keys))))
                       .scalars())
        return set(keys) - seen

    # -- cron ----------------------------------------------------------------------------------
    def _cron(self, recipe, spec, now: datetime) -> list[str]:
        """Fire the latest tick at or before now if no scheduler fired it yet (missed ticks fire once)."""
        name, expression = recipe.name, str(recipe.trigger.schedule)
        tz = cron_zone(spec, recipe.trigger.with_)
        tick = latest_tick(expression, tz, now)
        state = self._state(name)
        if state is None or state["last_tick"] is None:
            # a recipe seen for the first time starts from now: no burst of ticks from before it existed
            if state is None:
                self._create_state(name, last_tick=tick)
            else:
                with self.engine.db.engine.begin() as conn:
                    conn.execute(update(STATE).where(STATE.c.recipe_name == name, STATE.c.last_tick.is_(None))
                                 .values(last_tick=tick, updated_at=utcnow()))
            return []
        if tick <= state["last_tick"]:
            return []
        with self.engine.db.engine.begin() as conn:
            claimed = conn.execute(update(STATE).where(STATE.c.recipe_name == name, STATE.c.last_tick < tick)
                                   .values(last_tick=tick, updated_at=utcnow()))
        if claimed.rowcount != 1 or repeated_hour(expression, tick, tz):
            return []
        event = {"scheduled_at": tick.isoformat(), "fired_at": now.isoformat()}
        return [run_id for run_id in self.engine.trigger_many(name, [(event, f"cron:{tick.isoformat()}")]) if run_id]

    # -- shared --------------------------------------------------------------------------------
    def _state(self, name: str) -> dict | None:
        with self.engine.db.engine.connect() as conn:
            row = conn.execute(select(STATE).where(STATE.c.recipe_name == name)).mappings().first()
        return dict(row) if row is not None else None

    def _create_state(self, name: str, **values: Any) -> None:
        """Insert the state row unless another scheduler just did (race-safe on SQLite and PostgreSQL)."""
        with self.engine.db.engine.begin() as conn:
            _insert_ignore(conn, STATE, [{"recipe_name": name, "seeded": False, "updated_at": utcnow(), **values}])

    def _set_state(self, name: str, claim: datetime, **values: Any) -> None:
        """Store a poll's outcome, unless the row was reset or claimed again meanwhile (then it is stale)."""
        with self.engine.db.engine.begin() as conn:
            conn.execute(update(STATE).where(STATE.c.recipe_name == name, STATE.c.next_poll_at == claim)
                         .values(updated_at=utcnow(), **values))


def _insert_ignore(conn, table, rows: list[dict]) -> None:
    """INSERT rows, skipping those whose primary key exists (ON CONFLICT DO NOTHING where the dialect has it)."""
    make = _UPSERT.get(conn.dialect.name)
    if make is not None:
        conn.execute(make(table).on_conflict_do_nothing(), rows)
        return
    for row in rows:
        try:
            with conn.begin_nested():
                conn.execute(insert(table), row)
        except IntegrityError:
            pass
