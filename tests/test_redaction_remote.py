"""A remote server that echoes credentials back (basic auth, a token in a header, in the query, in its error body):
none of it reaches the run record, the deliveries table, the logs or a connection test's answer."""
from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, SecretStr
from sqlalchemy import text

from beffroi import ActionError, ActionSpec, ConnectionSpec, TriggerSpec, deliveries, hookimpl
from beffroi.api import create_app
from beffroi.errors import SampleUnavailable

from .helpers import recipe
from .servers.http_base import LocalServer, QuietHandler

PASSWORD = "p@ss:w/rd 8841+x"
TOKEN = "tok/EN+secret=4422"


class EchoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str
    user: str
    password: SecretStr
    token: SecretStr


class Call(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str


class EchoServer(LocalServer):
    """Echoes what it was sent (headers and query); `/fail…` answers 401, anything else 200."""

    def __init__(self):
        class Handler(QuietHandler):
            def do_GET(self) -> None:
                sent = {"authorization": self.headers.get("Authorization"), "x-token": self.headers.get("X-Token"),
                        "url": self.path}
                if self.path.startswith("/fail"):
                    self.reply(401, {"error": "bad credentials", "you_sent": sent})
                else:
                    self.reply(200, {"ok": True, "you_sent": sent})

        super().__init__(Handler)


def send(config: EchoConfig, ctx, path: str):
    """One request carrying the credentials the usual three ways."""
    basic = base64.b64encode(f"{config.user}:{config.password.get_secret_value()}".encode()).decode()
    token = config.token.get_secret_value()
    return ctx.http.get(f"{config.base_url}{path}", params={"token": token},
                        headers={"Authorization": f"Basic {basic}", "X-Token": token})


class EchoPlugin:
    """`echo.call` sends the credentials, logs and records the answer as a careless plugin would."""

    def call(self, payload: Call, ctx):
        response = send(ctx.connection.config, ctx, payload.path)
        if response.status_code >= 400:
            ctx.logger.warning("the server refused: %s", response.text)
            deliveries.record(ctx, ctx.idempotency_key, ctx.connection.name, status="failed", error=response.text)
            raise ActionError(f"the server answered {response.status_code}: {response.text}", retryable=False)
        ctx.logger.info("the server answered %s", response.text)
        answer = response.json()
        deliveries.record(ctx, ctx.idempotency_key, ctx.connection.name, result=answer)
        return answer

    def test(self, config: EchoConfig, ctx):
        response = send(config, ctx, "/fail" if config.user == "wrong" else "/me")
        if response.status_code >= 400:
            raise ActionError(f"refused: {response.text}")
        return response.text

    @hookimpl
    def register_connections(self):
        yield ConnectionSpec(key="echoapi", tool_type="echo", title="Echo", config_model=EchoConfig, test=self.test)

    def poll(self, config, cursor, ctx):
        response = send(ctx.connection.config, ctx, "/fail")
        raise ActionError(f"cannot read the source: {response.text}")

    @hookimpl
    def register_triggers(self):
        yield TriggerSpec(key="echo.polled", title="Polled", kind="poll", connection_type="echo", poll=self.poll)

    @hookimpl
    def register_actions(self):
        yield ActionSpec(key="echo.call", title="Call", input_model=Call, run=self.call, connection_type="echo")


@pytest.fixture
def server():
    with EchoServer() as server:
        yield server


@pytest.fixture
def engine(make_engine, database_url):
    return make_engine(database_url, plugins=[EchoPlugin()], allowed_networks=["127.0.0.0/8"])


@pytest.fixture
def api(engine):
    token = engine.tokens.create("admin", "admin")[1]
    return TestClient(create_app(engine), base_url="http://beffroi.test", headers={"Authorization": f"Bearer {token}"})


def leaks(found: str) -> list[str]:
    """The forms of the credentials that appear in found."""
    basic = base64.b64encode(f"comms:{PASSWORD}".encode()).decode()
    forms = [PASSWORD, TOKEN, basic, quote(TOKEN, safe=""), quote_plus(TOKEN), quote(PASSWORD, safe=""),
             json.dumps(PASSWORD)[1:-1]]
    return [form for form in forms if form in found]


def deliveries_table(engine) -> str:
    with engine.db.engine.connect() as conn:
        return repr(conn.execute(text("SELECT * FROM deliveries")).all())


@pytest.mark.parametrize("path", ["/fail", "/ok"])
def test_an_echoed_credential_reaches_no_record_or_log(engine, api, server, path, caplog):
    config = {"base_url": server.url, "user": "comms", "password": PASSWORD, "token": TOKEN}
    assert api.post("/api/connections", json={"name": "acct", "type": "echoapi", "config": config}).status_code == 201
    engine.save_recipe(recipe({"id": "call", "uses": "echo.call", "connection": "acct", "with": {"path": path}},
                              name="echo"))
    with caplog.at_level(logging.DEBUG):
        run = api.post("/api/recipes/echo/runs?wait=true", json={}).json()
        detail = api.get(f"/api/runs/{run['id']}")
    assert detail.json()["status"] == ("failed" if path == "/fail" else "succeeded")
    assert "you_sent" in detail.text and "you_sent" in deliveries_table(engine)  # the answer was recorded…
    assert "the server" in caplog.text
    assert leaks(detail.text) == []  # …without the credentials it echoed
    assert leaks(deliveries_table(engine)) == []
    assert leaks(caplog.text) == []


def test_a_connection_test_answer_shows_no_echoed_credential(api, server):
    for name, user in (("good", "comms"), ("bad", "wrong")):
        config = {"base_url": server.url, "user": user, "password": PASSWORD, "token": TOKEN}
        assert api.post("/api/connections", json={"name": name, "type": "echoapi", "config": config}).status_code == 201
    good, bad = (api.post(f"/api/connections/{name}/test").json() for name in ("good", "bad"))
    assert good["ok"] is True and "you_sent" in good["message"]
    assert bad["ok"] is False and "bad credentials" in bad["message"]
    assert leaks(json.dumps(good)) == [] and leaks(json.dumps(bad)) == []


def test_a_failed_poll_says_what_the_source_answered_without_the_credential(engine, api, server):
    config = {"base_url": server.url, "user": "comms", "password": PASSWORD, "token": TOKEN}
    assert api.post("/api/connections", json={"name": "acct", "type": "echoapi", "config": config}).status_code == 201
    polled = engine.validate({"name": "polled", "trigger": {"uses": "echo.polled", "connection": "acct"},
                              "steps": [{"id": "call", "uses": "echo.call", "connection": "acct",
                                         "with": {"path": "/ok"}}]})
    with pytest.raises(SampleUnavailable) as caught:
        engine.sample_event(polled, live=True)
    assert "bad credentials" in str(caught.value) and leaks(str(caught.value)) == []
