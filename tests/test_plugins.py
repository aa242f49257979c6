"""Plugins: entry-point discovery of installed distributions, isolated load failures, conflicts, hook docs.

Third-party distributions are simulated without pip: a package plus a `*.dist-info` folder (METADATA and
entry_points.txt) in tmp_path, put on the PYTHONPATH of a real `beffroi` subprocess.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import types
from typing import Protocol

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

import beffroi
from beffroi import ActionSpec, ContactDirectory, ServiceSpec, hookimpl, hookspecs
from beffroi.recipes import RecipeInvalid

from .helpers import recipe

HELLO = '''
from pydantic import BaseModel, ConfigDict
from beffroi import ActionSpec, hookimpl

class GreetInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str

@hookimpl
def register_actions():
    yield ActionSpec(key="hello.greet", title="Greet", input_model=GreetInput,
                     run=lambda payload, ctx: {"greeting": f"Hello {payload.name}"})
'''
BROKEN = 'raise ImportError("beffroi_broken needs libmissing")\n'
TYPO = '''
from beffroi import hookimpl

@hookimpl
def register_action():  # misspelled: the hook is register_actions
    return []
'''
RECIPE = """\
name: greet
trigger: {uses: builtins.manual}
steps:
  - {id: greet, uses: hello.greet, with: {name: "{{ trigger.name }}"}}
  - {id: shout, uses: data.set, with: {loud: "{{ steps.greet.greeting | upper }}"}}
"""


def install_dist(root, module: str, ep_name: str, version: str, source: str) -> None:
    """Lay out what pip would: the package and its dist-info with an entry point in the `beffroi` group."""
    (root / module).mkdir()
    (root / module / "__init__.py").write_text(textwrap.dedent(source))
    dist_name = module.replace("_", "-")
    info = root / f"{module}-{version}.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
    info.joinpath("entry_points.txt").write_text(f"[beffroi]\n{ep_name} = {module}\n")


def beffroi_cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """Run the real `beffroi` command in tmp_path, with tmp_path on its PYTHONPATH (where the dists are)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    env["BEFFROI_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    env["BEFFROI_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([sys.executable, "-m", "beffroi.cli", *args], check=False, cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def run_greet(tmp_path) -> dict:
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    proc = beffroi_cli(tmp_path, "run", "recipe.yaml", "--json", "--payload", '{"name": "Ann"}')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def hello_dist(tmp_path):
    install_dist(tmp_path, "beffroi_hello", "hello", "1.2.3", HELLO)
    return tmp_path


def test_installed_distribution_is_discovered_and_its_action_runs(hello_dist):
    result = run_greet(hello_dist)
    assert result["status"] == "succeeded"
    assert [(s["id"], s["status"], s["output"]) for s in result["steps"]] == [
        ("greet", "succeeded", {"greeting": "Hello Ann"}), ("shout", "succeeded", {"loud": "HELLO ANN"})]

    proc = beffroi_cli(hello_dist, "plugins", "--json")
    listing = json.loads(proc.stdout)
    hello = next(p for p in listing["plugins"] if p["name"] == "hello")
    assert (hello["version"], hello["builtin"], hello["actions"]) == ("1.2.3", False, ["hello.greet"])
    assert listing["failures"] == []


def test_broken_distributions_are_reported_and_the_rest_still_loads(hello_dist):
    install_dist(hello_dist, "beffroi_broken", "broken", "0.1.0", BROKEN)
    install_dist(hello_dist, "beffroi_typo", "typo", "0.2.0", TYPO)

    listing = json.loads(beffroi_cli(hello_dist, "plugins", "--json").stdout)
    failures = {f["name"]: f["error"] for f in listing["failures"]}
    assert failures.keys() == {"broken", "typo"}
    assert failures["broken"] == "ImportError: beffroi_broken needs libmissing"
    assert "register_action" in failures["typo"] and "unknown hook" in failures["typo"]
    loaded = {p["name"]: p for p in listing["plugins"]}
    assert {"builtins", "hello"} <= loaded.keys() and not {"broken", "typo"} & loaded.keys()
    assert "data.set" in loaded["builtins"]["actions"]

    text = beffroi_cli(hello_dist, "plugins")
    assert text.returncode == 0
    assert "FAILED broken: ImportError: beffroi_broken needs libmissing" in text.stdout
    assert "FAILED typo: " in text.stdout and "hello 1.2.3" in text.stdout

    assert run_greet(hello_dist)["status"] == "succeeded"


class Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


def plugin(name: str, *keys: str, returns=None, on_event=None) -> types.ModuleType:
    """An in-process plugin module named `name`: actions `keys` (each answering its owner), or `returns` as is."""
    module = types.ModuleType(name)

    def action(key):
        return ActionSpec(key=key, title=key, input_model=Empty, run=lambda payload, ctx: {"by": name})

    module.register_actions = hookimpl(lambda: returns if returns is not None else [action(k) for k in keys])
    if on_event:
        module.track_event = hookimpl(on_event)
    return module


def run_step(engine, uses: str, **with_) -> dict:
    data = recipe({"id": "s", "uses": uses, "with": with_})
    return engine.run_recipe(engine.validate(data), {})


def test_duplicate_action_is_rejected_naming_both_plugins(make_engine):
    engine = make_engine(plugins=[plugin("plug_a", "dup.do"), plugin("plug_b", "b.other", "dup.do")])
    [failure] = engine.registry.failures
    assert failure.name == "plug_b"
    assert "'dup.do'" in failure.error and "'plug_a'" in failure.error and "'plug_b'" in failure.error
    assert "plug_b" not in engine.registry.plugins
    assert "b.other" not in engine.registry.actions  # a rejected plugin registers nothing at all
    result = run_step(engine, "dup.do")
    assert result["status"] == "succeeded" and result["steps"][0]["output"] == {"by": "plug_a"}


def test_plugin_cannot_take_over_a_builtin_key(make_engine):
    engine = make_engine(plugins=[plugin("usurper", "data.set")])
    [failure] = engine.registry.failures
    assert failure.name == "usurper"
    assert "'data.set'" in failure.error and "'builtins'" in failure.error and "'usurper'" in failure.error
    assert run_step(engine, "data.set", x=1)["steps"][0]["output"] == {"x": 1}


@pytest.mark.parametrize("returns, culprit",
                         [([{"key": "bad.dict"}], "dict"), ({"key": "bad.dict"}, "dict"), (42, "int")],
                         ids=["list-of-dicts", "dict", "int"])
def test_register_hook_returning_non_specs_is_a_load_failure(make_engine, returns, culprit):
    engine = make_engine(plugins=[plugin("sloppy", returns=returns), plugin("fine", "fine.do")])
    [failure] = engine.registry.failures
    assert failure.name == "sloppy"
    assert "register_actions()" in failure.error and "ActionSpec" in failure.error
    assert culprit in failure.error
    assert "fine.do" in engine.registry.actions and "sloppy" not in engine.registry.plugins


def test_hookimpl_options_that_pluggy_allows_are_honoured(make_engine):
    calls = []

    class Renamed:
        @hookimpl(specname="register_actions")
        def my_actions(self):
            return [ActionSpec(key="renamed.do", title="Do", input_model=Empty, run=lambda payload, ctx: {"ok": 1})]

        @hookimpl
        def track_event(self):  # an impl may take fewer arguments than its spec
            calls.append(1)

    engine = make_engine(plugins=[Renamed()])
    assert engine.registry.plugins["Renamed"].actions == ["renamed.do"]
    assert run_step(engine, "renamed.do")["status"] == "succeeded" and len(calls) == 3


def test_every_hook_is_documented_with_an_example():
    hooks = {name: fn for name, fn in vars(hookspecs).items() if hasattr(fn, "beffroi_spec")}
    assert {"register_connections", "register_triggers", "register_actions", "track_event"} <= hooks.keys()
    undocumented = [name for name, fn in hooks.items() if "Example" not in (fn.__doc__ or "")]
    assert undocumented == []


def test_public_facade_exports_what_plugin_authors_need():
    from beffroi import errors, specs

    expected = {"hookimpl": hookspecs.hookimpl, "ActionSpec": specs.ActionSpec, "TriggerSpec": specs.TriggerSpec,
                "ConnectionSpec": specs.ConnectionSpec, "ActionContext": specs.ActionContext,
                "ActionError": errors.ActionError, "ServiceSpec": specs.ServiceSpec}
    assert {name: getattr(beffroi, name, None) for name in expected} == expected
    assert set(expected) <= set(beffroi.__all__)
    assert len(set(beffroi.__all__)) == len(beffroi.__all__)


def test_every_facade_name_is_a_documented_object():
    generic = ("Runtime representation", "dict() -> new empty dictionary")
    undocumented = [name for name in beffroi.__all__
                    if not (getattr(beffroi, name).__doc__ or "").strip()
                    or getattr(beffroi, name).__doc__.strip().startswith(generic)]
    assert undocumented == []


def test_importing_the_facade_stays_light():
    """Plugins import `beffroi` at start-up: the web, SQL, HTTP and template libraries load only when used."""
    code = "import sys, beffroi; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert not {"fastapi", "sqlalchemy", "httpx", "jinja2", "beffroi.engine", "beffroi.api"} & set(loaded)


class Directory:
    """A ContactDirectory of one empty list, for the service tests."""

    def languages(self):
        return ("fr",)

    def audience(self, ctx, list_name):
        return [], 0

    def unsubscribe_url(self, ctx, contact_id, list_name, language=None):
        return "https://example.org/u/x"

    def footer_texts(self, language):
        return "Se désinscrire", "Se désinscrire : %(url)s"


def services_plugin(name: str, provider) -> types.ModuleType:
    """An in-process plugin module providing `provider` as the ContactDirectory."""
    module = types.ModuleType(name)
    module.register_services = hookimpl(lambda: [ServiceSpec(protocol=ContactDirectory, provider=provider)])
    return module


def test_the_crm_plugin_provides_the_contact_directory_and_the_contact_book(make_engine):
    engine = make_engine()
    assert engine.registry.owners[("services", "ContactDirectory")] == "crm"
    assert engine.registry.plugins["crm"].services == ["ContactDirectory", "ContactBook"]
    assert isinstance(engine.registry.services["ContactDirectory"].provider, ContactDirectory)


def test_a_second_provider_of_a_service_is_refused_naming_both(make_engine):
    engine = make_engine(plugins=[services_plugin("other_crm", Directory())])
    [failure] = engine.registry.failures
    assert failure.name == "other_crm"
    assert "'ContactDirectory'" in failure.error and "'crm'" in failure.error and "'other_crm'" in failure.error


def test_a_provider_must_implement_its_protocol():
    with pytest.raises(ValidationError, match="object does not implement ContactDirectory"):
        ServiceSpec(protocol=ContactDirectory, provider=object())
    class Unchecked(Protocol):
        def languages(self): ...

    with pytest.raises(ValidationError, match="Unchecked is not a @runtime_checkable Protocol"):
        ServiceSpec(protocol=Unchecked, provider=Directory())


def test_each_engine_owns_its_plugins(make_engine, tmp_path):
    first = make_engine(f"sqlite:///{tmp_path / 'one.db'}", plugins=[plugin("only_one", "one.do")])
    second = make_engine(f"sqlite:///{tmp_path / 'two.db'}", plugins=[plugin("only_two", "two.do")])
    assert "one.do" in first.registry.actions and "two.do" not in first.registry.actions
    assert "two.do" in second.registry.actions and "one.do" not in second.registry.actions
    with pytest.raises(RecipeInvalid, match=re.escape("two.do")):
        first.validate(recipe({"id": "s", "uses": "two.do"}))
    assert run_step(second, "two.do")["steps"][0]["output"] == {"by": "only_two"}


def test_failing_track_event_observer_does_not_break_the_run(make_engine, caplog):
    seen = []

    def explode(event):
        raise RuntimeError("observer down")

    engine = make_engine(plugins=[plugin("grumpy", on_event=explode),
                                  plugin("watcher", on_event=lambda event: seen.append(event["type"]))])
    assert engine.registry.failures == []
    result = run_step(engine, "data.set", x=1)
    assert result["status"] == "succeeded" and result["steps"][0]["output"] == {"x": 1}
    assert seen == ["run.started", "step.finished", "run.finished"]  # later observers still hear every event
    assert "plugin grumpy failed in track_event" in caplog.text
