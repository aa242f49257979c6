"""Webhook benchmark: POST /hooks/{name} with wrk against `beffroi serve`, beside a bare FastAPI endpoint.

Run: .venv/bin/python bench/webhook.py [--duration 10] [--connections 32] [--mode embedded|rq|all]
Needs wrk (`apt-get install wrk`). Everything runs on 127.0.0.1. Prints, per setup: accepted deliveries/s,
p50/p99 latency, non-2xx answers, and completed durable runs/s (time from the first accepted delivery
to the last finished run). The rq mode needs PostgreSQL and Redis (BEFFROI_TEST_DATABASE_URL,
BEFFROI_TEST_REDIS_URL, as in .ci/run) and starts one `beffroi worker` process.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

TOKEN = "bench-token-0123456789"
RECIPE = f"""name: bench
trigger:
  uses: builtins.webhook
  with: {{check: token, secret: {TOKEN}}}
steps:
  - id: one
    uses: data.set
    with: {{email: "{{{{ trigger.email | lower }}}}", title: "{{{{ trigger.title }}}}"}}
  - id: two
    uses: data.set
    with: {{slug: "{{{{ steps.one.title | slugify }}}}"}}
  - id: three
    uses: data.set
    with: {{line: "{{{{ steps.one.email }}}} {{{{ steps.two.slug }}}}"}}
"""
BARE_APP = """
from fastapi import FastAPI, Request
app = FastAPI()
@app.post("/hooks/bench", status_code=202)
async def hook(request: Request):
    await request.body()
    return {"status": "accepted"}
"""
LUA = f"""wrk.method = "POST"
wrk.body = '{{"email": "Someone@Example.org", "title": "Conseil communal du 3 mars"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Beffroi-Token"] = "{TOKEN}"
"""
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


def wrk(url: str, lua: Path, duration: int, connections: int) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(lua), url],
                         capture_output=True, text=True, check=True).stdout
    def grab(pattern):
        match = re.search(pattern, out, re.MULTILINE)
        return match.group(1) if match else None
    def ms(value):
        number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
        return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
    requests = int(grab(r"(\d+) requests in"))
    non2xx = int(grab(r"Non-2xx or 3xx responses: (\d+)") or 0)
    return {"rps": float(grab(r"Requests/sec:\s+([\d.]+)")), "requests": requests, "non2xx": non2xx,
            # anchored: "Thread Stats" percentages such as "98.50%" must not be read as the 50% latency
            "p50": ms(grab(r"^\s+50%\s+(\S+)")), "p99": ms(grab(r"^\s+99%\s+(\S+)"))}


def completed_rate(db_url: str, expected: int, limit: float = 300.0) -> tuple[float, int, int]:
    """(completed runs/s, succeeded, total) once every run has finished."""
    engine = create_engine(db_url)
    deadline = time.monotonic() + limit
    with engine.connect() as conn:
        while True:
            row = conn.execute(text("SELECT count(*), sum(CASE WHEN status IN ('queued','running') THEN 1 ELSE 0 END),"
                                    " sum(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) FROM runs")).one()
            conn.commit()
            total, unfinished, succeeded = row[0], row[1] or 0, row[2] or 0
            if (total >= expected and unfinished == 0) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        first, last = conn.execute(text("SELECT min(created_at), max(finished_at) FROM runs")).one()
    engine.dispose()
    if isinstance(first, str):
        from datetime import datetime
        first, last = datetime.fromisoformat(first), datetime.fromisoformat(last)
    span = (last - first).total_seconds() if first and last else float("nan")
    return succeeded / span, succeeded, total


def report(name: str, load: dict, runs: tuple | None = None) -> None:
    line = (f"{name:<28} {load['rps']:8.0f} accepted/s   p50 {load['p50']:6.2f} ms   p99 {load['p99']:7.2f} ms"
            f"   non-2xx {load['non2xx']}")
    if runs:
        line += f"   completed {runs[0]:6.0f} runs/s ({runs[1]}/{runs[2]} succeeded)"
    print(line, flush=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def bare(tmp: Path, lua: Path, args) -> None:
    (tmp / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    server = subprocess.Popen([str(BIN / "uvicorn"), "bare_app:app", "--port", str(port), "--log-level", "warning"],
                              cwd=tmp)
    try:
        wait_up(f"http://127.0.0.1:{port}/docs")
        report("bare FastAPI (ceiling)", wrk(f"http://127.0.0.1:{port}/hooks/bench", lua, args.duration,
                                             args.connections))
    finally:
        stop(server)


def beffroi(tmp: Path, lua: Path, args, name: str, env_extra: dict, db_url: str, worker: bool) -> None:
    folder = tmp / name
    (folder / "recipes").mkdir(parents=True)
    (folder / "recipes" / "bench.yaml").write_text(RECIPE)
    port = free_port()
    env = {**os.environ, "BEFFROI_DATABASE_URL": db_url, "BEFFROI_DATA_DIR": str(folder / "data"), **env_extra}
    env.pop("BEFFROI_ALLOWED_NETWORKS", None)
    log = open(folder / "server.log", "w")
    server = subprocess.Popen([str(BIN / "beffroi"), "serve", "--port", str(port)], cwd=folder, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    workers = [subprocess.Popen([str(BIN / "beffroi"), "worker"], cwd=folder, env=env, stdout=log,
                                stderr=subprocess.STDOUT)] if worker else []
    try:
        wait_up(f"http://127.0.0.1:{port}/api/health")
        load = wrk(f"http://127.0.0.1:{port}/hooks/bench", lua, args.duration, args.connections)
        report(name, load, completed_rate(db_url, load["requests"] - load["non2xx"]))
    finally:
        stop(server)
        for process in workers:
            stop(process)
        log.close()
        errors = [line for line in (folder / "server.log").read_text().splitlines() if "ERROR" in line]
        if errors:
            print(f"  {len(errors)} error line(s) in the server log, first: {errors[0]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--mode", choices=["embedded", "rq", "all"], default="all")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("this benchmark needs wrk: apt-get install wrk")
    print(f"wrk: 1 thread, {args.connections} connections, {args.duration}s per setup; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        lua = tmp / "post.lua"
        lua.write_text(LUA)
        bare(tmp, lua, args)
        if args.mode in ("embedded", "all"):
            beffroi(tmp, lua, args, "beffroi embedded (sqlite)", {}, f"sqlite:///{tmp / 'embedded.db'}", False)
        if args.mode in ("rq", "all"):
            pg, redis = os.environ.get("BEFFROI_TEST_DATABASE_URL"), os.environ.get("BEFFROI_TEST_REDIS_URL")
            if not (pg and redis):
                print("rq mode skipped: set BEFFROI_TEST_DATABASE_URL and BEFFROI_TEST_REDIS_URL")
                return 0
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(pg)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            url = f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{schema}"
            try:
                beffroi(tmp, lua, args, "beffroi rq + postgresql", {"BEFFROI_REDIS_URL": redis,
                                                                    "BEFFROI_QUEUE_NAME": schema}, url, True)
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
