"""Helpers shared by the tests: a small test plugin whose actions record what they were called with (the outside
world they stand for), recipe data, waiting for runs to finish, and real processes started with their output in a
log file."""
from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from beffroi import ActionError, ActionSpec, ConnectionSpec, hookimpl


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = ""
    fail_times: int = 0
    sleep: float = 0.0
    retryable: bool = True


class TokenConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str
    token: SecretStr


class RecordingPlugin:
    """Actions `test.record` (a side effect), `test.upper` (pure, no preview), `test.echo_connection` (no preview);
    remembers every call."""

    def __init__(self):
        self.calls: list[dict] = []
        self.failures = Counter()
        self.lock = threading.Lock()

    def record(self, payload: Input, ctx):
        if payload.sleep:
            time.sleep(payload.sleep)
        with self.lock:
            if self.failures[ctx.idempotency_key] < payload.fail_times:
                self.failures[ctx.idempotency_key] += 1
                raise ActionError(f"remote refused {payload.text!r}", retryable=payload.retryable)
            self.calls.append({"text": payload.text, "key": ctx.idempotency_key, "attempt": ctx.attempt})
        return {"echo": payload.text, "key": ctx.idempotency_key}

    def upper(self, payload: Input, ctx):
        return {"text": payload.text.upper()}

    def echo_connection(self, payload: Input, ctx):
        conn = ctx.connection
        return {"account": conn.name, "base_url": conn.config.base_url,
                "token_seen": conn.config.token.get_secret_value(), "text": payload.text}

    @hookimpl
    def register_actions(self):
        yield ActionSpec(key="test.record", title="Record", input_model=Input, run=self.record,
                         preview=lambda p, ctx: {"would_record": p.text})
        yield ActionSpec(key="test.upper", title="Upper case", input_model=Input, run=self.upper, side_effects=False)
        yield ActionSpec(key="test.echo_connection", title="Echo", input_model=Input, run=self.echo_connection,
                         connection_type="testsocial")

    @hookimpl
    def register_connections(self):
        yield ConnectionSpec(key="testapi", tool_type="testsocial", title="Test API", config_model=TokenConfig)


def recipe(*steps, trigger="builtins.manual", name="test-recipe") -> dict:
    """Recipe data with a manual trigger and the given steps."""
    return {"name": name, "trigger": {"uses": trigger}, "steps": list(steps)}


def finished(engine, run_ids, limit: float = 20.0, every: float = 0.02) -> list[dict]:
    """The details of these runs once all have succeeded or failed (checked every `every` seconds)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        runs = [engine.runs.detail(r) for r in run_ids]
        if all(r["status"] in ("succeeded", "failed") for r in runs):
            return runs
        time.sleep(every)
    raise AssertionError("runs did not finish")


def all_finished(engine, count: int, limit: float = 10.0) -> list[dict]:
    """The runs (newest first) once there are `count` and every one has succeeded or failed."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        items, total = engine.runs.list()
        if total >= count and all(r["status"] in ("succeeded", "failed") for r in items):
            return items
        time.sleep(0.02)
    raise AssertionError(engine.runs.list())


def spawn(command: list[str], log_path: Path, *, cwd, env: dict[str, str]) -> subprocess.Popen:
    """Start a process whose stdout and stderr go to `log_path` (read them with `output_of`)."""
    log = open(log_path, "w+", encoding="utf-8")
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.log = log
    return proc


def output_of(proc: subprocess.Popen) -> str:
    """What a process started with `spawn` has written so far."""
    proc.log.flush()
    proc.log.seek(0)
    return proc.log.read()


def stop_all(procs: list[subprocess.Popen]) -> None:
    """Kill the processes started with `spawn` that still run, wait for each and close its log."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.log.close()
