"""Recipe model and validation against the registry: every problem, each with its location."""
from __future__ import annotations

import pytest

from beffroi.durations import parse_duration
from beffroi.recipes import RecipeInvalid

from .helpers import RecordingPlugin, recipe


@pytest.fixture
def engine(make_engine):
    return make_engine(plugins=[RecordingPlugin()])


def problems(engine, data) -> dict[str, str]:
    with pytest.raises(RecipeInvalid) as info:
        engine.validate(data)
    return {p.loc: p.message for p in info.value.problems}


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("500ms", 0.5),
                                          (12, 12), ("2d", 172800)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "", "-1s", "1x", True])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_design_example_shape_is_accepted(engine):
    data = recipe(
        {"id": "shape", "uses": "data.set", "with": {"title": "{{ trigger.title }}", "n": 3}},
        {"id": "announce", "uses": "test.record", "if": "'agenda' in trigger.categories",
         "with": {"text": "{{ steps.shape.title }}"}, "retry": {"attempts": 3, "backoff": "30s"}, "timeout": "60s",
         "on_error": "continue"},
        {"id": "each", "uses": "data.set", "for_each": "{{ trigger.items }}", "with": {"v": "{{ item }}"}},
    )
    parsed = engine.validate(data)
    assert parsed.steps[1].retry.attempts == 3
    assert parsed.steps[1].if_ == "'agenda' in trigger.categories"
    assert parsed.to_data()["steps"][1]["with"] == {"text": "{{ steps.shape.title }}"}


def test_every_problem_is_reported_with_its_location(engine):
    data = recipe(
        {"id": "first", "uses": "data.sett", "with": {}},
        {"id": "first", "uses": "test.record", "with": {"txt": "x", "text": "{{ steps.later.value }}"}},
        {"id": "third", "uses": "test.record", "with": {"text": "{{ trigger.title"}, "timeout": "soon"},
        {"id": "later", "uses": "test.record", "if": "steps.nowhere.ok", "with": {"fail_times": "many"}},
    )
    found = problems(engine, data)
    assert "unknown action 'data.sett'" in found["steps[0].uses"]
    assert "did you mean 'data.set'" in found["steps[0].uses"]
    assert "duplicate step id 'first'" in found["steps[1].id"]
    assert found["steps[1].with.txt"] == "unknown field"
    assert "comes later" in found["steps[1].with"]
    assert "syntax" in found["steps[2].with.text"]
    assert "invalid duration" in found["steps[2].timeout"]
    assert "does not exist" in found["steps[3].if"]
    assert found["steps[3].with.fail_times"] == "must be a whole number"


def test_missing_required_field_and_unknown_trigger(engine):
    data = {"name": "Bad Name!", "trigger": {"uses": "wcms.post_publishd"}, "steps": [
        {"id": "wait", "uses": "flow.delay", "with": {}}]}
    found = problems(engine, data)
    assert "name" in found
    assert "unknown trigger" in found["trigger.uses"]
    assert found["steps[0].with.duration"] == "required field is missing"


def test_templated_value_is_not_type_checked_at_save(engine):
    engine.validate(recipe({"id": "a", "uses": "test.record", "with": {"fail_times": "{{ trigger.n }}"}}))


def test_step_referring_to_itself(engine):
    found = problems(engine, recipe({"id": "a", "uses": "data.set", "with": {"x": "{{ steps.a.x }}"}}))
    assert "is this step" in found["steps[0].with"]


def test_schedule_needs_a_valid_cron(engine):
    found = problems(engine, recipe({"id": "a", "uses": "data.set"}, trigger="builtins.schedule"))
    assert "cron" in found["trigger.schedule"]
    data = recipe({"id": "a", "uses": "data.set"}, trigger="builtins.schedule")
    data["trigger"]["schedule"] = "61 9 * * 1"
    assert "invalid cron" in problems(engine, data)["trigger.schedule"]
    data["trigger"]["schedule"] = "0 9 * * 1"
    engine.validate(data)


def test_engine_options_stay_out_of_with(engine):
    found = problems(engine, recipe({"id": "a", "uses": "test.record", "with": {"text": "x", "retry": 3}}))
    assert found["steps[0].with.retry"] == "unknown field"


def test_no_steps_and_unknown_top_level_field(engine):
    found = problems(engine, {"name": "x", "trigger": {"uses": "builtins.manual"}, "steps": [], "colour": "red"})
    assert "steps" in found
    assert found["colour"] == "unknown field"
