"""`beffroi serve` as a real process: first start, webhooks that survive a crash, clean stop on SIGTERM."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text, update

from beffroi.journal import RUNS, STEPS
from beffroi.scheduler import STATE

BIN = Path(sys.executable).parent / "beffroi"
TOKEN = "serve-test-token-123"
WEBHOOK = f"""name: signup
trigger:
  uses: builtins.webhook
  with: {{check: token, secret: {TOKEN}, delivery_header: X-Delivery}}
steps:
  - id: shape
    uses: data.set
    with: {{email: "{{{{ trigger.email }}}}"}}
  - id: pause
    uses: flow.delay
    with: {{duration: "{{{{ trigger.pause | default('0s') }}}}"}}
  - id: done
    uses: data.set
    with: {{ok: true}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One `beffroi serve` process in a folder; restartable on the same database."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.output = folder / "serve.log"

    def start(self, *, defaults: bool = False, **settings: str) -> None:
        """Start it; `defaults`: on the embedded defaults, as the README's first command (data in ./.beffroi);
        `settings`: more BEFFROI_ variables (shutdown_grace="1": BEFFROI_SHUTDOWN_GRACE=1)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
        if not defaults:
            env.update(BEFFROI_DATABASE_URL=f"sqlite:///{self.folder / 'beffroi.db'}",
                       BEFFROI_DATA_DIR=str(self.folder / "data"))
        env.update({f"BEFFROI_{name.upper()}": value for name, value in settings.items()})
        self.process = subprocess.Popen([str(BIN), "serve", "--port", str(self.port)], cwd=self.folder, env=env,
                                        stdout=open(self.output, "a"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url("/api/health"), timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(self.output.read_text())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self, sig=signal.SIGTERM, timeout: float = 40) -> bool:
        """Send a signal; for SIGTERM, True when the server shut down gracefully (uvicorn re-raises the signal)."""
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        return code in (0, -sig) and "stopping: no new runs" in self.output.read_text()

    def token(self) -> str:
        for line in self.output.read_text().splitlines():
            if line.strip().startswith("bfr_"):
                return line.strip()
        raise AssertionError("no admin token printed")


@pytest.fixture
def server(tmp_path):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "signup.yaml").write_text(WEBHOOK)
    server = Server(tmp_path)
    yield server
    if server.process and server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def runs(server, token):
    return httpx.get(server.url("/api/runs?recipe=signup"), headers={"Authorization": f"Bearer {token}"}).json()


def run_detail(server, token, run_id):
    return httpx.get(server.url(f"/api/runs/{run_id}"), headers={"Authorization": f"Bearer {token}"}).json()


def wait_for(predicate, limit=30.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_first_start_imports_recipes_and_prints_a_token_once(server):
    server.start()
    token = server.token()
    answer = httpx.get(server.url("/api/recipes"), headers={"Authorization": f"Bearer {token}"})
    assert [r["name"] for r in answer.json()] == ["signup"]
    assert "`beffroi user create EMAIL --role admin`" in server.output.read_text()  # no one can sign in yet
    assert server.stop()
    server.start()
    assert server.output.read_text().count("bfr_") == 1  # not a second token, not a second import
    assert [r["version"] for r in httpx.get(server.url("/api/recipes"),
                                             headers={"Authorization": f"Bearer {token}"}).json()] == [1]


def test_accepted_delivery_produces_its_run_even_if_the_process_dies_right_after(server):
    server.start()
    token = server.token()
    answer = httpx.post(server.url("/hooks/signup"), json={"email": "a@example.org", "pause": "3s"},
                        headers={"X-Beffroi-Token": TOKEN, "X-Delivery": "d-1"})
    assert answer.status_code == 202
    server.stop(signal.SIGKILL)  # dies right after answering: the run is queued or mid-way
    server.start()
    run = wait_for(lambda: [r for r in runs(server, token)["items"] if r["status"] == "succeeded"])
    assert len(run) == 1 and runs(server, token)["total"] == 1
    again = httpx.post(server.url("/hooks/signup"), json={"email": "a@example.org"},
                       headers={"X-Beffroi-Token": TOKEN, "X-Delivery": "d-1"})
    assert again.status_code == 200 and again.json()["status"] == "duplicate"


def test_sigterm_stops_cleanly_and_leaves_runs_resumable(server):
    server.start(shutdown_grace="1")  # the wait for running runs (30 s by default), not waited out here
    token = server.token()
    for i in range(3):
        assert httpx.post(server.url("/hooks/signup"), json={"email": f"{i}@example.org", "pause": "60s"},
                          headers={"X-Beffroi-Token": TOKEN}).status_code == 202

    def pausing() -> list:  # every run in its 60 s pause (long enough to outlast the grace)
        items = runs(server, token)["items"]
        details = [run_detail(server, token, r["id"]) for r in items]
        return details if len(details) == 3 and all(d["steps"][1]["status"] == "running" for d in details) else []
    run_ids = [d["id"] for d in wait_for(pausing)]
    started = time.monotonic()
    assert server.stop(signal.SIGTERM, timeout=60)
    assert time.monotonic() - started < 45  # waits a bounded time for running runs, then leaves them resumable
    database = create_engine(f"sqlite:///{server.folder / 'beffroi.db'}")
    with database.begin() as conn:
        assert set(conn.execute(select(RUNS.c.status).where(RUNS.c.id.in_(run_ids))).scalars()) == {"running"}
        # as if the server had stayed down for 55 s: only the last seconds of each pause are left to wait
        for run_id, began in conn.execute(select(STEPS.c.run_id, STEPS.c.started_at).where(
                STEPS.c.run_id.in_(run_ids), STEPS.c.step_id == "pause")).all():
            conn.execute(update(STEPS).where(STEPS.c.run_id == run_id, STEPS.c.step_id == "pause")
                         .values(started_at=began - timedelta(seconds=55)))
    database.dispose()
    server.start()
    # the pauses restart where they were; all three runs finish, none lost, none doubled
    statuses = wait_for(lambda: (items := runs(server, token)["items"]) and
                        all(r["status"] == "succeeded" for r in items) and items, limit=90)
    assert len(statuses) == 3 and sorted(r["id"] for r in statuses) == sorted(run_ids)
    for run_id in run_ids:
        steps = {s["id"]: s for s in run_detail(server, token, run_id)["steps"]}
        assert steps["shape"]["attempts"] == 1 and steps["done"]["attempts"] == 1
        assert steps["pause"]["output"]["duration_seconds"] == 60
        assert steps["pause"]["output"]["waited_seconds"] <= 5  # the rest of the pause, not all of it again


def test_ctrl_c_stops_cleanly_with_exit_status_0(server):
    server.start()
    assert server.stop(signal.SIGINT)
    assert server.process.returncode == 0
    assert "Traceback" not in server.output.read_text()


def test_a_failed_run_is_one_warning_line_in_the_server_output(server):
    server.start()
    token = server.token()
    assert httpx.post(server.url("/hooks/signup"), json={"email": "a@example.org", "pause": "soon"},
                      headers={"X-Beffroi-Token": TOKEN}).status_code == 202
    run = wait_for(lambda: [r for r in runs(server, token)["items"] if r["status"] == "failed"])[0]
    lines = wait_for(lambda: [line for line in server.output.read_text().splitlines() if "failed at step" in line])
    assert len(lines) == 1
    assert lines[0].startswith(f"WARNING beffroi.runs: run {run['id']} of signup failed at step pause: "
                               "steps[1].with.duration")


README_POST = {"title": "Marché de Noël sur la Grand-Place", "url": "https://www.ville.example/noel",
               "summary": "Du 1er au 24 décembre, 60 chalets et une patinoire."}


def test_the_readme_flagship_works_verbatim_on_a_fresh_install(tmp_path):
    """README, "The flagship, with no account anywhere": serve on the defaults, drop a post, see the outbox, and
    open the unsubscribe link of the newsletter on this server (its port is not 8000)."""
    shutil.copytree(Path(__file__).parent.parent / "recipes", tmp_path / "recipes")
    server = Server(tmp_path)
    server.start(defaults=True)
    try:
        token = server.token()
        headers = {"Authorization": f"Bearer {token}"}
        database = create_engine(f"sqlite:///{tmp_path / 'beffroi.db'}")

        def seeded() -> bool:  # the first poll notes the posts already there (none) before ours is written
            with database.connect() as conn:
                return bool(conn.execute(text("SELECT seeded FROM trigger_state WHERE recipe_name = 'blog-to-outbox'"))
                            .scalar())
        wait_for(seeded)
        post = tmp_path / ".beffroi" / "posts" / "marche.json"
        post.write_text(json.dumps(README_POST), encoding="utf-8")
        written = time.time() - 10  # as if dropped 10 s ago: the feed skips files changed in the last 2 s
        os.utime(post, (written, written))
        with database.begin() as conn:  # the recipe polls every 30 s: as if they had passed (the next tick polls)
            conn.execute(update(STATE).where(STATE.c.recipe_name == "blog-to-outbox").values(
                next_poll_at=datetime.now(UTC) - timedelta(seconds=1)))

        def outbox() -> list:
            items = httpx.get(server.url("/api/outbox"), headers=headers).json()["items"]
            return items if len(items) >= 2 else []
        items = wait_for(outbox, limit=60)
        assert {i["channel"] for i in items} == {"smms", "email"}
        assert "Marché de Noël sur la Grand-Place https://www.ville.example/noel?utm_source=social" in json.dumps(
            items, ensure_ascii=False)
        mail = next(i["payload"] for i in items if i["channel"] == "email")
        link = re.search(r"<(http://[^>]+)>", mail["headers"]["List-Unsubscribe"])[1]
        assert link.startswith(server.url("/u/"))  # where this server listens (not 8000), BEFFROI_PUBLIC_URL unset
        page = httpx.get(link)
        assert page.status_code == 200 and "lecteur.demo" not in page.text and "l•••@ville.example" in page.text
        events = httpx.get(server.url("/api/analytics/events"), headers=headers).json()
        assert "post_published" in json.dumps(events)
        assert httpx.get(server.url("/api/runs?status=failed"), headers=headers).json()["total"] == 0
        database.dispose()
    finally:
        server.stop()


@pytest.mark.parametrize("host, link", [("127.0.0.1", "http://127.0.0.1:8123"), ("0.0.0.0", "http://127.0.0.1:8123"),
                                        ("::", "http://127.0.0.1:8123"), ("::1", "http://[::1]:8123"),
                                        ("beffroi.local", "http://beffroi.local:8123")])
def test_links_of_a_server_without_public_url_point_where_it_listens(host, link):
    from beffroi.settings import local_url

    assert local_url(host, 8123) == link
