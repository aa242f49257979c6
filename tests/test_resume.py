"""Durability against a real SIGKILL.

"An interrupted run (process killed mid-run) resumes at its first unfinished step when the engine next starts;
finished steps are not executed again." `beffroi run` is started as a subprocess, killed with SIGKILL while a
step is inside a request the local server holds open, and the run is then completed with `beffroi resume`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy.exc import SQLAlchemyError

from beffroi.runs import RunViews
from beffroi.store import Database

from .helpers import output_of, spawn, stop_all
from .servers.http_base import CountingServer

BEFFROI = Path(sys.executable).with_name("beffroi")
WAIT = 20  # seconds: the longest any single wait in these tests may take


@pytest.fixture
def server_factory():
    """Start CountingServers whose `blocking` paths hold a request open until `release` is set."""
    servers: list[CountingServer] = []

    def start(blocking: set[str]) -> CountingServer:
        server = CountingServer(blocking, hold=WAIT).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def beffroi(tmp_path, database_url):
    """Start (`start`) or run to completion (`run`) the beffroi command on the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
    env.update(BEFFROI_DATABASE_URL=database_url, BEFFROI_DATA_DIR=str(tmp_path / "data"),
               BEFFROI_ALLOWED_NETWORKS="127.0.0.0/8", PYTHONIOENCODING="utf-8")
    started: list[subprocess.Popen] = []

    class Cli:
        url = database_url

        @staticmethod
        def start(*args: str) -> subprocess.Popen:
            proc = spawn([str(BEFFROI), *args], tmp_path / f"beffroi-{len(started)}.log", cwd=tmp_path, env=env)
            started.append(proc)
            return proc

        @staticmethod
        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([str(BEFFROI), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  encoding="utf-8", timeout=60)

    yield Cli
    stop_all(started)


@pytest.fixture
def runs(beffroi):
    """Read-only views of the runs in the test database (what another process sees)."""
    db = Database(beffroi.url)
    yield RunViews(db)
    db.dispose()


def wait_for(what: str, check, proc: subprocess.Popen):
    """Poll `check()` until it returns something truthy; fail (with the process output) on timeout or early exit."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            value = check()
        except SQLAlchemyError:  # tables not created yet
            value = None
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"beffroi exited ({proc.returncode}) before {what}:\n{output_of(proc)}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT}s waiting for {what}:\n{output_of(proc)}")
        time.sleep(0.05)


def the_run(runs: RunViews) -> dict | None:
    """The detail of the only run in the database."""
    found, total = runs.list()
    assert total <= 1
    return runs.detail(found[0]["id"]) if found else None


def steps_of(run: dict) -> dict[str, dict]:
    return {s["id"]: s for s in run["steps"]}


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)  # reaped: the pid is really gone, as after a crash
    assert proc.returncode == -signal.SIGKILL


def write_recipe(path: Path, name: str, steps: list[dict]) -> str:
    path.write_text(yaml.safe_dump({"name": name, "trigger": {"uses": "builtins.manual"}, "steps": steps}),
                    encoding="utf-8")
    return path.name


def test_killed_run_resumes_at_its_first_unfinished_step(beffroi, runs, server_factory, tmp_path):
    server = server_factory(blocking={"/slow"})
    recipe = write_recipe(tmp_path / "recipe.yaml", "killed-mid-run", [
        {"id": "first", "uses": "http.request", "with": {"method": "POST", "url": server.url + "/first"}},
        {"id": "wait", "uses": "http.request", "with": {"method": "GET", "url": server.url + "/slow"}},
        {"id": "last", "uses": "http.request", "with": {"method": "POST", "url": server.url + "/last"}},
    ])
    proc = beffroi.start("run", recipe, "--json")

    wait_for("the request of step `wait`", lambda: server.entered["/slow"].is_set(), proc)
    before = wait_for("`first` succeeded and `wait` running in the journal", lambda: (
        (run := the_run(runs)) and steps_of(run)["first"]["status"] == "succeeded"
        and steps_of(run)["wait"]["status"] == "running" and run), proc)
    kill(proc)

    run_id = before["id"]
    after_kill = runs.detail(run_id)
    assert after_kill["status"] == "running" and after_kill["finished_at"] is None
    assert {s["id"]: (s["status"], s["attempts"]) for s in after_kill["steps"]} == {
        "first": ("succeeded", 1), "wait": ("running", 1), "last": ("pending", 0)}
    assert (server.count("POST", "/first"), server.count("GET", "/slow"), server.count("POST", "/last")) == (1, 1, 0)

    server.release.set()  # the remote side answers at once from now on
    resumed = beffroi.run("resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert run_id in resumed.stdout and "Traceback" not in resumed.stderr

    final = the_run(runs)
    assert final["id"] == run_id  # the same run was continued, no new one was made
    assert final["status"] == "succeeded" and final["finished_at"] is not None
    steps = steps_of(final)
    assert {k: s["status"] for k, s in steps.items()} == {
        "first": "succeeded", "wait": "succeeded", "last": "succeeded"}
    assert steps["first"]["attempts"] == 1  # finished before the kill: not executed again
    assert steps["first"]["finished_at"] == after_kill["steps"][0]["finished_at"]
    assert steps["wait"]["attempts"] == 2  # interrupted: executed again (at least once)
    assert steps["last"]["attempts"] == 1 and steps["last"]["output"]["status"] == 200
    assert server.count("POST", "/first") == 1
    assert server.count("GET", "/slow") == 2
    assert server.count("POST", "/last") == 1
    assert server.keys["/first"] == [f"{run_id}:first"] and server.keys["/last"] == [f"{run_id}:last"]


def test_killed_loop_reexecutes_only_the_interrupted_item_with_the_same_key(beffroi, runs, server_factory, tmp_path):
    server = server_factory(blocking={"/item/2"})
    recipe = write_recipe(tmp_path / "loop.yaml", "killed-in-loop", [
        {"id": "each", "uses": "http.request", "for_each": [0, 1, 2, 3, 4],
         "with": {"method": "POST", "url": server.url + "/item/{{ item }}", "json": {"n": "{{ item }}"}}},
        {"id": "after", "uses": "data.set", "with": {"count": "{{ steps.each | length }}"}},
    ])
    proc = beffroi.start("run", recipe)

    wait_for("the request of item 2", lambda: server.entered["/item/2"].is_set(), proc)
    before = wait_for("the loop step running in the journal", lambda: (
        (run := the_run(runs)) and steps_of(run)["each"]["status"] == "running" and run), proc)
    kill(proc)

    run_id = before["id"]
    assert runs.detail(run_id)["status"] == "running"
    assert [server.count("POST", f"/item/{i}") for i in range(5)] == [1, 1, 1, 0, 0]

    server.release.set()
    resumed = beffroi.run("resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    final = the_run(runs)
    assert final["id"] == run_id and final["status"] == "succeeded"
    steps = steps_of(final)
    assert steps["each"]["status"] == "succeeded" and len(steps["each"]["output"]) == 5
    assert steps["after"]["output"] == {"count": 5}
    assert [server.count("POST", f"/item/{i}") for i in range(5)] == [1, 1, 2, 1, 1]
    # at-least-once, but the repeated request carries the same idempotency key, so the remote side can drop it
    assert server.keys["/item/2"] == [f"{run_id}:each:2", f"{run_id}:each:2"]
    assert [server.keys[f"/item/{i}"] for i in (0, 1, 3, 4)] == [[f"{run_id}:each:{i}"] for i in (0, 1, 3, 4)]
