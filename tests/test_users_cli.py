"""`beffroi user …` as a person runs it: passwords from standard input (never the command line), never printed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from beffroi import Engine, Settings

BEFFROI = Path(sys.executable).with_name("beffroi")
SECRET = "a long secret sentence 42"


@pytest.fixture
def user(tmp_path):
    """`user(*args, stdin="…")` runs `beffroi user ARGS…` on a SQLite file in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
    env.update(BEFFROI_DATABASE_URL=f"sqlite:///{tmp_path / 'users.db'}", BEFFROI_DATA_DIR=str(tmp_path / "data"),
               PYTHONIOENCODING="utf-8")

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        result = subprocess.run([str(BEFFROI), "user", *args], cwd=tmp_path, env=env, input=stdin, text=True,
                                capture_output=True, timeout=60, encoding="utf-8")
        assert "Traceback" not in result.stderr, result.stderr
        return result

    run.url = env["BEFFROI_DATABASE_URL"]
    return run


def test_create_list_password_and_delete(user, tmp_path):
    created = user("create", "Ann@Example.org", "--role", "admin", "--name", "Ann Peeters", stdin=SECRET + "\n")
    assert created.returncode == 0, created.stderr
    assert "account ann@example.org (admin) created" in created.stdout
    listed = user("list")
    assert "ann@example.org" in listed.stdout and "admin" in listed.stdout and "Ann Peeters" in listed.stdout
    assert "never" in listed.stdout
    engine = Engine(Settings(_env_file=None, database_url=user.url, data_dir=tmp_path / "data"),
                    load_entry_points=False)
    try:
        assert engine.users.verify("ann@example.org", SECRET) is not None
        changed = user("password", "ann@example.org", stdin="another long sentence 7\n")
        assert changed.returncode == 0 and "password of ann@example.org changed" in changed.stdout
        assert engine.users.verify("ann@example.org", SECRET) is None
        assert engine.users.verify("ann@example.org", "another long sentence 7") is not None
    finally:
        engine.close()
    refused = user("delete", "ann@example.org")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    last = user("delete", "ann@example.org", "--yes")  # the only admin: no one could manage the accounts after
    assert last.returncode == 1 and "ann@example.org is the last admin" in last.stderr
    assert user("create", "bob@example.org", "--role", "admin", stdin=SECRET + "\n").returncode == 0
    assert user("delete", "ann@example.org", "--yes").stdout.strip() == "account ann@example.org deleted"
    assert "ann@example.org" not in user("list").stdout
    missing = user("delete", "ann@example.org", "--yes")
    assert missing.returncode == 1 and "no account for ann@example.org" in missing.stderr


def test_a_short_password_is_refused_plainly(user):
    result = user("create", "bob@example.org", stdin="too short\n")
    assert result.returncode == 1
    assert "the password must have at least 12 characters; nothing was changed" in result.stderr
    assert "too short" not in result.stdout + result.stderr
    assert "no accounts" in user("list").stdout


def test_bad_role_address_and_duplicate_are_refused(user):
    assert user("create", "bob@example.org", "--role", "boss", stdin=SECRET).returncode == 2
    assert "is not an e-mail address" in user("create", "bob", stdin=SECRET).stderr
    assert user("create", "bob@example.org", stdin=SECRET).returncode == 0  # editor by default
    again = user("create", "BOB@example.org", stdin=SECRET)
    assert again.returncode == 1 and "already an account for bob@example.org" in again.stderr
    assert "editor" in user("list").stdout


def test_the_password_is_never_an_argument_nor_printed(user):
    parsed = user("create", "eve@example.org", SECRET, stdin=SECRET)
    assert parsed.returncode == 2  # no positional place for a password
    result = user("create", "eve@example.org", stdin=SECRET)
    assert SECRET not in result.stdout + result.stderr
    assert "standard input" in user("--help").stdout
