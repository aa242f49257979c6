"""BEFFROI_PLUGINS_DIR (plugin modules loaded from a folder) and BEFFROI_DISABLE_PLUGINS, as `beffroi plugins`,
the engine and the API catalog report them."""
from __future__ import annotations

import json
import logging
import textwrap

import pytest
from fastapi.testclient import TestClient

from beffroi.api.app import create_app
from beffroi.cli import main

GOOD = '''
from pydantic import BaseModel, ConfigDict
from beffroi import ActionSpec, hookimpl

__version__ = "0.3"

class HiInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str

@hookimpl
def register_actions():
    yield ActionSpec(key="good.hi", title="Say hi", input_model=HiInput,
                     run=lambda payload, ctx: {"text": f"hi {payload.name}"})
'''
PACKAGE = '''
from beffroi import ActionSpec, hookimpl
from .models import Empty

@hookimpl
def register_actions():
    return [ActionSpec(key="tidy.noop", title="Nothing", input_model=Empty, run=lambda payload, ctx: {})]
'''


@pytest.fixture
def folder(tmp_path):
    """A plugins folder: a good module, a package, one with a syntax error, one whose import fails, and noise."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "good.py").write_text(textwrap.dedent(GOOD))
    (folder / "tidy").mkdir()
    (folder / "tidy" / "__init__.py").write_text(PACKAGE)
    (folder / "tidy" / "models.py").write_text("from pydantic import BaseModel\n\nclass Empty(BaseModel):\n    pass\n")
    (folder / "typo.py").write_text("from beffroi import hookimpl\n\n"
                                    "@hookimpl\ndef register_actions(:\n    return []\n")
    (folder / "needs.py").write_text("import os\n\nimport libmissing_for_beffroi\n")
    (folder / "notes.txt").write_text("not a plugin")
    (folder / "_private.py").write_text("raise RuntimeError('never imported')\n")
    (folder / "empty-folder").mkdir()
    return folder


@pytest.fixture
def env(monkeypatch, tmp_path, folder):
    """The CLI's environment: its own database and data folder, the plugins folder, analytics disabled."""
    for name in ("DATABASE_URL", "DATA_DIR", "PLUGINS_DIR", "DISABLE_PLUGINS"):
        monkeypatch.delenv(f"BEFFROI_{name}", raising=False)
    monkeypatch.setenv("BEFFROI_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("BEFFROI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BEFFROI_PLUGINS_DIR", str(folder))
    monkeypatch.setenv("BEFFROI_DISABLE_PLUGINS", "analytics, analytcs")


def test_plugins_lists_sources_failures_with_their_line_and_disabled_ones(env, folder, capsys):
    assert main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    plugins = {p["name"]: p for p in listing["plugins"]}
    assert plugins["good"] | {"triggers": [], "connection_types": [], "services": []} == {
        "name": "good", "version": "0.3", "builtin": False, "origin": "plugins_dir",
        "source": str(folder / "good.py"), "triggers": [], "actions": ["good.hi"], "connection_types": [],
        "services": []}
    assert plugins["tidy"]["actions"] == ["tidy.noop"] and plugins["tidy"]["source"] == str(folder / "tidy")
    assert plugins["crm"]["origin"] == "builtin" and plugins["crm"]["source"] == "beffroi_plugins.crm"
    assert "analytics" not in plugins and not {"notes", "_private", "empty-folder"} & plugins.keys()

    failures = {f["name"]: f for f in listing["failures"]}
    assert failures.keys() == {"typo", "needs"}
    assert failures["typo"]["error"].startswith(f"{folder / 'typo.py'}, line 4: SyntaxError: ")
    assert failures["needs"]["error"] == (f"{folder / 'needs.py'}, line 3: ModuleNotFoundError: "
                                          "No module named 'libmissing_for_beffroi'")
    assert listing["disabled"] == [{"name": "analytics", "origin": "builtin", "source": "beffroi_plugins.analytics"}]
    assert listing["warnings"] == ["BEFFROI_DISABLE_PLUGINS names 'analytcs', which is no plugin here "
                                   "(did you mean 'analytics'?)"]

    assert main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert f"good 0.3  from plugins folder {folder / 'good.py'}\n  actions (1): good.hi\n" in text
    assert "builtins  from built-in beffroi_plugins.builtins\n" in text
    assert f"FAILED typo: {folder / 'typo.py'}, line 4: SyntaxError: " in text
    assert "DISABLED analytics (BEFFROI_DISABLE_PLUGINS): built-in beffroi_plugins.analytics" in text
    assert "WARNING BEFFROI_DISABLE_PLUGINS names 'analytcs'" in text


def test_validate_and_run_see_the_folder_plugins_and_not_the_disabled_ones(env, tmp_path, capsys, request):
    runs_log = logging.getLogger("beffroi.runs")
    request.addfinalizer(lambda level=runs_log.level: runs_log.setLevel(level))  # `run` quietens it for good
    recipe = tmp_path / "hi.yaml"
    recipe.write_text("name: hi\ntrigger: {uses: builtins.manual}\n"
                      "steps:\n  - {id: hi, uses: good.hi, with: {name: Ann}}\n")
    assert main(["run", str(recipe), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"][0]["output"] == {"text": "hi Ann"}

    tracked = tmp_path / "track.yaml"
    tracked.write_text("name: track\ntrigger: {uses: builtins.manual}\n"
                       "steps:\n  - {id: t, uses: analytics.track_event, with: {name: x}}\n")
    assert main(["validate", str(tracked)]) == 1
    assert "analytics.track_event" in capsys.readouterr().out


def test_the_api_catalog_carries_sources_failures_and_disabled_plugins(make_engine, folder):
    engine = make_engine(plugins_dir=folder, disable_plugins="analytics")
    assert engine.settings.disable_plugins == ["analytics"]
    _, token = engine.tokens.create("reader", "viewer")
    with TestClient(create_app(engine), base_url="http://beffroi.test") as client:
        catalog = client.get("/api/plugins", headers={"Authorization": f"Bearer {token}"}).json()
    plugins = {p["name"]: p for p in catalog["plugins"]}
    assert plugins["good"]["origin"] == "plugins_dir" and plugins["good"]["source"] == str(folder / "good.py")
    assert {f["name"] for f in catalog["failures"]} == {"typo", "needs"}
    assert catalog["disabled"] == [{"name": "analytics", "origin": "builtin", "source": "beffroi_plugins.analytics"}]
    assert "analytics.track_event" not in {a["key"] for a in catalog["actions"]}
    assert catalog["warnings"] == []


def test_a_plugins_dir_that_is_no_folder_is_a_failure_and_the_rest_loads(make_engine, tmp_path):
    engine = make_engine(plugins_dir=tmp_path / "nowhere")
    assert [f.error for f in engine.registry.failures] == [
        f"BEFFROI_PLUGINS_DIR: {tmp_path / 'nowhere'} is not a folder"]
    assert "data.set" in engine.registry.actions


def test_two_engines_load_the_same_folder_each_on_its_own(make_engine, folder):
    first, second = make_engine(plugins_dir=folder), make_engine(plugins_dir=folder)
    assert first.registry.actions["good.hi"] is not second.registry.actions["good.hi"]
    assert first.registry.plugins["good"].source == second.registry.plugins["good"].source
