"""docs/plugins.md runs: its files make a plugin that installs, loads, passes its own tests and gets a connection.

Every fenced block of the guide is either a file (```python file=path: written, or appended when the path came
before) or a shell block (```bash: run in the plugin's folder, each must succeed). The one liberty taken:
`pip` in the shell blocks installs into a folder of this test (`--target`, no index, no dependencies: Beffroi
is already here) instead of the suite's own environment, which must not gain a plugin for the other tests.
Then every hook and every public name of `beffroi` must be documented in the guide's reference.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pluggy
import pytest

import beffroi
from beffroi import hookspecs

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
FENCE = re.compile(r"^```(?P<lang>[\w+-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
SECRET = "agenda-key-from-stdin-7f3a"  # the key the guide's shell block pipes into `connection create`


def blocks() -> list[tuple[str, str | None, str]]:
    """(language, file or None, body) of each fenced block, in order."""
    found = []
    for match in FENCE.finditer(GUIDE.read_text(encoding="utf-8")):
        file = re.search(r"\bfile=(\S+)", match["info"])
        found.append((match["lang"], file.group(1) if file else None, match["body"]))
    return found


def test_every_block_of_the_guide_is_executed():
    untested = [(lang, body.splitlines()[0] if body else "") for lang, file, body in blocks()
                if file is None and lang != "bash"]
    assert not untested, f"blocks neither written to a file nor run (give them file=… or make them bash): {untested}"
    assert len(blocks()) >= 8


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The plugin's folder, as the guide's file blocks make it."""
    root = tmp_path_factory.mktemp("beffroi-agenda")
    for _, file, body in blocks():
        if file is not None:
            path = root / file
            assert root in path.resolve().parents, f"the guide writes outside its folder: {file}"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.write(body)
    return root


def _pip_shim(folder: Path, site: Path) -> None:
    """`pip install ARGS` → an install into `site` from this machine only (the suite's environment stays as it is)."""
    try:
        import setuptools  # noqa: F401 - a build without isolation needs it here
        isolation = "--no-build-isolation --no-index"
    except ImportError:  # Python 3.12+ venvs have no setuptools: let pip fetch it from the registry
        isolation = ""
    shim = folder / "pip"
    shim.write_text(f'#!/bin/sh\n[ "$1" = install ] || {{ echo "this test only maps pip install" >&2; exit 2; }}\n'
                    f'shift\nexec {shlex.quote(sys.executable)} -m pip install -q --no-deps {isolation} '
                    f'--target {shlex.quote(str(site))} "$@"\n')
    shim.chmod(0o755)


def test_the_guide_plugin_installs_loads_and_passes_its_tests(project, tmp_path):
    shims, site = tmp_path / "shims", tmp_path / "site"
    shims.mkdir()
    _pip_shim(shims, site)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BEFFROI_", "PYTEST_"))}
    env.update(PATH=os.pathsep.join([str(shims), str(Path(sys.executable).parent), env.get("PATH", "")]),
               PYTHONPATH=str(site), AGENDA_KEY=SECRET, HOME=str(tmp_path))
    outputs = []
    for lang, file, body in blocks():
        if lang != "bash" or file is not None:
            continue
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=project, env=env, capture_output=True,
                              text=True, timeout=600)
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == 0, f"this block of the guide failed:\n{body}\n--- output ---\n{outputs[-1]}"
    everything = "\n".join(outputs)
    assert "passed" in everything and "failed" not in everything
    assert SECRET not in everything  # the secret read from stdin is never printed back
    assert (site / "beffroi_agenda").is_dir()


def _reference() -> str:
    return GUIDE.read_text(encoding="utf-8").split("\n## Reference\n", 1)[1]


def _documented() -> set[str]:
    """The names a definition term of the reference documents (`name` or `name(…)`, several per term)."""
    terms = [line for line in _reference().splitlines() if line.startswith("`")]
    return {name for term in terms for name in re.findall(r"`([A-Za-z_][\w]*)(?:\([^`]*\))?`", term)}


def test_every_public_name_is_documented():
    missing = sorted(set(beffroi.__all__) - _documented())
    assert not missing, f"public names of beffroi with no entry in the reference of docs/plugins.md: {missing}"


def test_every_hook_is_documented_and_the_reference_names_nothing_stale():
    pm = pluggy.PluginManager("beffroi")
    pm.add_hookspecs(hookspecs)
    hooks = {name for name in vars(pm.hook) if not name.startswith("_")}
    assert hooks, "no hookspec found"
    assert not sorted(hooks - _documented()), "hooks with no entry in the reference of docs/plugins.md"
    for name in hooks:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"hookspec {name} has no docstring"
    stale = sorted(_documented() - hooks - set(beffroi.__all__))
    assert not stale, f"the reference documents names that are neither hooks nor public: {stale}"
