"""Secrets anywhere in a connection's config (nested models, optional, bytes, lists, dicts) are stored encrypted,
given back whole to actions, never shown by the API, and kept when an update leaves them out."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, SecretBytes, SecretStr
from sqlalchemy import select, text

from beffroi import ActionSpec, ConnectionSpec, hookimpl
from beffroi.api import create_app
from beffroi.connections import ConnectionProblem, secret_fields
from beffroi.store.models import ConnectionRow

from .helpers import finished, recipe


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Login(Strict):
    user: str
    password: SecretStr


class Account(Strict):
    handle: str
    token: SecretStr | None = None


class NestedConfig(Strict):
    base_url: str
    login: Login
    backup: Login | None = None
    accounts: list[Account] = []
    headers: dict[str, SecretStr] = {}
    signing_key: SecretBytes | None = None
    spare_tokens: list[SecretStr] = []


class Nothing(Strict):
    pass


SECRETS = ["pw-login-9137", "pw-backup-5521", "tok-acct-one-77", "hdr-value-4410", "bytes-key-8800", "spare-6612"]
CONFIG = {"base_url": "https://tool.example", "login": {"user": "comms", "password": SECRETS[0]},
          "backup": {"user": "it", "password": SECRETS[1]},
          "accounts": [{"handle": "one", "token": SECRETS[2]}, {"handle": "two"}],
          "headers": {"X-Api-Key": SECRETS[3]}, "signing_key": SECRETS[4], "spare_tokens": [SECRETS[5]]}


def seen(config: NestedConfig) -> list:
    """Every secret as the action sees it, in the order of SECRETS."""
    return [config.login.password.get_secret_value(), config.backup.password.get_secret_value(),
            config.accounts[0].token.get_secret_value(), config.headers["X-Api-Key"].get_secret_value(),
            config.signing_key.get_secret_value().decode(), config.spare_tokens[0].get_secret_value()]


class NestedPlugin:
    """A connection type whose config nests secrets, and an action that reports what it received."""

    def __init__(self):
        self.received: list[list] = []

    def use(self, payload, ctx):
        self.received.append([*seen(ctx.connection.config), ctx.connection.config.accounts[1].token])
        return {"ok": True}

    @hookimpl
    def register_connections(self):
        yield ConnectionSpec(key="nested", tool_type="nestedtool", title="Nested", config_model=NestedConfig)

    @hookimpl
    def register_actions(self):
        yield ActionSpec(key="nested.use", title="Use", input_model=Nothing, run=self.use, connection_type="nestedtool")


@pytest.fixture
def plugin():
    return NestedPlugin()


@pytest.fixture
def engine(make_engine, database_url, plugin):
    return make_engine(database_url, plugins=[plugin])


def stored(engine) -> str:
    with engine.db.engine.connect() as conn:
        return repr(conn.execute(text("SELECT config, secrets FROM connections")).all())


def run_once(engine, plugin) -> list:
    engine.save_recipe(recipe({"id": "use", "uses": "nested.use", "connection": "acct"}, name="use-nested"))
    run_id = engine.trigger("use-nested", {})
    assert finished(engine, [run_id])[0]["status"] == "succeeded"
    return plugin.received[-1]


def test_secret_fields_finds_every_shape():
    assert secret_fields(NestedConfig) == {"login.password", "backup.password", "accounts[].token", "headers.*",
                                           "signing_key", "spare_tokens[]"}


def test_saved_nested_secrets_reach_the_action_and_stay_encrypted(engine, plugin):
    engine.connections.save("acct", "nested", CONFIG)
    assert not any(s in stored(engine) for s in SECRETS)
    assert "*****" not in stored(engine)
    assert run_once(engine, plugin) == [*SECRETS, None]


def test_api_never_shows_nested_secrets_and_an_update_keeps_them(engine, plugin):
    admin_token = engine.tokens.create("admin", "admin")[1]
    api = TestClient(create_app(engine), base_url="http://beffroi.test",
                     headers={"Authorization": f"Bearer {admin_token}"})
    created = api.post("/api/connections", json={"name": "acct", "type": "nested", "config": CONFIG})
    assert created.status_code == 201, created.text
    assert created.json()["secrets"] == {"login.password": True, "backup.password": True, "accounts[].token": True,
                                         "headers.*": True, "signing_key": True, "spare_tokens[]": True}
    changed = {"login": {"user": "press"}, "backup": {"user": "it2"},
               "accounts": [{"handle": "one-renamed"}, {"handle": "two"}], "headers": {}, "spare_tokens": [None]}
    updated = api.patch("/api/connections/acct", json={"config": changed})
    assert updated.status_code == 200, updated.text
    for answer in (created, updated, api.get("/api/connections"), api.get("/api/connections/acct")):
        assert not any(s in answer.text for s in SECRETS)
    assert updated.json()["config"]["login"] == {"user": "press"}
    assert run_once(engine, plugin) == [*SECRETS, None]
    assert not any(s in stored(engine) for s in SECRETS)


def test_a_secret_an_earlier_version_lost_asks_to_be_entered_again(engine):
    engine.connections.save("acct", "nested", CONFIG)
    with engine.db.session() as session:  # what earlier versions stored for a nested secret: its mask
        row = session.scalar(select(ConnectionRow))
        row.config = {**row.config, "login": {"user": "comms", "password": "**********"}}
    with pytest.raises(ConnectionProblem, match=r"its secret login\.password was lost .*: enter it again"):
        engine.connections.resolve(["acct"], None)
    with pytest.raises(ConnectionProblem,
                       match=re.escape("config.login.password: give the secret itself, not its mask")):
        engine.connections.save("acct", "nested", {**CONFIG, "login": {"user": "comms", "password": "**********"}})
    engine.connections.save("acct", "nested", CONFIG)
    assert seen(engine.connections.resolve(["acct"], None)[0].config) == SECRETS
