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


def test_the_outbox_flagship_runs_with_no_account_anywhere_on_a_fresh_install(make_engine):
    from beffroi import outbox

    engine = make_engine()  # no contact, no list: the recipe's demo reader makes the "press" list
    recipe = engine.validate(load_file(Path(__file__).parent.parent / "recipes" / "blog-to-outbox.yaml"))
    event = {"id": "p1", "title": "Marché de Noël", "url": "https://www.ville.example/noel", "summary": "<p>Dès samedi.</p>"}
    run = engine.run_recipe(recipe, event)
    assert run["status"] == "succeeded", run
    assert run["steps"][0]["output"]["results"][0]["outbox"] is True
    items, total = outbox.items(engine.db)
    assert total == 2 and {i["channel"] for i in items} == {"smms", "email"}
    social = next(i for i in items if i["channel"] == "smms")["payload"]
    assert "Marché de Noël https://www.ville.example/noel?utm_source=social" in str(social)
    mail = next(i for i in items if i["channel"] == "email")["payload"]
    assert "Bonjour Lecteur" in str(mail) and "lecteur.demo@ville.example" in str(mail)
    again = engine.run_recipe(recipe, {**event, "id": "p2"})  # the demo steps are harmless the second time
    assert again["status"] == "succeeded" and again["steps"][3]["output"]["sent"] == 1
