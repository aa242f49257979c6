"""Sample events: every trigger declares a typed one, a dry run with no event uses it (CLI and API), a recipe may
give its own, and a polling trigger can read a live sample from its source without touching its state."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import func, select

from beffroi import TriggerSpec
from beffroi.api import create_app
from beffroi.journal import SEEN
from beffroi.recipes import RecipeInvalid
from beffroi.scheduler import Scheduler

from .test_cli import cli, db_url  # noqa: F401  (fixtures)

POST = {"title": "Fête de la musique", "url": "https://www.ville.example/musique", "summary": "Le 21 juin."}


def folder_recipe(folder: Path, **trigger) -> dict:
    return {"name": "posts", "trigger": {"uses": "wcms.post_published", "with": {"folder": str(folder)}, "every": "1m",
                                         **trigger},
            "steps": [{"id": "say", "uses": "data.set", "with": {"text": "{{ trigger.title }} {{ trigger.url }}"}}]}


def write_post(folder: Path, name: str, post: dict, age: float) -> None:
    path = folder / name
    path.write_text(json.dumps(post), encoding="utf-8")
    stamp = time.time() - age  # older than the folder feed's settling time
    os.utime(path, (stamp, stamp))


@pytest.fixture
def engine(make_engine, tmp_path):
    (tmp_path / "posts").mkdir()
    return make_engine(allowed_folders=[str(tmp_path / "posts")])


@pytest.fixture
def api(engine):
    _, token = engine.tokens.create("editor", "editor")
    return TestClient(create_app(engine), headers={"Authorization": f"Bearer {token}"})


def test_every_trigger_declares_a_sample_event_of_its_event_model(engine):
    for spec in engine.registry.triggers.values():
        assert spec.event_model is not None and isinstance(spec.sample_event, spec.event_model), spec.key
        assert spec.event_model.model_validate(spec.sample()) == spec.sample_event
        assert spec.sample(), spec.key


def test_a_sample_that_does_not_fit_the_event_model_is_refused_at_registration():
    class Event(BaseModel):
        title: str

    with pytest.raises(ValueError, match="title"):
        TriggerSpec(key="x.y", title="X", kind="manual", event_model=Event, sample_event={"title": ["not", "text"]})


def test_a_dry_run_without_an_event_uses_the_sample_through_the_api(api, engine):
    engine.save_recipe({"name": "hello", "trigger": {"uses": "builtins.manual"},
                        "steps": [{"id": "greet", "uses": "data.set", "with": {"text": "Hello {{ trigger.name }}"}}]})
    run = api.post("/api/recipes/hello/runs?dry_run=true&wait=true").json()
    assert run["dry_run"] and run["trigger"] == {"name": "Anne-Sophie"}
    assert run["steps"][0]["output"] == {"text": "Hello Anne-Sophie"}
    explicit = api.post("/api/recipes/hello/runs?dry_run=true&wait=true", json={"name": "Jan"}).json()
    assert explicit["steps"][0]["output"] == {"text": "Hello Jan"}  # an event given is the event used
    real = api.post("/api/recipes/hello/runs?wait=true").json()  # a real run is never given a made-up event
    assert real["status"] == "failed" and real["trigger"] == {}
    assert api.get("/api/recipes/hello/sample").json() == {"name": "Anne-Sophie"}


def test_a_recipe_gives_its_own_sample_checked_against_the_event_model(engine, api, tmp_path):
    recipe = folder_recipe(tmp_path / "posts", sample={"id": "s1", **POST})
    engine.save_recipe(recipe)
    run = api.post("/api/recipes/posts/runs?dry_run=true&wait=true").json()
    assert run["steps"][0]["output"] == {"text": "Fête de la musique https://www.ville.example/musique"}

    with pytest.raises(RecipeInvalid) as caught:
        engine.save_recipe(folder_recipe(tmp_path / "posts", sample={"title": ["a list"]}))
    assert {p.loc for p in caught.value.problems} == {"trigger.sample.id", "trigger.sample.title"}


def test_a_live_sample_is_the_newest_item_of_the_source_and_leaves_the_trigger_state_alone(engine, api, tmp_path):
    folder = tmp_path / "posts"
    write_post(folder, "old.json", {**POST, "title": "Older"}, age=600)
    write_post(folder, "new.json", POST, age=60)
    engine.save_recipe(folder_recipe(folder))
    assert api.get("/api/recipes/posts/sample?live=true").json()["title"] == "Fête de la musique"
    run = api.post("/api/recipes/posts/runs?dry_run=true&sample=live&wait=true").json()
    assert run["steps"][0]["output"]["text"] == "Fête de la musique https://www.ville.example/musique"
    with engine.db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(SEEN)) == 0  # nothing marked as seen
    assert Scheduler(engine).run_once() == []  # so the first poll still only seeds: no run for existing posts

    empty = tmp_path / "posts" / "empty"
    empty.mkdir()
    engine.save_recipe({**folder_recipe(empty), "name": "empty"})
    answer = api.get("/api/recipes/empty/sample?live=true")
    assert answer.status_code == 502 and "no item yet" in answer.json()["detail"]
    answer = api.get("/api/recipes/empty/sample")  # the stored sample is always there
    assert answer.status_code == 200 and answer.json()["title"] == "Marché de Noël sur la Grand-Place"
    engine.save_recipe({"name": "by-hand", "trigger": {"uses": "builtins.manual"},
                        "steps": [{"id": "a", "uses": "data.set", "with": {"n": 1}}]})
    answer = api.post("/api/recipes/by-hand/runs?dry_run=true&sample=live")
    assert answer.status_code == 502 and "not a polling trigger" in answer.json()["detail"]
    assert api.post("/api/recipes/posts/runs?sample=live").status_code == 422  # only for a dry run


def test_the_cli_dry_run_uses_the_sample_or_a_live_one(cli, tmp_path):
    folder = tmp_path / "posts"
    folder.mkdir()
    write_post(folder, "new.json", POST, age=60)
    path = tmp_path / "posts.yaml"
    path.write_text(yaml.safe_dump(folder_recipe(folder)), encoding="utf-8")
    env = {"BEFFROI_ALLOWED_FOLDERS": str(folder)}
    stored, live, refused = cli.many(["run", str(path), "--dry-run", "--json"],
                                     ["run", str(path), "--dry-run", "--live-sample", "--json"],
                                     ["run", str(path), "--live-sample"], env=env)
    stored, live = json.loads(stored.stdout), json.loads(live.stdout)
    assert stored["steps"][0]["output"]["text"].startswith("Marché de Noël sur la Grand-Place https://")
    assert live["steps"][0]["output"]["text"] == "Fête de la musique https://www.ville.example/musique"
    assert refused.returncode == 2 and "--live-sample goes with --dry-run" in refused.stderr
