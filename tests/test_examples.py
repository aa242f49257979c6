"""Every example recipe in recipes/ validates and previews with its sample event, sending nothing; the manual one
and the outbox flagship run."""
from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from beffroi.recipes import load_file

EXAMPLES = sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates(make_engine, path):
    make_engine().validate(load_file(path), str(path))


class Listener:
    """A TCP port on 127.0.0.1 that counts the connections made to it (and closes them)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


def connections_to(listener: Listener) -> dict[str, tuple[str, dict]]:
    """Every connection an example names, of the type it stands for, pointing at the listener."""
    return {
        "city-mastodon": ("mastodon", {"base_url": listener.url, "access_token": "tok-city"}),
        "city-bluesky": ("bluesky", {"service": listener.url, "handle": "city.bsky.social", "app_password": "p-1234"}),
        "city-smtp": ("smtp", {"host": "127.0.0.1", "port": listener.port, "security": "none",
                               "from_address": "communication@ville.example"}),
        "city-matomo": ("matomo", {"base_url": listener.url, "site_id": 1}),
    }


def named_connections(data: dict) -> set[str]:
    names = {data["trigger"].get("connection")}
    for step in data["steps"]:
        given = step.get("connection")
        names.update(given if isinstance(given, list) else [given])
    return names - {None}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_previews_with_its_sample_event_and_sends_nothing(make_engine, path):
    listener = Listener()
    try:
        # Loopback allowed: a step that did reach out in a dry run would connect, and be counted.
        engine = make_engine(allowed_networks=["127.0.0.0/8"])
        known = connections_to(listener)
        data = load_file(path)
        for name in named_connections(data):
            assert name in known, f"{path.name} names connection {name!r}: add it to connections_to()"
            engine.connections.save(name, *known[name])
        recipe = engine.validate(data, str(path))
        run = engine.run_recipe(recipe, engine.sample_event(recipe), dry_run=True)
        assert run["status"] == "succeeded", [(s["id"], s["error"]) for s in run["steps"] if s["error"]]
        assert listener.connections == 0
    finally:
        listener.close()


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
    event = {"id": "p1", "title": "Marché de Noël", "url": "https://www.ville.example/noel",
             "summary": "<p>Dès samedi.</p>"}
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
