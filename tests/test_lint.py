"""The code style of pyproject.toml's [tool.ruff]: `ruff check` passes on core, plugins, ui, tests and bench."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).with_name("ruff")
    assert ruff.exists(), f"{ruff} is missing: install the test extra (pip install -e '.[test]')"
    result = subprocess.run([str(ruff), "check", "--no-cache", "core", "plugins", "tests", "bench", "ui"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
