"""`beffroi connection …` driven through beffroi.cli.main, stdin fed as a script or a person would feed it, the
check run against a local Mastodon server."""
from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi.testclient import TestClient

from beffroi.api.app import create_app
from beffroi.cli import main

from .servers.mastodon import MastodonServer

SECRET = "s3cr3t-From-Stdin-4217"
OTHER_SECRET = "another-S3cret-9931"


@pytest.fixture
def mastodon():
    with MastodonServer({SECRET: "city"}) as server:
        yield server


@pytest.fixture
def env(monkeypatch, tmp_path):
    """The CLI's environment: its own SQLite file and data folder; outbound calls may reach 127.0.0.0/8."""
    for name in ("SECRET_KEY", "REDIS_URL", "PLUGINS_DIR", "DISABLE_PLUGINS"):
        monkeypatch.delenv(f"BEFFROI_{name}", raising=False)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("BEFFROI_DATABASE_URL", url)
    monkeypatch.setenv("BEFFROI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BEFFROI_ALLOWED_NETWORKS", "127.0.0.0/8")
    return url


@pytest.fixture
def beffroi(env, monkeypatch, capsys):
    """`beffroi(*args, stdin="…")` runs the command in-process: (exit code, stdout, stderr)."""
    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err
    return run


def test_create_list_show_test_and_delete_a_mastodon_account(beffroi, mastodon):
    code, out, err = beffroi("connection", "create", "city-mastodon", "--type", "mastodon",
                             "--field", f"base_url={mastodon.url}", "--field", "max_characters=500",
                             stdin=SECRET + "\n")
    assert (code, err) == (0, "")
    assert "connection 'city-mastodon' (mastodon, smms) created; secrets stored: access_token" in out

    code, out, _ = beffroi("connection", "list")
    assert code == 0
    header, line = out.splitlines()
    assert header.split()[:4] == ["NAME", "TYPE", "TOOL", "TYPE"]
    assert line.split()[:3] == ["city-mastodon", "mastodon", "smms"]
    listing = json.loads(beffroi("connection", "list", "--json")[1])
    assert [(c["name"], c["type"], c["tool_type"], c["secrets"]) for c in listing] == [
        ("city-mastodon", "mastodon", "smms", {"access_token": True})]
    assert listing[0]["created_at"] and listing[0]["updated_at"]

    code, out, _ = beffroi("connection", "show", "city-mastodon")
    assert code == 0
    assert f"  base_url: {mastodon.url}\n  max_characters: 500\n  access_token: ********\n" in out
    shown = json.loads(beffroi("connection", "show", "city-mastodon", "--json")[1])
    assert shown["config"] == {"base_url": mastodon.url, "max_characters": 500}

    code, out, _ = beffroi("connection", "test", "city-mastodon")
    assert (code, out) == (0, f"✓ city-mastodon works: signed in on {mastodon.url} as @city\n")
    assert json.loads(beffroi("connection", "test", "city-mastodon", "--json")[1]) == {
        "name": "city-mastodon", "ok": True, "message": f"signed in on {mastodon.url} as @city"}

    assert beffroi("connection", "delete", "city-mastodon", stdin="n\n")[:2] == (
        1, "Delete the connection 'city-mastodon' (mastodon)? Recipes that name it stop working. [y/N] not deleted\n")
    assert beffroi("connection", "delete", "city-mastodon", stdin="")[0] == 1  # no answer is no
    assert beffroi("connection", "delete", "city-mastodon", stdin="y\n")[0] == 0
    assert beffroi("connection", "list")[1] == "no connections (beffroi connection create NAME --type T creates one)\n"
    assert beffroi("connection", "delete", "city-mastodon", "--yes")[::2] == (
        1, "error: no connection named 'city-mastodon'\n")


def test_a_refused_login_exits_1_saying_why(beffroi, mastodon):
    beffroi("connection", "create", "old-token", "--type", "mastodon", "--field", f"base_url={mastodon.url}",
            stdin=OTHER_SECRET + "\n")
    code, out, _ = beffroi("connection", "test", "old-token")
    assert code == 1
    assert out == ("✗ old-token does not work: old-token: Mastodon refused the credentials "
                   "(The access token is invalid)\n")
    code, out, _ = beffroi("connection", "test", "nowhere")
    assert code == 1


def test_a_type_without_a_check_exits_1_saying_it_was_not_checked(beffroi):
    assert beffroi("connection", "create", "outbox", "--type", "smms_outbox")[0] == 0
    assert beffroi("connection", "test", "outbox")[:2] == (
        1, "– outbox was not checked: connections of type 'smms_outbox' cannot be tested\n")


def test_a_secret_never_shows_in_any_output_or_log(beffroi, mastodon, caplog):
    caplog.set_level(logging.DEBUG)
    seen = []

    def run(*args, stdin=""):
        code, out, err = beffroi(*args, stdin=stdin)
        seen.append(out + err)
        return code
    # failures first: a bad setting beside the secret, a secret that is too long for nothing, a JSON answer
    assert run("connection", "create", "city", "--type", "mastodon", "--field", "base_url=nope",
               stdin=SECRET + "\n") == 2
    assert run("connection", "create", "city", "--type", "smtp", "--field", "host=127.0.0.1",
               "--field", "port=99999", "--field", "username=city", stdin=SECRET + "\n") == 2
    assert run("connection", "create", "city", "--type", "mastodon", "--field", f"base_url={mastodon.url}",
               "--json", stdin=SECRET + "\n") == 0
    assert run("connection", "create", "city", "--type", "mastodon", "--field", f"base_url={mastodon.url}",
               stdin=SECRET + "\n") == 1  # exists
    assert run("connection", "create", "wrong", "--type", "mastodon", "--field", f"base_url={mastodon.url}",
               stdin=OTHER_SECRET + "\n") == 0
    for args in (["list"], ["list", "--json"], ["show", "city"], ["show", "city", "--json"], ["test", "city"],
                 ["test", "city", "--json"], ["test", "wrong"], ["test", "wrong", "--json"], ["show", "wrong"]):
        run("connection", *args)
    assert "✓ city works" in seen[-5] and "✗ wrong does not work" in seen[-3]
    for text in [*seen, caplog.text]:
        assert SECRET not in text and OTHER_SECRET not in text


def test_a_bad_setting_is_the_same_located_error_as_the_api_and_exits_2(beffroi, env, make_engine):
    code, out, err = beffroi("connection", "create", "city-smtp", "--type", "smtp", "--field", "host=mail.example",
                             "--field", "port=99999", "--field", "security=startls", "--field", "username=city",
                             stdin="pw\n")
    assert (code, out) == (2, "")
    engine = make_engine(env, migrate=False)
    _, token = engine.tokens.create("admin", "admin")
    with TestClient(create_app(engine), base_url="http://beffroi.test") as client:
        answer = client.post("/api/connections", headers={"Authorization": f"Bearer {token}"},
                             json={"name": "city-smtp", "type": "smtp", "config": {
                                 "host": "mail.example", "port": 99999, "security": "startls", "username": "city",
                                 "password": "pw"}})
        assert answer.status_code == 422
        assert err == f"error: {answer.json()['detail']}\n"
        assert "config.port: " in err and "config.security: must be one of: " in err
        bad_name = client.post("/api/connections", headers={"Authorization": f"Bearer {token}"},
                               json={"name": "City SMTP", "type": "smtp", "config": {}})
    code, _, err = beffroi("connection", "create", "City SMTP", "--type", "smtp")
    assert (code, err) == (2, f"error: {bad_name.json()['detail']}\n")
    assert err.startswith("error: name: may hold only lowercase letters")


def test_refusals_say_what_to_do(beffroi):
    code, _, err = beffroi("connection", "create", "city", "--type", "mastodon", "--field", "access_token=tok")
    assert code == 2 and "access_token holds a secret; leave it out" in err and "tok\n" not in err
    code, _, err = beffroi("connection", "create", "city", "--type", "mastdon")
    assert code == 2 and "unknown connection type 'mastdon' (did you mean 'mastodon'?)" in err
    code, _, err = beffroi("connection", "create", "city", "--type", "mastodon", "--field", "base_url")
    assert code == 2 and "--field takes KEY=VALUE" in err
    code, _, err = beffroi("connection", "create", "city", "--type", "mastodon",
                           "--field", "base_url=https://social.example.org")  # stdin ends before the token
    assert code == 2
    assert err == ("error: config.access_token: required field is missing\n"
                   "(secrets are read from stdin, one line each, in this order: access_token)\n")
    code, _, err = beffroi("connection", "create", "city", "--type", "smtp", "--secret", "token")
    assert code == 2 and "--secret token: connections of type smtp have no such secret; theirs: password" in err
    assert beffroi("connection", "create", "--type", "smtp", "--list-secrets")[:2] == (0, "password\n")


def test_settings_keep_their_types_json_config_and_replace(beffroi, tmp_path):
    config = tmp_path / "smtp.json"
    config.write_text(json.dumps({"host": "mail.example", "password": "from-the-file", "timeout": 5,
                                      "from_address": "communication@ville.example"}))
    code, out, err = beffroi("connection", "create", "city-smtp", "--type", "smtp", "--json-config", str(config),
                             "--field", "port=2525", "--field", "username=0123", "--field", "from_name=true",
                             "--json")
    assert (code, err) == (0, "")
    stored = json.loads(out)
    assert stored["config"]["port"] == 2525 and stored["config"]["timeout"] == 5
    assert stored["config"]["username"] == "0123" and stored["config"]["from_name"] == "true"  # text stays text
    assert stored["secrets"] == {"password": True}

    code, _, err = beffroi("connection", "create", "city-smtp", "--type", "smtp", "--field", "host=mail.example")
    assert (code, err) == (1, "error: a connection named 'city-smtp' already exists (--replace replaces it)\n")
    code, out, _ = beffroi("connection", "create", "city-smtp", "--type", "smtp", "--field", "host=relay.example",
                           "--field", "from_address=communication@ville.example", "--secret", "password", "--replace",
                           stdin="\n")  # an empty line leaves it out
    assert code == 0 and "connection 'city-smtp' (smtp, email) saved" in out
    shown = json.loads(beffroi("connection", "show", "city-smtp", "--json")[1])
    assert shown["config"]["host"] == "relay.example" and shown["secrets"] == {"password": False}

    bad = tmp_path / "bad.json"
    bad.write_text('{"host": "x", "password": "hunter22",')
    code, _, err = beffroi("connection", "create", "other", "--type", "smtp", "--json-config", str(bad))
    assert code == 2 and "is not valid JSON" in err and "hunter22" not in err


def test_secrets_are_asked_without_echo_on_a_terminal(beffroi, monkeypatch, mastodon):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    prompts = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or SECRET)
    monkeypatch.setattr("sys.stdin", Terminal(""))
    assert main(["connection", "create", "city", "--type", "mastodon", "--field", f"base_url={mastodon.url}"]) == 0
    assert prompts == ["access_token (secret, not shown; Enter to leave it out): "]
    assert beffroi("connection", "test", "city")[0] == 0
