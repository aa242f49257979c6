"""`beffroi serve`: the API, an in-process worker pool and the scheduler, on the embedded defaults."""
from __future__ import annotations

import logging
import socket
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn

from .api import create_app
from .engine import Engine
from .errors import SetupError
from .recipes import RecipeInvalid, load_file
from .users import SETUP_LIFETIME

log = logging.getLogger("beffroi.server")
LOOPBACK_REACHABLE = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::")  # addresses that include 127.0.0.1 or ::1


def import_recipes(engine: Engine, folder: Path) -> tuple[list[str], list[str]]:
    """Store every recipe file of a folder; returns (imported names, problems as text). Bad files are skipped."""
    imported, problems = [], []
    for path in sorted(Path(folder).glob("*.y*ml")) + sorted(Path(folder).glob("*.json")):
        try:
            recipe, version = engine.save_recipe(load_file(path), author=f"import:{path.name}")
            imported.append(f"{recipe.name} (v{version})")
        except RecipeInvalid as exc:
            problems.append(f"{path}: " + "; ".join(str(p) for p in exc.problems))
    return imported, problems


def first_start(engine: Engine, host: str | None = None, port: int | None = None) -> None:
    """On an empty database: import the recipes folder and create an admin token shown once; with no account yet,
    say how to create one, and print a one-time link to do it in the browser on this machine (given the port)."""
    if not engine.recipes.list() and Path(engine.settings.recipes_dir).is_dir():
        imported, problems = import_recipes(engine, engine.settings.recipes_dir)
        for name in imported:
            print(f"  imported recipe {name} from {engine.settings.recipes_dir}/", flush=True)
        for problem in problems:
            print(f"  skipped {problem}", flush=True)
    (Path(engine.settings.data_dir) / "posts").mkdir(parents=True, exist_ok=True)  # the zero-setup folder feed
    if engine.tokens.count() == 0:
        _, clear = engine.tokens.create("admin", "admin")
        print(f"\n  First start: an admin API token was created (shown only this once):\n\n      {clear}\n\n"
              "  Use it as `Authorization: Bearer <token>`; make more with `beffroi token create NAME`.\n", flush=True)
    if engine.users.count() == 0:
        print("  No one can sign in to the web UI yet: create an account with "
              "`beffroi user create EMAIL --role admin`.", flush=True)
        if port is not None and host in LOOPBACK_REACHABLE:
            link = engine.users.setup_link()
            print(f"  Or, in a browser on this machine, within {SETUP_LIFETIME.seconds // 60} minutes, open this "
                  f"one-time link to create the first admin account:\n\n      http://127.0.0.1:{port}/setup/{link}\n",
                  flush=True)


def build_app(engine: Engine):
    """The app with a lifespan that starts and stops the worker pool, the scheduler and recovery."""
    from .scheduler import Scheduler

    scheduler = Scheduler(engine)

    @asynccontextmanager
    async def lifespan(app):
        engine.start_heartbeat()
        if not engine.settings.redis_url:  # with RQ, the workers' reaper does this
            threading.Thread(target=engine.resume_interrupted, name="beffroi-resume", daemon=True).start()
        scheduler.start()
        yield
        log.warning("stopping: no new runs; waiting for running ones (unfinished runs resume at the next start)")
        scheduler.stop()
        app.state.intake.close()
        engine.queue.shutdown(engine.settings.shutdown_grace)
        engine.close()

    return create_app(engine, lifespan=lifespan)


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything starts: a port in use is a SetupError, not a half start."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise SetupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart may reuse the port at once
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise SetupError(f"cannot listen on {host}:{port}: {exc.strerror} (another server may be using it; "
                         "choose another with --port)") from None
    return sock


def serve(engine: Engine, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the service until SIGTERM/SIGINT."""
    sock = listen(host, port)
    engine.serving_at(host, port)
    first_start(engine, host, port)
    app = build_app(engine)
    print(f"  Beffroi on http://{host}:{port}  (API docs: http://{host}:{port}/docs, "
          f"database: {engine.db.engine.dialect.name}, worker: {'rq' if engine.settings.redis_url else 'inline'})",
          flush=True)
    if engine.simulated_clock:
        print(f"  SIMULATED CLOCK (tests and rehearsals only): now is {engine.clock().isoformat()}, "
              f"read from {engine.settings.clock_file}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           timeout_graceful_shutdown=30))
    try:
        server.run(sockets=[sock])  # a captured SIGTERM is raised again at the end (as uvicorn.run does)
    except KeyboardInterrupt:  # Ctrl-C: uvicorn raises it again after its clean stop
        return
    if not server.started:
        raise SetupError("the server did not start (see the messages above)")
