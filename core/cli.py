"""The `beffroi` command: validate and run recipes, list plugins, resume runs (service commands: cli_service.py)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .cli_connections import add_commands as add_connection_commands
from .cli_service import add_commands, cmd_worker
from .cli_users import add_commands as add_user_commands
from .errors import SampleUnavailable, SetupError
from .recipes import RecipeInvalid, load_file

SYMBOL = {"succeeded": "✓", "failed": "✗", "skipped": "–", "pending": "·", "running": "…"}


def _engine(**kwargs):
    from .engine import Engine  # imported late so `beffroi --help` stays instant

    return Engine(**kwargs)


def _validator():
    """The plugin host and recipe validator alone, wired as the Engine wires them: `validate` and `plugins` need
    no database, no data folder and no secret key, and start in a fraction of the time."""
    from .plugins import PluginHost
    from .settings import Settings
    from .templating import Templater
    from .validation import Validator

    settings = Settings.from_environment()
    host = PluginHost(disabled=settings.disable_plugins, plugins_dir=settings.plugins_dir)
    return host, Validator(host.registry, Templater())


def _payload(text: str) -> Any:
    """The trigger event from `--payload`: JSON text, or @file holding JSON."""
    source = "--payload"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise SystemExit(f"error: cannot read the payload file {source}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise SystemExit(f"error: the payload file {source} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"error: {source} is not valid JSON: {exc}") from None


class Unreadable(Exception):
    """A recipe file that cannot be read at all (missing, a folder, not UTF-8 text)."""


def _load(name: str) -> dict:
    """Recipe data from a file: Unreadable, or RecipeInvalid when it cannot be parsed."""
    try:
        return load_file(name)
    except OSError as exc:
        raise Unreadable(f"{name}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise Unreadable(f"{name}: cannot read: the file is not UTF-8 text") from None


def _print_problems(name: str, exc: RecipeInvalid, file=None) -> None:
    """`name: N problem(s)` then one indented line per problem (continuation lines indented further)."""
    file = file or sys.stdout
    print(f"{name}: {len(exc.problems)} problem(s)", file=file)
    for problem in exc.problems:
        first, *rest = str(problem).splitlines() or [""]
        print(f"  {first}", file=file)
        for line in rest:
            if line.strip(" ^"):  # drop blank lines and YAML's caret markers, meaningless once re-indented
                print(f"    {line.strip()}", file=file)


def cmd_validate(args) -> int:
    """Check recipe files; print OK or every problem with its location."""
    _, validator = _validator()
    failed = False
    for name in args.files:
        try:
            recipe = validator.validate(_load(name), name)
            print(f"{name}: OK ({recipe.name}, {len(recipe.steps)} step{'s' if len(recipe.steps) != 1 else ''})")
            named = sorted({n for n in [recipe.trigger.connection,
                                        *(c for s in recipe.steps for c in s.connection_names)]
                            if n})
            if named:  # validate reads no database: the stored connections are checked when the recipe is saved
                print(f"  not checked here: the connections {', '.join(named)} (saving the recipe checks that they "
                      "exist and fit their steps)")
        except RecipeInvalid as exc:
            failed = True
            _print_problems(name, exc)
        except Unreadable as exc:
            failed = True
            print(exc)
    return 1 if failed else 0


def _print_run(run: dict) -> None:
    dry = " (dry run)" if run["dry_run"] else ""
    took = f" in {run['duration_ms']:.0f} ms" if run.get("duration_ms") is not None else ""
    print(f"Run {run['id']} of {run['recipe']}: {run['status']}{dry}{took}")
    for step in run["steps"]:
        line = f"  {SYMBOL.get(step['status'], '?')} {step['id']:<20} {step['status']}"
        if step["error"]:
            line += f": {step['error']}"
        elif step["output"] is not None:
            text = json.dumps(step["output"], ensure_ascii=False)
            line += f"  → {text[:100] + '…' if len(text) > 100 else text}"
        print(line)


def cmd_run(args) -> int:
    """Run a recipe file once with the payload as its trigger event (a dry run without one: the sample event)."""
    if args.live_sample and (not args.dry_run or args.payload is not None):
        print("error: --live-sample goes with --dry-run and no --payload (it previews the newest item of the source)",
              file=sys.stderr)
        return 2
    # a bad payload stops before the database is touched; a dry run without one takes the sample (below)
    event = _payload(args.payload) if args.payload is not None else None if args.dry_run else {}
    engine = _engine(migrate=False)
    try:
        try:
            recipe = engine.validate(_load(args.file), args.file)
        except RecipeInvalid as exc:
            _print_problems(args.file, exc, file=sys.stderr)
            return 1
        except Unreadable as exc:
            print(exc, file=sys.stderr)
            return 1
        engine.db.migrate()
        if event is None:  # a dry run with no payload: the recipe's sample event, or the source's newest item
            try:
                event = engine.sample_event(recipe, live=args.live_sample)
            except SampleUnavailable as exc:
                print(f"error: no sample event for {recipe.name}: {exc}", file=sys.stderr)
                return 1
        logging.getLogger("beffroi.runs").setLevel(logging.ERROR)  # the summary printed below names the failure
        try:
            run = engine.run_recipe(recipe, event, dry_run=args.dry_run)
        except KeyboardInterrupt:
            print("interrupted: the run stays unfinished; `beffroi resume` continues it at its first unfinished step",
                  file=sys.stderr)
            return 130
        if args.json:
            print(json.dumps({"id": run["id"], "recipe": run["recipe"], "status": run["status"],
                              "dry_run": run["dry_run"], "error": run["error"], "duration_ms": run["duration_ms"],
                              "steps": [{k: s[k] for k in ("id", "status", "output", "error", "attempts")}
                                        for s in run["steps"]]}, ensure_ascii=False))
        else:
            _print_run(run)
        return 0 if run["status"] == "succeeded" else 1
    finally:
        engine.close()


def cmd_resume(args) -> int:
    """Resume runs left unfinished by a process that died; exit 1 when a resumed run did not succeed."""
    engine = _engine()
    try:
        engine.start_heartbeat()
        resumed = engine.resume_interrupted()
        if not resumed:
            print("nothing to resume")
        ok = True
        for run_id in resumed:
            run = engine.runs.detail(run_id)
            print("resumed:", end=" ")
            _print_run(run)
            ok = ok and run["status"] == "succeeded"
        return 0 if ok else 1
    finally:
        engine.close()


def _when(iso: str | None) -> str:
    """'2026-12-07 12:00:01' from an ISO time (UTC), or '-' when there is none yet."""
    return iso[:19].replace("T", " ") if iso else "-"


def cmd_runs(args) -> int:
    """List recent runs, newest first; a failed one with its error on the next line."""
    from .runs import parse_statuses

    try:
        statuses = parse_statuses([*args.status, *(["failed"] if args.failed else [])])
    except ValueError as exc:
        print(f"error: --status: {exc}", file=sys.stderr)
        return 2
    if args.limit < 1:
        print(f"error: --limit must be at least 1, not {args.limit}", file=sys.stderr)
        return 2
    engine = _engine()
    try:
        runs, total = engine.runs.list(recipe=args.recipe, statuses=statuses, limit=args.limit)
    finally:
        engine.close()
    if args.json:
        print(json.dumps({"items": runs, "total": total}, ensure_ascii=False))
        return 0
    if not runs:
        print("no runs" if not (statuses or args.recipe) else "no runs match")
    for run in runs:
        dry = " (dry run)" if run["dry_run"] else ""
        print(f"{run['id']}  {run['recipe']:<24} {run['status']:<9} "
              f"{_when(run['started_at'])} → {_when(run['finished_at'])} UTC{dry}")
        if run["error"]:
            print(f"    {run['error']}")
    if total > len(runs):
        print(f"{len(runs)} of {total} runs shown; --limit N shows more")
    return 0


ORIGIN = {"builtin": "built-in", "extra": "given in-process", "entry_point": "entry point",
          "plugins_dir": "plugins folder"}


def cmd_plugins(args) -> int:
    """List plugins: where each comes from and what it registered; then load failures, disabled plugins, warnings."""
    listing = _validator()[0].registry.listing()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    print(f"tool types ({len(listing['tool_types'])}): {', '.join(listing['tool_types'])}")
    for plugin in listing["plugins"]:
        version = f" {plugin['version']}" if plugin["version"] else ""
        print(f"{plugin['name']}{version}  from {ORIGIN.get(plugin['origin'], plugin['origin'])} {plugin['source']}")
        for label in ("triggers", "actions", "connection_types", "services"):
            if plugin[label]:
                print(f"  {label.replace('_', ' ')} ({len(plugin[label])}): {', '.join(plugin[label])}")
    for failure in listing["failures"]:
        print(f"FAILED {failure['name']}: {failure['error']}")
        print(f"  from {ORIGIN.get(failure['origin'], failure['origin'])} {failure['source']}")
    for disabled in listing["disabled"]:
        print(f"DISABLED {disabled['name']} (BEFFROI_DISABLE_PLUGINS): "
              f"{ORIGIN.get(disabled['origin'], disabled['origin'])} {disabled['source']}")
    for warning in listing["warnings"]:
        print(f"WARNING {warning}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="beffroi", description="Automation recipes for communication teams.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check recipe files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("run", help="run a recipe file once")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--payload", help="trigger event as JSON, or @file.json")
    p.add_argument("--dry-run", action="store_true",
                   help="preview every step; nothing is sent (without --payload: the trigger's sample event)")
    p.add_argument("--live-sample", action="store_true",
                   help="with --dry-run: preview with the newest item of the polled source (a feed, a folder, the "
                        "contact base) instead of the sample; nothing is marked as seen")
    p.add_argument("--json", action="store_true", help="print the run as one JSON object")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("resume", help="resume runs interrupted by a crash (exit 1 if one of them fails)")
    p.set_defaults(func=cmd_resume)
    p = sub.add_parser("runs", help="list recent runs, newest first (failed ones with their error)")
    p.add_argument("--failed", action="store_true", help="only failed runs (same as --status failed)")
    p.add_argument("--status", action="append", default=[], metavar="S",
                   help="only runs in this status: queued, running, waiting, succeeded, failed or cancelled "
                        "(repeat it for several)")
    p.add_argument("--recipe", metavar="NAME", help="only runs of this recipe")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="at most N runs (default 20)")
    p.add_argument("--json", action="store_true", help="print the runs as one JSON object")
    p.set_defaults(func=cmd_runs)
    p = sub.add_parser("plugins", help="list plugins (where each comes from, what it provides), load failures "
                                       "and disabled plugins",
                       description="Plugins load from the built-ins, installed distributions (entry points) and "
                                   "BEFFROI_PLUGINS_DIR; BEFFROI_DISABLE_PLUGINS=a,b leaves plugins out by name.")
    p.add_argument("--json", action="store_true", help="print plugins, failures, disabled and warnings as JSON")
    p.set_defaults(func=cmd_plugins)
    add_commands(sub)
    add_connection_commands(sub)
    add_user_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `beffroi` console script."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["worker"]:  # the worker has its own options parser
            return cmd_worker(argv[1:])
        args = build_parser().parse_args(argv)
        if args.command == "token" and args.action == "create" and not args.name:
            build_parser().error("token create needs a NAME")
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return args.func(args)
    except SetupError as exc:  # a setup problem, not a bug: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader left (`beffroi plugins --json | head`): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 1


if __name__ == "__main__":
    sys.exit(main())
