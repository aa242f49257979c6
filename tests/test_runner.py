"""The runner through the engine: journal, if, for_each, retry, on_error, timeout, idempotency, dry run."""
from __future__ import annotations

import logging
import socket
import subprocess
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy import update

from beffroi import HTML, ActionError, ActionSpec, hookimpl
from beffroi.api import create_app
from beffroi.journal import RUNS
from beffroi.recipes import RecipeInvalid
from beffroi.store.models import utcnow

from .helpers import Input, RecordingPlugin, recipe


@pytest.fixture
def plugin():
    return RecordingPlugin()


@pytest.fixture
def engine(make_engine, database_url, plugin):
    return make_engine(database_url, plugins=[plugin])


def run(engine, data, event=None, **kwargs):
    return engine.run_recipe(engine.validate(data), event if event is not None else {}, **kwargs)


def step(result, step_id):
    return next(s for s in result["steps"] if s["id"] == step_id)


def test_chain_of_steps_passes_outputs_and_keeps_types(engine):
    result = run(engine, recipe(
        {"id": "shape", "uses": "data.set", "with": {"title": "{{ trigger.title | upper }}",
                                                     "tags": "{{ trigger.tags }}", "n": "{{ trigger.n + 1 }}"}},
        {"id": "say", "uses": "data.set", "with": {"line": "{{ steps.shape.title }} ({{ steps.shape.n }})",
                                                   "first": "{{ steps.shape.tags[0] }}", "run": "{{ run.recipe }}"}},
    ), {"title": "Fête", "tags": ["a", "b"], "n": 41})
    assert result["status"] == "succeeded"
    assert step(result, "shape")["output"] == {"title": "FÊTE", "tags": ["a", "b"], "n": 42}
    assert step(result, "say")["output"] == {"line": "FÊTE (42)", "first": "a", "run": "test-recipe"}
    assert step(result, "say")["input"] == step(result, "say")["output"]
    assert all(s["started_at"] and s["finished_at"] for s in result["steps"])
    assert engine.runs.detail(result["id"]) == result  # what was returned is what was recorded


class PageInput(BaseModel):
    body: str = Field(json_schema_extra=HTML)
    html: str = ""  # only the marker counts, not the name


class PagePlugin:
    @hookimpl
    def register_actions(self):
        yield ActionSpec(key="page.make", title="Page", input_model=PageInput, side_effects=False,
                         run=lambda payload, ctx: payload.model_dump())


def test_a_field_the_action_marks_as_html_escapes_its_values(make_engine, database_url):
    engine = make_engine(database_url, plugins=[PagePlugin()])
    result = run(engine, recipe({"id": "p", "uses": "page.make",
                                 "with": {"body": "<p>{{ trigger.name }}</p>", "html": "{{ trigger.name }}"}}),
                 {"name": "<script>x</script>"})
    assert step(result, "p")["output"] == {"body": "<p>&lt;script&gt;x&lt;/script&gt;</p>",
                                           "html": "<script>x</script>"}


def test_a_template_over_its_memory_budget_fails_the_step_naming_the_field(engine):
    big = "{% set a = 'x' * 100000 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}{{ [b, b, b, b, b, b, b, b, b, b] }}"
    result = run(engine, recipe({"id": "p", "uses": "data.set", "with": {"title": "ok", "list": big}}))
    assert result["status"] == "failed"
    assert step(result, "p")["error"].startswith("steps[0].with.list: {% set a")
    assert step(result, "p")["error"].endswith(": this template builds a value larger than 16 MiB")


def test_if_false_records_skipped_and_later_steps_still_run(engine, plugin):
    result = run(engine, recipe(
        {"id": "maybe", "uses": "test.record", "if": "'agenda' in trigger.categories", "with": {"text": "x"}},
        {"id": "always", "uses": "test.record", "if": "{{ trigger.categories | length > 0 }}", "with": {"text": "y"}},
    ), {"categories": ["sport"]})
    assert result["status"] == "succeeded"
    assert [s["status"] for s in result["steps"]] == ["skipped", "succeeded"]
    assert [c["text"] for c in plugin.calls] == ["y"]


def test_for_each_runs_per_item_and_collects_outputs(engine, plugin):
    result = run(engine, recipe(
        {"id": "each", "uses": "test.record", "for_each": "{{ trigger.people }}",
         "with": {"text": "Hello {{ item.name }} #{{ item_index }}"}},
        {"id": "after", "uses": "data.set", "with": {"count": "{{ steps.each | length }}",
                                                     "last": "{{ steps.each[-1].echo }}"}},
    ), {"people": [{"name": "Ann"}, {"name": "Bob"}, {"name": "Cyd"}]})
    assert result["status"] == "succeeded"
    assert [c["text"] for c in plugin.calls] == ["Hello Ann #0", "Hello Bob #1", "Hello Cyd #2"]
    assert [c["key"] for c in plugin.calls] == [f"{result['id']}:each:{i}" for i in range(3)]
    assert step(result, "after")["output"] == {"count": 3, "last": "Hello Cyd #2"}


def test_for_each_over_something_else_than_a_list_fails_clearly(engine):
    result = run(engine, recipe({"id": "each", "uses": "data.set", "for_each": "{{ trigger.n }}", "with": {}}),
                 {"n": 3})
    assert result["status"] == "failed"
    assert step(result, "each")["error"] == "for_each: expected a list, got int"


def test_retry_reattempts_until_success(engine, plugin):
    result = run(engine, recipe({"id": "post", "uses": "test.record", "with": {"text": "hi", "fail_times": 2},
                                 "retry": {"attempts": 3, "backoff": "10ms"}}))
    assert result["status"] == "succeeded"
    assert step(result, "post")["attempts"] == 3
    assert plugin.calls == [{"text": "hi", "key": f"{result['id']}:post", "attempt": 3}]


def test_retry_gives_up_and_stops_the_run(engine, plugin):
    result = run(engine, recipe(
        {"id": "post", "uses": "test.record", "with": {"text": "hi", "fail_times": 5},
         "retry": {"attempts": 2, "backoff": "10ms"}},
        {"id": "next", "uses": "test.record", "with": {"text": "never"}}))
    assert result["status"] == "failed"
    assert result["error"] == "step 'post' failed: remote refused 'hi'"
    assert step(result, "post")["attempts"] == 2
    assert step(result, "next")["status"] == "pending"
    assert plugin.calls == []


def test_non_retryable_error_is_not_retried(engine):
    result = run(engine, recipe({"id": "post", "uses": "test.record",
                                 "with": {"text": "hi", "fail_times": 1, "retryable": False},
                                 "retry": {"attempts": 5, "backoff": "10ms"}}))
    assert step(result, "post")["attempts"] == 1


def test_on_error_continue_carries_on(engine, plugin):
    result = run(engine, recipe(
        {"id": "post", "uses": "test.record", "with": {"text": "a", "fail_times": 1}, "on_error": "continue"},
        {"id": "next", "uses": "test.record", "with": {"text": "b"}}))
    assert result["status"] == "succeeded"
    assert [s["status"] for s in result["steps"]] == ["failed", "succeeded"]
    assert [c["text"] for c in plugin.calls] == ["b"]


def test_a_failed_run_logs_one_warning_naming_recipe_step_and_error(engine, caplog):
    caplog.set_level(logging.INFO, logger="beffroi")
    ok = run(engine, recipe(
        {"id": "post", "uses": "test.record", "with": {"text": "a", "fail_times": 1}, "on_error": "continue"}))
    failed = run(engine, recipe({"id": "first", "uses": "data.set", "with": {"x": 1}},
                                {"id": "newsletter", "uses": "test.record", "with": {"text": "press", "fail_times": 1}},
                                {"id": "never", "uses": "data.set", "with": {"x": 2}}, name="blog-to-outbox"))
    assert ok["status"] == "succeeded" and failed["status"] == "failed"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.name, r.getMessage()) for r in warnings] == [
        ("beffroi.runs", f"run {failed['id']} of blog-to-outbox failed at step newsletter: remote refused 'press'")]


def test_timeout_is_enforced(engine):
    result = run(engine, recipe({"id": "slow", "uses": "test.record", "with": {"text": "a", "sleep": 2},
                                 "timeout": "200ms"}))
    assert result["status"] == "failed"
    assert step(result, "slow")["error"] == "timed out after 0.2s"


def test_bad_rendered_input_names_the_field(engine):
    result = run(engine, recipe({"id": "post", "uses": "test.record", "with": {"fail_times": "{{ trigger.word }}"}}),
                 {"word": "many"})
    assert result["status"] == "failed"
    assert step(result, "post")["error"].startswith("steps[0].with.fail_times: ")


def test_unknown_variable_at_run_time_is_an_error_not_empty_text(engine, plugin):
    result = run(engine, recipe({"id": "post", "uses": "test.record", "with": {"text": "{{ trigger.missing }}"}}))
    assert result["status"] == "failed"
    assert "missing" in step(result, "post")["error"]
    assert plugin.calls == []


def test_a_template_error_names_the_field_the_template_and_what_exists(engine):
    result = run(engine, recipe(
        {"id": "announce", "uses": "data.set", "with": {"results": [{"id": 1}]}},
        {"id": "track", "uses": "data.set", "with": {"name": "published",
                                                     "properties": {"toot": "{{ steps.announce.results[0].url }}"}}}))
    error = ("steps[1].with.properties.toot: {{ steps.announce.results[0].url }}: "
             "steps.announce.results[0] has no field 'url'; it has: id")
    assert step(result, "track")["error"] == error and result["error"] == f"step 'track' failed: {error}"
    event = {"title": "News", "items": [{"title": "a"}]}
    errors = [step(run(engine, recipe(data), event), "s")["error"] for data in (
        {"id": "s", "uses": "data.set", "if": "'x' in trigger.tags", "with": {}},
        {"id": "s", "uses": "data.set", "for_each": "{{ trigger.posts }}", "with": {}},
        {"id": "s", "uses": "data.set", "for_each": "{{ trigger['items'] }}", "with": {"t": "{{ item.link }}"}})]
    assert errors == ["steps[0].if: 'x' in trigger.tags: trigger has no field 'tags'; it has: items, title",
                      "steps[0].for_each: {{ trigger.posts }}: trigger has no field 'posts'; it has: items, title",
                      "item 0: steps[0].with.t: {{ item.link }}: item has no field 'link'; it has: title"]


def test_dry_run_previews_every_step_and_sends_nothing(engine, plugin):
    result = run(engine, recipe(
        {"id": "post", "uses": "test.record", "with": {"text": "{{ trigger.title }}"}},
        {"id": "call", "uses": "http.request", "with": {"method": "POST", "url": "https://example.org/api",
                                                       "headers": {"Authorization": "Bearer s3cr3t-value"},
                                                       "json": {"t": "{{ trigger.title }}"}}},
        {"id": "wait", "uses": "flow.delay", "with": {"duration": "1h"}},
    ), {"title": "News"}, dry_run=True)
    assert result["status"] == "succeeded" and result["dry_run"] is True
    assert plugin.calls == []
    assert step(result, "post")["output"] == {"would_record": "News"}
    call = step(result, "call")["output"]
    assert (call["status"], call["headers"], call["json"], call["text"]) == (0, {}, None, None)  # no answer yet
    sent = call["would_send"]
    assert sent["json"] == {"t": "News"} and sent["headers"]["Authorization"] == "***"
    assert sent["headers"]["Idempotency-Key"] == f"{result['id']}:call"
    assert step(result, "wait")["output"] == {"duration_seconds": 3600, "waited_seconds": 0,
                                              "would_wait_seconds": 3600}


def test_a_dry_run_runs_a_pure_action_without_preview_and_only_describes_the_others(engine):
    engine.connections.save("acct", "testapi", {"base_url": "https://social.example", "token": "tok-1"})
    result = run(engine, recipe(
        {"id": "shape", "uses": "test.upper", "with": {"text": "{{ trigger.title }}"}},
        {"id": "echo", "uses": "test.echo_connection", "connection": "acct",
         "with": {"text": "{{ steps.shape.text }}"}},
    ), {"title": "News"}, dry_run=True)
    assert result["status"] == "succeeded"
    assert step(result, "shape")["output"] == {"text": "NEWS"}
    assert step(result, "echo")["output"] == {"would_run": "test.echo_connection",
                                              "input": {"text": "NEWS", "fail_times": 0, "sleep": 0, "retryable": True}}


def test_secrets_are_redacted_from_the_journal(engine, plugin):
    engine.connections.save("acct", "testapi", {"base_url": "https://social.example", "token": "tok-SECRET-123"})
    result = run(engine, recipe(
        {"id": "echo", "uses": "test.echo_connection", "connection": "acct", "with": {"text": "hi"}},
        {"id": "call", "uses": "http.request", "with": {"url": "https://example.org/",
                                                       "headers": {"X-Api-Key": "k-123456"}}},
    ), dry_run=False)
    assert step(result, "echo")["output"]["token_seen"] == "***"
    assert step(result, "echo")["output"]["account"] == "acct"
    assert step(result, "call")["input"]["headers"] == {"X-Api-Key": "***"}
    assert "tok-SECRET-123" not in str(engine.runs.detail(result["id"]))


def test_connection_of_wrong_name_fails_the_step_clearly(engine):
    data = recipe({"id": "echo", "uses": "test.echo_connection", "connection": "nope", "with": {}})
    with pytest.raises(RecipeInvalid, match=r"steps\[0\].connection: no connection named 'nope'"):
        engine.validate(data)  # refused when saved; a connection deleted since then fails the step at run time
    result = engine.run_recipe(engine.validator.validate(data), {})
    assert step(result, "echo")["error"] == "connection: no connection named 'nope'"


def test_life_cycle_events_reach_plugins(make_engine, plugin):
    from beffroi import hookimpl

    seen = []

    class Observer:
        @hookimpl
        def track_event(self, event):
            seen.append((event["type"], event.get("step_id"), event.get("status")))

    engine = make_engine(plugins=[plugin, Observer()])
    run(engine, recipe({"id": "a", "uses": "data.set", "with": {"x": 1}}))
    assert seen == [("run.started", None, None), ("step.finished", "a", "succeeded"),
                    ("run.finished", None, "succeeded")]


def test_a_resumed_delay_waits_only_for_what_is_left(engine):
    from datetime import timedelta

    from beffroi.store.models import RunRow, StepRunRow, utcnow

    data = recipe({"id": "wait", "uses": "flow.delay", "with": {"duration": "30s"}},
                  {"id": "after", "uses": "data.set", "with": {"ok": True}})
    recipe_model = engine.validate(data)
    run_id = engine.create_run(recipe_model, {})
    began = utcnow() - timedelta(seconds=29.8)
    with engine.db.session() as session:  # as a crash would leave it: the wait began 29.8 s ago
        session.get(RunRow, run_id).started_at = began
        session.add(StepRunRow(run_id=run_id, step_id="wait", position=0, status="running", attempts=1,
                               started_at=began))
    assert engine.runner.execute(run_id) == "succeeded"
    wait = engine.runs.detail(run_id)["steps"][0]
    assert wait["attempts"] == 2 and wait["output"]["duration_seconds"] == 30
    assert wait["output"]["waited_seconds"] < 1


def test_resume_takes_orphans_only_and_hands_each_back_with_a_compare_and_set(engine):
    recipe_ = engine.validate(recipe({"id": "a", "uses": "data.set", "with": {"n": 1}}))
    dead = subprocess.Popen(["true"])
    dead.wait()
    now, old = utcnow(), utcnow() - timedelta(minutes=5)
    owners = {"dead": (f"{socket.gethostname()}:{dead.pid}:aaaa", now), "stale": ("elsewhere:1:bbbb", old),
              "alive": ("elsewhere:2:cccc", now), "queued": (None, None)}
    runs = {name: engine.create_run(recipe_) for name in owners}
    with engine.db.engine.begin() as conn:
        for name, (owner, beat) in owners.items():
            if owner:
                conn.execute(update(RUNS).where(RUNS.c.id == runs[name])
                             .values(status="running", claimed_by=owner, heartbeat_at=beat))
    # The CAS: a release that expects an older heartbeat than the run has does nothing.
    assert not engine.journal.release(runs["alive"], owner="elsewhere:2:cccc", heartbeat=old)
    assert sorted(engine.resume_interrupted()) == sorted(runs[n] for n in ("dead", "stale", "queued"))
    assert [engine.runs.detail(runs[n])["status"] for n in ("dead", "stale", "queued", "alive")] == \
        ["succeeded", "succeeded", "succeeded", "running"]


class Odd:
    """Actions of a careless plugin: an error text with a NUL byte, an output with NaN and infinities."""

    @hookimpl
    def register_actions(self):
        def nul(payload, ctx):
            raise ActionError("the remote said a\x00b", retryable=False)

        def nan(payload, ctx):
            return {"ratio": float("nan"), "limits": [float("inf"), -float("inf"), 1.5]}

        yield ActionSpec(key="odd.nul", title="NUL", input_model=Input, run=nul, side_effects=False)
        yield ActionSpec(key="odd.nan", title="NaN", input_model=Input, run=nan, side_effects=False)


def test_values_the_database_cannot_store_are_made_storable_and_the_run_reads_back(make_engine, database_url):
    engine = make_engine(database_url, plugins=[Odd()])
    api = TestClient(create_app(engine), raise_server_exceptions=False,
                     headers={"Authorization": f"Bearer {engine.tokens.create('e', 'editor')[1]}"})
    result = run(engine, recipe({"id": "a", "uses": "odd.nul", "on_error": "continue"}, {"id": "b", "uses": "odd.nan"}))
    assert result["status"] == "succeeded", result
    assert step(result, "a")["error"] == "the remote said a\ufffdb"
    assert step(result, "b")["output"] == {"ratio": None, "limits": [None, None, 1.5]}  # JSON has no NaN
    assert api.get(f"/api/runs/{result['id']}").status_code == 200


def test_an_error_inside_beffroi_fails_the_run_with_a_message_instead_of_leaving_it_running(engine, caplog):
    # A run queued by an earlier version whose definition no longer reads: nothing a step does, yet it must end.
    run_id = engine.journal.create_run(recipe_name="old", definition={"name": "old", "steps": "not a list"}, event={})
    with caplog.at_level(logging.ERROR, logger="beffroi.runner"):
        assert engine.execute(run_id) == "failed"
    detail = engine.runs.detail(run_id)
    assert detail["status"] == "failed" and detail["finished_at"] is not None
    assert detail["error"].startswith("the run stopped on an error inside Beffroi (ValidationError")
    assert any(f"run {run_id} stopped on an internal error" in r.getMessage() for r in caplog.records)
