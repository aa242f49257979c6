"""`beffroi` sub-commands of the service: serve, scheduler, worker, token, secrets, import."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path


def _engine(*, serving: bool = False):
    """The engine of this process; `serving` (serve, scheduler): its setup is checked first (see check_setup)."""
    from .engine import Engine, check_setup

    engine = Engine()
    if serving:
        try:
            check_setup(engine.settings)
        except Exception:
            engine.close()
            raise
    return engine


def cmd_serve(args) -> int:
    """API + webhooks + in-process workers + scheduler, until SIGTERM/SIGINT."""
    from .server import serve

    serve(_engine(serving=True), host=args.host, port=args.port)
    return 0


def cmd_scheduler(args) -> int:
    """The scheduler alone (production: next to `beffroi worker` processes)."""
    from .scheduler import Scheduler

    engine = _engine(serving=True)
    scheduler = Scheduler(engine)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.start()
    print("beffroi scheduler running (Ctrl-C to stop)", flush=True)
    stop.wait()
    scheduler.stop()
    engine.close()
    return 0


def cmd_worker(argv: list[str]) -> int:
    """Execute runs queued in Redis (options: see `beffroi worker --help`)."""
    from .worker import main

    return main(argv)


def cmd_token(args) -> int:
    """Create, list or revoke API tokens."""
    engine = _engine()
    try:
        if args.action == "create":
            info, clear = engine.accounts.create_token(args.name, args.role, actor="cli")
            print(clear)
            print(f"token {info.name!r} ({info.role}, id {info.id}) created; it is not shown again", file=sys.stderr)
        elif args.action == "list":
            for token in engine.tokens.list():
                state = "revoked" if token["revoked"] else "active"
                print(f"{token['id']}  {token['name']:<20} {token['role']:<7} {state:<8} "
                      f"last used {token['last_used_at'] or 'never'}")
        elif not engine.accounts.revoke_token(args.name, actor="cli"):
            print(f"error: no token with id {args.name!r}", file=sys.stderr)
            return 1
        else:
            print(f"token {args.name} revoked")
    finally:
        engine.close()
    return 0


def cmd_secrets(args) -> int:
    """Re-encrypt every connection secret under a new key."""
    import os

    from .rotation import rotate

    if args.action == "new-key":
        from .secrets import new_key_text

        print(new_key_text())
        return 0
    engine = _engine()
    try:
        print(rotate(engine, os.environ.get("BEFFROI_NEW_SECRET_KEY")))
    finally:
        engine.close()
    return 0


def cmd_import(args) -> int:
    """Store every recipe file of a folder (a new version for existing names)."""
    from .server import import_recipes

    if not Path(args.folder).is_dir():
        print(f"error: {args.folder} is not a folder", file=sys.stderr)
        return 1
    engine = _engine()
    try:
        imported, problems = import_recipes(engine, Path(args.folder))
    finally:
        engine.close()
    for name in imported:
        print(f"imported {name}")
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    return 1 if problems else 0


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535 (a larger number would silently wrap to another port)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {value}")
    return value


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the service sub-commands on the main parser."""
    p = sub.add_parser("serve", help="API, webhooks, workers and scheduler in one process")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port_number, default=8000, help="TCP port, 1-65535 (default 8000)")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("scheduler", help="run the scheduler alone (production)")
    p.set_defaults(func=cmd_scheduler)
    sub.add_parser("worker", help="execute runs queued in Redis (production; --help for options)", add_help=False)
    p = sub.add_parser("token", help="API tokens: create NAME [--role], list, revoke ID")
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("name", nargs="?", help="token name (create) or id (revoke)")
    p.add_argument("--role", choices=["viewer", "editor", "admin"], default="editor")
    p.set_defaults(func=cmd_token)
    p = sub.add_parser("secrets", help="secrets rotate: re-encrypt connection secrets under a new key; "
                                       "secrets new-key: print a fresh key for BEFFROI_SECRET_KEY")
    p.add_argument("action", choices=["rotate", "new-key"])
    p.set_defaults(func=cmd_secrets)
    p = sub.add_parser("import", help="store every recipe file of a folder")
    p.add_argument("folder", metavar="DIR")
    p.set_defaults(func=cmd_import)
