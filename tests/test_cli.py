"""The `beffroi` command as a user runs it: a real subprocess, a SQLite file and a data folder in tmp_path."""
from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

BEFFROI = Path(sys.executable).with_name("beffroi")
TIMEOUT = 60


def write_recipe(path: Path, *steps: dict, name: str = "cli-recipe") -> Path:
    path.write_text(yaml.safe_dump({"name": name, "trigger": {"uses": "builtins.manual"}, "steps": list(steps)},
                                   sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def cli(tmp_path, db_url):
    """`cli(*args)` runs `beffroi ARGS…` in tmp_path with an isolated database and data folder and returns the
    CompletedProcess; `cli.many([args…], [args…])` runs independent commands side by side (a command given as
    `([args…], {variables})` with its own environment variables besides `env`)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
    base.update(BEFFROI_DATABASE_URL=db_url, BEFFROI_DATA_DIR=str(tmp_path / "data"), PYTHONIOENCODING="utf-8")
    assert BEFFROI.exists(), f"console script not installed at {BEFFROI}"

    def many(*commands: list[str] | tuple[list[str], dict],
             env: dict | None = None) -> list[subprocess.CompletedProcess]:
        commands = [command if isinstance(command, tuple) else (command, {}) for command in commands]
        procs = [subprocess.Popen([str(BEFFROI), *args], cwd=tmp_path, env={**base, **(env or {}), **own}, text=True,
                                  encoding="utf-8", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for args, own in commands]
        commands = [args for args, _ in commands]
        results = []
        try:
            for args, proc in zip(commands, procs):
                stdout, stderr = proc.communicate(timeout=TIMEOUT)
                results.append(subprocess.CompletedProcess(args, proc.returncode, stdout, stderr))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return results

    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return many(list(args), env=env)[0]

    run.many = many
    return run


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def one_json(result: subprocess.CompletedProcess) -> dict:
    """stdout is exactly one JSON object (nothing before or after it)."""
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


@pytest.fixture
def read_engine(make_engine, db_url):
    """An engine on the CLI's database, for reading what the CLI recorded."""
    return lambda: make_engine(db_url, migrate=False)


@pytest.fixture
def runs_recorded(tmp_path, read_engine):
    """How many runs the CLI's database holds (none when the CLI never created it)."""
    return lambda: read_engine().runs.list()[1] if (tmp_path / "cli.db").exists() else 0


@pytest.fixture
def http_server():
    """A local HTTP server answering JSON; `requests` lists (method, path, headers, body) of each request seen."""
    requests: list[tuple[str, str, dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            requests.append((self.command, self.path, dict(self.headers), body))
            data = json.dumps({"ok": True, "path": self.path, "got": json.loads(body) if body else None}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.requests = requests
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- validate ------------------------------------------------------------------------------------

def test_validate_valid_files_prints_one_ok_line_each(cli, tmp_path):
    write_recipe(tmp_path / "one.yaml", {"id": "a", "uses": "data.set", "with": {"x": 1}})
    write_recipe(tmp_path / "two.yaml", {"id": "a", "uses": "data.set", "with": {"x": "{{ trigger.x }}"}},
                 {"id": "b", "uses": "flow.delay", "with": {"duration": "1s"}}, name="two")
    result = cli("validate", "one.yaml", "two.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("one.yaml: OK") and lines[1].startswith("two.yaml: OK")
    no_traceback(result)


def test_validate_says_it_could_not_check_the_connections_a_recipe_names(cli):
    root = Path(__file__).parent.parent
    result = cli("validate", str(root / "recipes" / "blog-to-social.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[1] == ("  not checked here: the connections city-bluesky, city-mastodon, "
                                             "city-matomo, city-smtp (saving the recipe checks that they exist and "
                                             "fit their steps)")


def test_validate_reports_every_problem_with_its_location_and_unreadable_files(cli, tmp_path):
    write_recipe(tmp_path / "good.yaml", {"id": "a", "uses": "data.set", "with": {"x": 1}})
    write_recipe(tmp_path / "bad.yaml",
                 {"id": "a", "uses": "http.requets", "with": {"url": "https://example.org"}},
                 {"id": "b", "uses": "http.request", "with": {"url": "https://example.org", "subject": "hi"}},
                 {"id": "c", "uses": "data.set", "with": {"x": "{{ steps.nowhere.y }}"}},
                 {"id": "d", "uses": "http.request", "with": {"url": "ftp://example.org"}},
                 name="bad")
    (tmp_path / "broken.yaml").write_text("name: broken\nsteps: [\n  - id: a\n", encoding="utf-8")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00\x81 not text")
    result = cli("validate", "good.yaml", "bad.yaml", "broken.yaml", "missing.yaml", "binary.yaml")
    assert result.returncode == 1
    out = result.stdout
    assert "good.yaml: OK" in out
    assert "bad.yaml: 4 problem(s)" in out
    assert "steps[0].uses: unknown action 'http.requets' (did you mean 'http.request'?)" in out
    assert "steps[1].with.subject: unknown field" in out
    assert "steps[2].with: refers to step 'nowhere', which does not exist" in out
    assert "steps[3].with.url:" in out
    assert "broken.yaml: 1 problem(s)" in out and "cannot parse the file" in out
    assert "missing.yaml: cannot read: No such file or directory" in out
    assert "binary.yaml: cannot read:" in out
    no_traceback(result)


# -- run -----------------------------------------------------------------------------------------

def test_run_json_with_inline_payload_is_one_object_and_is_recorded(cli, tmp_path, read_engine):
    write_recipe(tmp_path / "r.yaml",
                 {"id": "shape", "uses": "data.set",
                  "with": {"title": "{{ trigger.title | upper }}", "n": "{{ trigger.n }}"}},
                 {"id": "say", "uses": "data.set", "with": {"line": "{{ steps.shape.title }} #{{ steps.shape.n }}"}})
    result = cli("run", "r.yaml", "--payload", '{"title": "fête", "n": 7}', "--json")
    assert result.returncode == 0, result.stderr
    run = one_json(result)
    assert {"id", "status", "steps", "dry_run"} <= set(run)
    assert run["status"] == "succeeded" and run["dry_run"] is False
    assert [{k: s[k] for k in ("id", "status", "output", "error")} for s in run["steps"]] == [
        {"id": "shape", "status": "succeeded", "output": {"title": "FÊTE", "n": 7}, "error": None},
        {"id": "say", "status": "succeeded", "output": {"line": "FÊTE #7"}, "error": None},
    ]
    recorded = read_engine().runs.detail(run["id"])
    assert recorded["status"] == "succeeded" and recorded["recipe"] == "cli-recipe"
    assert recorded["trigger"] == {"title": "fête", "n": 7}
    assert [s["output"] for s in recorded["steps"]] == [s["output"] for s in run["steps"]]


def test_run_payload_from_file_and_failed_run_exits_1(cli, tmp_path, read_engine):
    (tmp_path / "event.json").write_text(json.dumps({"who": "Ann", "seconds": "forever"}), encoding="utf-8")
    write_recipe(tmp_path / "r.yaml",
                 {"id": "hello", "uses": "data.set", "with": {"text": "Hello {{ trigger.who }}"}},
                 {"id": "pause", "uses": "flow.delay", "with": {"duration": "{{ trigger.seconds }}"}},
                 {"id": "never", "uses": "data.set", "with": {"x": 1}})
    result = cli("run", "r.yaml", "--payload", "@event.json", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    run = one_json(result)
    assert run["status"] == "failed"
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["hello"]["status"] == "succeeded" and steps["hello"]["output"] == {"text": "Hello Ann"}
    assert steps["pause"]["status"] == "failed" and "duration" in steps["pause"]["error"]
    assert steps["never"]["status"] == "pending" and steps["never"]["output"] is None
    assert read_engine().runs.detail(run["id"])["status"] == "failed"
    no_traceback(result)


def test_runs_lists_newest_first_and_filters_failed_ones_with_their_error(cli, tmp_path):
    assert cli("runs").stdout == "no runs\n"
    write_recipe(tmp_path / "ok.yaml", {"id": "a", "uses": "data.set", "with": {"x": 1}}, name="ok")
    write_recipe(tmp_path / "bad.yaml", {"id": "pause", "uses": "flow.delay",
                                         "with": {"duration": "{{ trigger.wait | default('forever') }}"}}, name="bad")
    assert [cli("run", name).returncode for name in ("bad.yaml", "ok.yaml")] == [1, 0]
    listed, failed, as_json, one, wrong = cli.many(["runs"], ["runs", "--failed"], ["runs", "--json"],
                                                   ["runs", "--recipe", "ok", "--limit", "1"],
                                                   ["runs", "--status", "finished"])
    lines = listed.stdout.splitlines()
    assert [line.split()[1:3] for line in lines if not line.startswith(" ")] == [["ok", "succeeded"],
                                                                                ["bad", "failed"]]
    assert lines[2].strip().startswith("step 'pause' failed: steps[0].with.duration")
    assert failed.stdout.splitlines() == lines[1:]
    runs = one_json(as_json)
    assert runs["total"] == 2 and [r["status"] for r in runs["items"]] == ["succeeded", "failed"]
    assert lines[0].startswith(runs["items"][0]["id"]) and lines[1].startswith(runs["items"][1]["id"])
    assert one.stdout.splitlines()[0] == lines[0]
    assert (wrong.returncode, wrong.stdout) == (2, "")
    assert wrong.stderr == ("error: --status: unknown status 'finished'; "
                            "use one or more of: queued, running, waiting, succeeded, failed, cancelled\n")
    for result in (listed, failed, as_json, one):
        assert result.returncode == 0 and result.stderr == ""


def test_dry_run_previews_without_sending(cli, tmp_path, read_engine, http_server):
    write_recipe(tmp_path / "r.yaml",
                 {"id": "post", "uses": "http.request",
                  "with": {"method": "POST", "url": http_server.url + "/news", "json": {"t": "{{ trigger.t }}"}}},
                 {"id": "pause", "uses": "flow.delay", "with": {"duration": "1h"}})
    result = cli("run", "r.yaml", "--dry-run", "--json", "--payload", '{"t": "x"}',
                 env={"BEFFROI_ALLOWED_NETWORKS": "127.0.0.0/8"})
    assert result.returncode == 0, result.stdout + result.stderr
    run = one_json(result)
    assert run["status"] == "succeeded" and run["dry_run"] is True
    post, pause = run["steps"]
    assert post["output"]["would_send"]["method"] == "POST"
    assert post["output"]["would_send"]["json"] == {"t": "x"}
    assert pause["output"] == {"duration_seconds": 3600.0, "waited_seconds": 0.0, "would_wait_seconds": 3600.0}
    assert http_server.requests == []
    assert read_engine().runs.detail(run["id"])["dry_run"] is True


def test_readable_summary_shows_each_step_with_its_status(cli, tmp_path):
    write_recipe(tmp_path / "r.yaml",
                 {"id": "first_step", "uses": "data.set", "with": {"x": 1}},
                 {"id": "maybe", "uses": "data.set", "if": "trigger.go", "with": {"x": 2}},
                 {"id": "broken", "uses": "data.set", "with": {"x": "{{ trigger.missing }}"}},
                 {"id": "after", "uses": "data.set", "with": {"x": 3}})
    result = cli("run", "r.yaml", "--payload", '{"go": false}')
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "cli-recipe" in lines[0] and "failed" in lines[0]
    by_step = {line.split()[1]: line for line in lines[1:]}
    assert set(by_step) == {"first_step", "maybe", "broken", "after"}
    assert "succeeded" in by_step["first_step"]
    assert "skipped" in by_step["maybe"]
    assert "failed" in by_step["broken"] and "missing" in by_step["broken"]
    assert "pending" in by_step["after"]
    no_traceback(result)


def test_bad_payload_is_a_clear_error_and_runs_nothing(cli, tmp_path, runs_recorded):
    write_recipe(tmp_path / "r.yaml", {"id": "a", "uses": "data.set", "with": {"x": 1}})
    (tmp_path / "list.json").write_text('["not", "closed"', encoding="utf-8")
    results = cli.many(["run", "r.yaml", "--payload", '{"title": ', "--json"],
                       ["run", "r.yaml", "--payload", "@nowhere.json"],
                       ["run", "r.yaml", "--payload", "@list.json", "--json"])
    messages = ["--payload is not valid JSON", "cannot read the payload file nowhere.json: No such file",
                "list.json is not valid JSON"]
    for result, message in zip(results, messages):
        assert result.returncode != 0
        assert message in result.stderr
        assert result.stdout == ""
        no_traceback(result)
    assert runs_recorded() == 0


def test_run_invalid_recipe_prints_problems_and_runs_nothing(cli, tmp_path, runs_recorded, http_server):
    write_recipe(tmp_path / "r.yaml",
                 {"id": "call", "uses": "http.request", "with": {"method": "POST", "url": http_server.url + "/x"}},
                 {"id": "oops", "uses": "data.sett", "with": {"x": 1}},
                 {"id": "mail", "uses": "http.request", "with": {"url": http_server.url, "subject": "hi"}})
    result, missing = cli.many(["run", "r.yaml", "--json"], ["run", "nothere.yaml"],
                               env={"BEFFROI_ALLOWED_NETWORKS": "127.0.0.0/8"})
    assert result.returncode == 1
    assert "r.yaml: 2 problem(s)" in result.stderr
    assert "steps[1].uses: unknown action 'data.sett'" in result.stderr
    assert "steps[2].with.subject: unknown field" in result.stderr
    assert http_server.requests == []
    assert runs_recorded() == 0
    assert missing.returncode == 1 and "nothere.yaml: cannot read: No such file or directory" in missing.stderr
    no_traceback(result)
    no_traceback(missing)


# -- plugins -------------------------------------------------------------------------------------

def test_a_reader_that_leaves_early_ends_the_command_quietly(tmp_path, db_url):
    """`beffroi plugins --json | head -1`: the pipe is closed before the command writes; no traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
    env.update(BEFFROI_DATABASE_URL=db_url, BEFFROI_DATA_DIR=str(tmp_path / "data"))
    try:
        done = subprocess.run([str(BEFFROI), "plugins", "--json"], cwd=tmp_path, env=env, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
    finally:
        os.close(write)
    assert done.returncode == 1 and done.stderr == "", done.stderr


def test_plugins_lists_builtin_triggers_and_actions(cli):
    text, as_json = cli.many(["plugins"], ["plugins", "--json"])
    assert text.returncode == 0 and as_json.returncode == 0
    assert "builtins" in text.stdout
    assert text.stdout.startswith("tool types (7): analytics, crm, ecm, email, mcms, smms, wcms\n"), text.stdout
    for key in ("builtins.manual", "builtins.webhook", "builtins.schedule", "http.request", "flow.delay", "data.set"):
        assert key in text.stdout
    document = one_json(as_json)
    builtins = next(p for p in document["plugins"] if p["name"] == "builtins")
    assert builtins["builtin"] is True
    assert {"builtins.manual", "builtins.webhook", "builtins.schedule"} <= set(builtins["triggers"])
    assert {"http.request", "flow.delay", "data.set"} <= set(builtins["actions"])
    assert document["failures"] == [] and len(document["tool_types"]) == 7


# -- outbound HTTP through the CLI ---------------------------------------------------------------

def http_recipe(tmp_path: Path, url: str) -> Path:
    return write_recipe(tmp_path / "call.yaml", {"id": "call", "uses": "http.request",
                                                 "with": {"method": "POST", "url": url + "/hello",
                                                          "json": {"who": "{{ trigger.who }}"}}})


def test_http_request_reaches_a_local_server_when_allowed(cli, tmp_path, http_server):
    http_recipe(tmp_path, http_server.url)
    result = cli("run", "call.yaml", "--json", "--payload", '{"who": "Ann"}',
                 env={"BEFFROI_ALLOWED_NETWORKS": "127.0.0.0/8"})
    assert result.returncode == 0, result.stdout + result.stderr
    run = one_json(result)
    output = run["steps"][0]["output"]
    assert output["status"] == 200
    assert output["json"] == {"ok": True, "path": "/hello", "got": {"who": "Ann"}}
    [(method, path, headers, _)] = http_server.requests
    assert (method, path) == ("POST", "/hello")
    assert headers["Idempotency-Key"] == f"{run['id']}:call"


def test_http_request_to_loopback_is_blocked_by_default(cli, tmp_path, http_server):
    http_recipe(tmp_path, http_server.url)
    result = cli("run", "call.yaml", "--json", "--payload", '{"who": "Ann"}')
    assert result.returncode == 1
    run = one_json(result)
    step = run["steps"][0]
    assert run["status"] == "failed" and step["status"] == "failed"
    assert "blocked" in step["error"] and "127.0.0.1 (loopback)" in step["error"]
    assert "BEFFROI_ALLOWED_NETWORKS" in step["error"]  # says how to allow it
    assert http_server.requests == []
    no_traceback(result)


def test_a_database_that_cannot_be_used_is_one_clear_line_without_its_password(cli):
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cases = {
        f"postgresql+psycopg://beffroi:s3cret-pw@127.0.0.1:{port}/comms": "cannot connect to the database",
        "mysq://somewhere/db": "unknown kind of database",
        "not a url": "is not a database URL",
    }
    commands = [(command, {"BEFFROI_DATABASE_URL": url}) for url in cases
                for command in (["serve", "--port", str(port)], ["worker"])]
    results = cli.many(*commands, env={"BEFFROI_REDIS_URL": "redis://127.0.0.1:1/0"})
    for (command, env), result in zip(commands, results):
        message = cases[env["BEFFROI_DATABASE_URL"]]
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith("error: ") and message in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr and "s3cret-pw" not in result.stderr + result.stdout


def test_redis_out_of_reach_stops_serve_worker_and_scheduler_with_one_line(cli):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    commands = (["serve", "--port", str(port)], ["worker"], ["scheduler"])
    results = cli.many(*commands, env={"BEFFROI_REDIS_URL": f"redis://:r3dis-pw@127.0.0.1:{port}/0"})
    for command, result in zip(commands, results):
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith(f"error: cannot reach Redis at 127.0.0.1:{port}/0"), (command, result.stderr)
        assert "Traceback" not in result.stderr and "r3dis-pw" not in result.stderr + result.stdout
        assert "token" not in result.stdout  # nothing was set up: the first start is still to come


def test_a_bad_setting_names_its_variable_and_never_echoes_a_value(cli):
    result, threads = cli.many((["serve"], {"BEFFROI_WORKERS": "0", "BEFFROI_HTTP_TIMEOUT": "soon"}),
                               (["worker", "--threads", "0"], {"BEFFROI_REDIS_URL": "redis://127.0.0.1:1/0"}))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: bad setting: BEFFROI_WORKERS: ") and "BEFFROI_HTTP_TIMEOUT" in result.stderr
    assert "soon" not in result.stderr
    assert threads.returncode == 2 and "--threads: must be at least 1" in threads.stderr


def test_serve_on_a_port_in_use_says_so_before_setting_anything_up(cli):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("serve", "--port", str(port))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ") and "--port" in result.stderr
    assert "token" not in result.stdout and "Beffroi on" not in result.stdout  # the first start is still to come


@pytest.mark.parametrize("port", ["99999", "0", "-1", "eighty"])
def test_serve_on_a_port_that_cannot_exist_says_so_instead_of_listening_elsewhere(cli, port):
    result = cli("serve", "--port", port)
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stdout == ""
    assert "error: argument --port: " in result.stderr.splitlines()[-1]


def test_a_weak_secret_key_is_refused_and_new_key_prints_a_strong_one(cli):
    weak = {"BEFFROI_SECRET_KEY": "hunter2-hunter2", "BEFFROI_REDIS_URL": "redis://127.0.0.1:1/0"}
    *refused, key, other = cli.many((["serve", "--port", "1"], weak), (["worker"], weak), (["scheduler"], weak),
                                    ["secrets", "new-key"], ["secrets", "new-key"])
    for result in refused:
        assert result.returncode == 2 and result.stderr.startswith("error: BEFFROI_SECRET_KEY is too weak"), result
        assert "hunter2" not in result.stderr + result.stdout
    key = key.stdout.strip()
    assert len(base64.urlsafe_b64decode(key)) == 32 and key != other.stdout.strip()
    long_phrase = "correct horse battery staple, the city hall edition"
    short, result = cli.many((["secrets", "rotate"], {"BEFFROI_SECRET_KEY": key, "BEFFROI_NEW_SECRET_KEY": "short"}),
                             (["secrets", "rotate"],
                              {"BEFFROI_SECRET_KEY": key, "BEFFROI_NEW_SECRET_KEY": long_phrase}))
    assert short.returncode == 2 and short.stderr.startswith("error: BEFFROI_NEW_SECRET_KEY is too weak")
    assert result.returncode == 0 and "re-encrypted 0 of 0" in result.stdout, result.stderr
