"""Every example recipe in recipes/ validates, and the manual one runs."""
from __future__ import annotations

from pathlib import Path

import pytest

from beffroi.recipes import load_file

EXAMPLES = sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates(make_engine, path):
    make_engine().validate(load_file(path), str(path))


def test_hello_runs(make_engine):
    engine = make_engine()
    recipe = engine.validate(load_file(Path(__file__).parent.parent / "recipes" / "hello.yaml"))
    run = engine.run_recipe(recipe, {"name": "Anne-Sophie", "loud": True})
    assert run["status"] == "succeeded"
    assert run["steps"][1]["output"] == {"text": "HELLO ANNE-SOPHIE!"}
