"""The scheduler against a real database: polling (seed, fire, dedupe, errors, period) and cron, alone and in pairs."""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel, ConfigDict
from redis import Redis
from sqlalchemy import select

from beffroi import PolledItem, PollResult, TriggerSpec, hookimpl
from beffroi.scheduler import Scheduler, latest_tick
from beffroi.store.models import RunRow, TriggerSeenRow, TriggerStateRow

from .conftest import needs

T0 = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)  # a Monday, 08:30 in Brussels


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feed: str = "blog"


class FeedPlugin:
    """A `test.item_published` poll trigger; `feeds` is the outside world it reads, `broken` the feeds that fail."""

    def __init__(self):
        self.feeds: dict[str, list[dict]] = {}
        self.broken: dict[str, str] = {}
        self.polls: list[dict] = []
        self.during_poll = None  # a callable run inside the next poll (to interleave events with it)
        self.lock = threading.Lock()

    def publish(self, feed: str, *ids: str) -> None:
        with self.lock:
            self.feeds.setdefault(feed, []).extend({"id": i, "title": f"Post {i}"} for i in ids)

    def poll(self, config: FeedConfig, cursor, ctx) -> PollResult:
        if self.during_poll is not None:
            self.during_poll()
        with self.lock:
            self.polls.append({"recipe": ctx.recipe, "feed": config.feed, "cursor": cursor, "step": ctx.step_id})
            if config.feed in self.broken:
                raise RuntimeError(self.broken[config.feed])
            items = list(self.feeds.get(config.feed, []))
        return PollResult(items=[PolledItem(key=i["id"], event=i) for i in items], cursor={"seen": len(items)})

    @hookimpl
    def register_triggers(self):
        yield TriggerSpec(key="test.item_published", title="Item published", kind="poll", config_model=FeedConfig,
                          poll=self.poll)


def feed_recipe(name="feed", feed="blog", every="5m", **extra) -> dict:
    trigger = {"uses": "test.item_published", "with": {"feed": feed}}
    if every:
        trigger["every"] = every
    return {"name": name, "trigger": trigger, **extra,
            "steps": [{"id": "keep", "uses": "data.set", "with": {"title": "{{ trigger.title }}"}}]}


def cron_recipe(name="daily", schedule="0 9 * * *", tz=None) -> dict:
    return {"name": name, "trigger": {"uses": "builtins.schedule", "schedule": schedule,
                                      "with": {"timezone": tz} if tz else {}},
            "steps": [{"id": "note", "uses": "data.set", "with": {"at": "{{ trigger.scheduled_at }}"}}]}


@pytest.fixture
def world():
    return FeedPlugin()


@pytest.fixture
def engine(make_engine, database_url, world):
    return make_engine(database_url, plugins=[world])


def runs(engine, recipe: str) -> list[dict]:
    """Runs of a recipe (oldest first) with their trigger event and key, straight from SQL."""
    with engine.db.session() as s:
        rows = s.scalars(select(RunRow).where(RunRow.recipe_name == recipe).order_by(RunRow.created_at)).all()
        return [{"id": r.id, "event": r.trigger_event, "key": r.trigger_key, "status": r.status} for r in rows]


def state(engine, recipe: str) -> TriggerStateRow | None:
    with engine.db.session() as s:
        return s.get(TriggerStateRow, recipe)


def wait_finished(engine, run_ids, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(engine.journal.run_status(r) in ("succeeded", "failed") for r in run_ids):
            assert {engine.journal.run_status(r) for r in run_ids} <= {"succeeded"}
            return
        time.sleep(0.02)
    raise AssertionError("runs did not finish in time")


# -- polling ------------------------------------------------------------------------------------
def test_first_poll_seeds_then_each_new_item_fires_one_run(engine, world):
    world.publish("blog", "a", "b")
    engine.save_recipe(feed_recipe())
    scheduler = Scheduler(engine)

    assert scheduler.run_once(T0) == []  # the first poll only seeds: no flood of old posts
    assert runs(engine, "feed") == []
    with engine.db.session() as s:
        seen = s.scalars(select(TriggerSeenRow).where(TriggerSeenRow.recipe_name == "feed")).all()
        assert {(r.key, r.run_id) for r in seen} == {("a", None), ("b", None)}
    assert (state(engine, "feed").seeded, state(engine, "feed").cursor) == (True, {"seen": 2})

    world.publish("blog", "c")
    started = scheduler.run_once(T0 + timedelta(minutes=5))
    assert len(started) == 1
    assert world.polls[-1] == {"recipe": "feed", "feed": "blog", "cursor": {"seen": 2}, "step": "trigger"}
    wait_finished(engine, started)
    run = engine.runs.detail(started[0])
    assert run["trigger"] == {"id": "c", "title": "Post c"}
    assert run["steps"][0]["output"] == {"title": "Post c"}
    assert [r["key"] for r in runs(engine, "feed")] == ["c"]

    assert scheduler.run_once(T0 + timedelta(minutes=10)) == []  # c is seen again: nothing fires
    world.publish("blog", "d", "e")
    started = scheduler.run_once(T0 + timedelta(minutes=15))
    wait_finished(engine, started)
    assert sorted(r["event"]["id"] for r in runs(engine, "feed")) == ["c", "d", "e"]
    assert state(engine, "feed").cursor == {"seen": 5}


def test_polling_respects_every_and_defaults_to_five_minutes(engine, world):
    engine.save_recipe(feed_recipe("slow", every="10m"))
    engine.save_recipe(feed_recipe("default", every=None))
    scheduler = Scheduler(engine)

    def polled_at(minutes: float) -> list[str]:
        before = len(world.polls)
        scheduler.run_once(T0 + timedelta(minutes=minutes))
        return sorted(p["recipe"] for p in world.polls[before:])

    assert polled_at(0) == ["default", "slow"]
    assert polled_at(4.99) == []
    assert polled_at(5) == ["default"]
    assert polled_at(9.99) == []
    assert polled_at(10) == ["default", "slow"]
    assert polled_at(10) == []  # the same instant again: already claimed


def test_a_failing_poll_is_recorded_and_retried_at_the_next_period(engine, world):
    world.publish("blog", "a")
    engine.save_recipe(feed_recipe("blog"))
    engine.save_recipe(feed_recipe("news", feed="news"))
    scheduler = Scheduler(engine)
    scheduler.run_once(T0)

    world.broken["blog"] = "feed unreachable\n  (connection refused)"
    world.publish("blog", "b")
    world.publish("news", "n1")
    started = scheduler.run_once(T0 + timedelta(minutes=5))
    assert [r["key"] for r in runs(engine, "news")] == ["n1"] and len(started) == 1  # the other recipe went on
    blog = state(engine, "blog")
    assert blog.last_error == "RuntimeError: feed unreachable (connection refused)"
    assert blog.cursor == {"seen": 1}  # kept

    polls = len(world.polls)
    assert scheduler.run_once(T0 + timedelta(minutes=7)) == [] and len(world.polls) == polls  # not before the period

    del world.broken["blog"]
    started = scheduler.run_once(T0 + timedelta(minutes=10))
    assert [r["key"] for r in runs(engine, "blog")] == ["b"]
    assert state(engine, "blog").last_error is None
    wait_finished(engine, started)


def test_a_failing_first_poll_seeds_at_the_next_period(engine, world):
    world.publish("blog", "a")
    world.broken["blog"] = "timeout"
    engine.save_recipe(feed_recipe())
    scheduler = Scheduler(engine)
    scheduler.run_once(T0)
    assert state(engine, "feed").seeded is False and state(engine, "feed").last_error == "RuntimeError: timeout"
    del world.broken["blog"]
    assert scheduler.run_once(T0 + timedelta(minutes=5)) == []  # seeds, still no run for old items
    assert state(engine, "feed").seeded is True and runs(engine, "feed") == []


def test_a_changed_trigger_seeds_again_and_a_disabled_recipe_is_not_polled(engine, world):
    world.publish("blog", "a")
    world.publish("agenda", "e1", "e2")
    engine.save_recipe(feed_recipe())
    scheduler = Scheduler(engine)
    scheduler.run_once(T0)
    engine.save_recipe(feed_recipe(feed="agenda"))  # another feed: its existing items must not fire
    assert state(engine, "feed") is None
    assert scheduler.run_once(T0 + timedelta(minutes=1)) == []
    assert state(engine, "feed").cursor == {"seen": 2} and runs(engine, "feed") == []

    engine.save_recipe(feed_recipe(feed="agenda", enabled=False))
    world.publish("agenda", "e3")
    polls = len(world.polls)
    assert scheduler.run_once(T0 + timedelta(hours=1)) == [] and len(world.polls) == polls


def test_a_poll_outdated_by_a_trigger_change_does_not_store_its_cursor(engine, world):
    world.publish("blog", "a", "b", "c")
    world.publish("agenda", "e1")
    engine.save_recipe(feed_recipe())
    other = Scheduler(engine)

    def change_trigger():
        world.during_poll = None
        engine.save_recipe(feed_recipe(feed="agenda"))
        other.run_once(T0 + timedelta(seconds=1))  # seeds the new feed while the old poll is still out

    world.during_poll = change_trigger
    Scheduler(engine).run_once(T0)
    assert [p["feed"] for p in world.polls] == ["agenda", "blog"]
    assert state(engine, "feed").cursor == {"seen": 1}  # the agenda's, not the blog's stale one


# -- cron ---------------------------------------------------------------------------------------
def test_latest_tick_includes_now_and_follows_the_time_zone():
    from zoneinfo import ZoneInfo

    brussels = ZoneInfo("Europe/Brussels")
    nine = datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    assert latest_tick("0 9 * * *", brussels, nine) == nine
    assert latest_tick("0 9 * * *", brussels, nine - timedelta(microseconds=1)) == nine - timedelta(days=1)
    assert latest_tick("0 9 * * *", brussels, datetime(2026, 7, 1, 12, tzinfo=UTC)) == \
        datetime(2026, 7, 1, 7, tzinfo=UTC)  # summer time


def test_cron_fires_once_per_tick_and_not_for_ticks_before_the_recipe_existed(engine):
    engine.save_recipe(cron_recipe())
    scheduler = Scheduler(engine)
    assert scheduler.run_once(T0) == []  # first seen at 08:30 in Brussels: yesterday's 09:00 does not fire
    assert scheduler.run_once(T0 + timedelta(minutes=29)) == []  # today's 09:00 is still to come
    assert runs(engine, "daily") == []

    today = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    engine.save_recipe(cron_recipe("late"))  # first seen after today's 09:00: that tick must not fire for it
    started = scheduler.run_once(today + timedelta(minutes=30))
    assert [engine.runs.detail(r)["recipe"] for r in started] == ["daily"]
    assert scheduler.run_once(today + timedelta(minutes=31)) == []

    tomorrow = today + timedelta(days=1)
    assert scheduler.run_once(tomorrow - timedelta(microseconds=1)) == []
    started += scheduler.run_once(tomorrow)
    assert len(started) == 3
    assert scheduler.run_once(tomorrow) == [] and scheduler.run_once(tomorrow + timedelta(seconds=59)) == []
    wait_finished(engine, started)
    assert [r["key"] for r in runs(engine, "late")] == ["cron:2026-01-06T08:00:00+00:00"]
    run = runs(engine, "daily")[-1]
    assert run["event"] == {"scheduled_at": "2026-01-06T08:00:00+00:00", "fired_at": "2026-01-06T08:00:00+00:00"}
    assert run["key"] == "cron:2026-01-06T08:00:00+00:00"
    assert engine.runs.detail(run["id"])["steps"][0]["output"] == {"at": "2026-01-06T08:00:00+00:00"}


def test_the_first_tick_is_not_fired_when_the_recipe_is_first_seen_after_it(engine):
    engine.save_recipe(cron_recipe(schedule="*/15 * * * *"))
    scheduler = Scheduler(engine)
    assert scheduler.run_once(T0 + timedelta(minutes=3)) == []  # 07:33: the 07:30 tick predates the scheduler
    assert state(engine, "daily").last_tick == T0
    assert len(scheduler.run_once(T0 + timedelta(minutes=15))) == 1


def test_missed_ticks_fire_once_the_latest(engine):
    engine.save_recipe(cron_recipe(schedule="*/10 * * * *"))
    scheduler = Scheduler(engine)
    scheduler.run_once(T0)
    later = T0 + timedelta(hours=3, minutes=7)  # eighteen ticks missed while the scheduler was down
    started = scheduler.run_once(later)
    assert len(started) == 1
    assert scheduler.run_once(later + timedelta(minutes=2)) == []
    [run] = runs(engine, "daily")
    assert run["event"] == {"scheduled_at": "2026-01-05T10:30:00+00:00", "fired_at": later.isoformat()}
    wait_finished(engine, started)


def test_cron_uses_the_recipe_time_zone(engine):
    engine.save_recipe(cron_recipe("brussels", "0 9 * * 1"))
    engine.save_recipe(cron_recipe("utc", "0 9 * * 1", tz="UTC"))
    scheduler = Scheduler(engine)
    monday = datetime(2026, 7, 6, tzinfo=UTC)
    fired = {}
    for minutes in range(0, 24 * 60, 30):
        now = monday + timedelta(minutes=minutes)
        for run_id in scheduler.run_once(now):
            fired[engine.runs.detail(run_id)["recipe"]] = now.hour
    assert fired == {"brussels": 7, "utc": 9}


def test_a_fixed_hour_fires_once_when_clocks_go_back_and_a_wildcard_hour_in_both_passes(engine):
    engine.save_recipe(cron_recipe("nightly", "30 2 * * *"))
    engine.save_recipe(cron_recipe("half-hourly", "*/30 * * * *"))
    scheduler = Scheduler(engine)
    start = datetime(2026, 10, 24, 22, 50, tzinfo=UTC)  # 00:50 CEST; 03:00 CEST becomes 02:00 CET
    for minutes in range(0, 5 * 60, 10):
        scheduler.run_once(start + timedelta(minutes=minutes))
    assert [r["event"]["scheduled_at"] for r in runs(engine, "nightly")] == ["2026-10-25T00:30:00+00:00"]
    assert len(runs(engine, "half-hourly")) == 10  # five hours of real time


# -- two schedulers on one database -------------------------------------------------------------
def test_two_schedulers_fire_each_item_and_each_tick_exactly_once(make_engine, database_url, world):
    engines = [make_engine(database_url, plugins=[world]), make_engine(database_url, plugins=[world])]
    engines[0].save_recipe(feed_recipe("feed-a"))
    engines[1].save_recipe(feed_recipe("feed-b", feed="news"))
    engines[0].save_recipe(cron_recipe("ticker", "*/5 * * * *"))
    schedulers = [Scheduler(e) for e in engines]
    world.publish("blog", "old-1", "old-2")
    world.publish("news", "old-n")
    started: list[str] = []
    lock = threading.Lock()

    def pass_together(now: datetime) -> None:
        barrier = threading.Barrier(len(schedulers))

        def go(scheduler: Scheduler) -> None:
            barrier.wait()
            ids = scheduler.run_once(now)
            with lock:
                started.extend(ids)

        threads = [threading.Thread(target=go, args=(s,)) for s in schedulers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)

    rounds = 6
    for n in range(rounds):
        if n:
            world.publish("blog", f"a{n}", f"b{n}")
            world.publish("news", f"n{n}")
        pass_together(T0 + timedelta(minutes=5 * n, seconds=1))

    assert Counter(p["recipe"] for p in world.polls) == {"feed-a": rounds, "feed-b": rounds}  # one poll per period
    keys = {name: Counter(r["key"] for r in runs(engines[0], name)) for name in ("feed-a", "feed-b", "ticker")}
    assert keys["feed-a"] == {f"{x}{n}": 1 for n in range(1, rounds) for x in "ab"}
    assert keys["feed-b"] == {f"n{n}": 1 for n in range(1, rounds)}
    assert keys["ticker"] == {f"cron:{(T0 + timedelta(minutes=5 * n)).isoformat()}": 1 for n in range(1, rounds)}
    assert len(started) == len(set(started)) == 3 * (rounds - 1) + (rounds - 1)
    wait_finished(engines[0], started)


def test_start_and_stop_run_the_loop_in_a_thread(engine, world):
    engine.save_recipe(feed_recipe())
    now = [T0]
    scheduler = Scheduler(engine, tick=0.02, clock=lambda: now[0])
    scheduler.start()
    scheduler.start()  # already running: no second thread
    deadline = time.monotonic() + 10
    while state(engine, "feed") is None or not state(engine, "feed").seeded:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    world.publish("blog", "fresh")
    now[0] = T0 + timedelta(minutes=5)
    while not runs(engine, "feed"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    scheduler.stop()
    assert scheduler._thread is None
    assert [r["key"] for r in runs(engine, "feed")] == ["fresh"]


def test_the_new_items_of_one_poll_travel_to_redis_as_one_job(make_engine, pg_url, world):
    """On RQ, a poll that finds several new posts records their runs together and queues them as one batch."""
    redis_url = os.environ.get("BEFFROI_TEST_REDIS_URL")
    if not redis_url:
        needs("Redis", "BEFFROI_TEST_REDIS_URL")
    queue = f"t-{uuid.uuid4().hex[:12]}"
    engine = make_engine(pg_url, redis_url=redis_url, queue_name=queue, plugins=[world])
    redis = Redis.from_url(redis_url)
    try:
        world.publish("blog", "a")
        engine.save_recipe(feed_recipe())
        scheduler = Scheduler(engine)
        assert scheduler.run_once(T0) == []  # seeds
        world.publish("blog", "b", "c", "d")
        started = scheduler.run_once(T0 + timedelta(minutes=5))
        assert [r["event"]["id"] for r in runs(engine, "feed")] == ["b", "c", "d"]
        jobs = redis.lrange(f"rq:queue:{queue}", 0, -1)
        assert len(jobs) == 1
        _, _, args, _ = json.loads(zlib.decompress(redis.hget(b"rq:job:" + jobs[0], "data")))
        assert args == [started] and len(started) == 3
    finally:
        keys = list(redis.scan_iter(match=f"*{queue}*", count=1000))
        keys += [b"rq:job:" + job for job in redis.lrange(f"rq:queue:{queue}", 0, -1)]
        if keys:
            redis.delete(*keys)
        redis.srem("rq:queues", f"rq:queue:{queue}")
        redis.close()
