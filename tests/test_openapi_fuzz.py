"""Schemathesis against /openapi.json: every operation, with an admin token, examples drawn from the schema.

No answer may be a 5xx, and every answer must match what the document says of it (status, media type, body).
Derandomized: the same examples on every run. The app runs on a temporary SQLite file; nothing it does may leave
the machine (see `loopback_only`): a recipe or a connection made up by the fuzzer could name any host.
"""
from __future__ import annotations

import ipaddress
import socket

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from beffroi.api import create_app
from beffroi.engine import Engine
from beffroi.settings import Settings

from .conftest import make_settings

EXAMPLES = 25  # per operation, in the fuzzing phase (the coverage and example phases add their own)
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
refused: list[str] = []
answered: list[str] = []  # one entry per example sent


def _loopback(host) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="module")
def loopback_only():
    """No name resolution and no connection except to this machine, whatever a run or a connection test tries."""
    resolve, connect, connect_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host):
            refused.append(f"resolve {host}")
            raise socket.gaierror(socket.EAI_NONAME, "the fuzz test resolves no name off this machine")
        return resolve(host, *args, **kwargs)

    def guarded(method):
        def call(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
                refused.append(f"connect {address[0]}")
                raise OSError("the fuzz test connects nowhere off this machine")
            return method(self, address)
        return call

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        patch.setattr(socket.socket, "connect", guarded(connect))
        patch.setattr(socket.socket, "connect_ex", guarded(connect_ex))
        yield refused


class Forward:
    """The ASGI app the schema calls: the app of the running test module (installed by `fuzzed`)."""

    target = None

    async def __call__(self, scope, receive, send):
        await self.target(scope, receive, send)


def _document() -> dict:
    """The OpenAPI document, read at collection from an app on a database it never opens (nothing is written)."""
    engine = Engine(Settings(_env_file=None, database_url="sqlite://"), load_entry_points=False, migrate=False)
    try:
        return create_app(engine).openapi()
    finally:
        engine.close()


schema = schemathesis.openapi.from_dict(_document())
schema.app = forward = Forward()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, loopback_only):
    """The admin token of an app on a fresh SQLite file (outbound HTTP: the SSRF guard's defaults), served to
    the schema's calls."""
    tmp = tmp_path_factory.mktemp("fuzz")
    engine = Engine(make_settings(tmp, f"sqlite:///{tmp / 'beffroi.db'}"), load_entry_points=False)
    forward.target = app = create_app(engine)
    assert app.openapi() == schema.raw_schema, "the fuzzed document is the app's own"
    yield engine.tokens.create("fuzz", "admin")[1]
    forward.target = None
    engine.close()


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, fuzzed):
    answered.append(case.operation.label)
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzzed}"}, checks=CHECKS)


def test_the_fuzz_sent_a_few_hundred_examples():
    """Runs after the fuzz (file order): the examples covered every operation, a few hundred in all."""
    if not answered:
        pytest.skip("the fuzz did not run")
    assert set(answered) == {operation.ok().label for operation in schema.get_all_operations()}
    print(f"{len(answered)} examples over {len(set(answered))} operations; refused off this machine: {refused}")
    assert len(answered) >= 200


def test_the_fuzz_reaches_nothing_off_this_machine(loopback_only):
    """The guard itself: a name or an address elsewhere is refused before any packet leaves."""
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.org", 443)
    with socket.socket() as sock, pytest.raises(OSError, match="off this machine"):
        sock.connect(("192.0.2.1", 80))
