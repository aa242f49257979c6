"""mypy passes on both packages (configured in pyproject.toml's [tool.mypy]), with their import names."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MYPY = Path(sys.executable).with_name("mypy")


@pytest.mark.skipif(not MYPY.exists(), reason="mypy is not installed next to this Python (pip install -e '.[test]')")
def test_mypy_passes_on_core_and_plugins() -> None:
    # The cache in the repo (.mypy_cache/, git-ignored) keeps a warm run at a few seconds instead of ~20 s cold.
    done = subprocess.run([str(MYPY), "--cache-dir", str(ROOT / ".mypy_cache")], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "MYPY_FORCE_COLOR": "0"})
    # mypy names the files through .mypy-packages/ (see pyproject.toml): show them where they are.
    output = (done.stdout + done.stderr).replace(".mypy-packages/beffroi_plugins/", "plugins/") \
                                        .replace(".mypy-packages/beffroi/", "core/")
    assert done.returncode == 0, output
