"""The `beffroi` command: validate and run recipes, list plugins, resume interrupted runs."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from .recipes import RecipeInvalid, load_file

SYMBOL = {"succeeded": "✓", "failed": "✗", "skipped": "–", "pending": "·", "running": "…"}


def _engine(**kwargs):
    from .engine import Engine  # imported late so `beffroi --help` stays instant

    return Engine(**kwargs)


def _payload(text: str | None) -> Any:
    """The trigger event from `--payload`: JSON text, or @file holding JSON."""
    if text is None:
        return {}
    source = "--payload"
    if text.startswith("@"):
        source = text[1:]
        text = Path(source).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"error: {source} is not valid JSON: {exc}") from None


def cmd_validate(args) -> int:
    """Check recipe files; print OK or every problem with its location."""
    engine = _engine(migrate=False)
    failed = False
    for name in args.files:
        try:
            recipe = engine.validate(load_file(name), name)
            print(f"{name}: OK ({recipe.name}, {len(recipe.steps)} steps)")
        except RecipeInvalid as exc:
            failed = True
            print(f"{name}: {len(exc.problems)} problem(s)")
            for problem in exc.problems:
                print(f"  {problem}")
        except OSError as exc:
            failed = True
            print(f"{name}: cannot read: {exc.strerror}")
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
    """Run a recipe file once with the payload as its trigger event."""
    engine = _engine()
    try:
        recipe = engine.validate(load_file(args.file), args.file)
    except RecipeInvalid as exc:
        print(f"{args.file}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    run = engine.run_recipe(recipe, _payload(args.payload), dry_run=args.dry_run)
    if args.json:
        print(json.dumps({"id": run["id"], "status": run["status"], "dry_run": run["dry_run"], "error": run["error"],
                          "steps": [{k: s[k] for k in ("id", "status", "output", "error", "attempts")}
                                    for s in run["steps"]]}, ensure_ascii=False))
    else:
        _print_run(run)
    engine.close()
    return 0 if run["status"] == "succeeded" else 1


def cmd_resume(args) -> int:
    """Resume runs left unfinished by a process that died."""
    engine = _engine()
    engine.start_heartbeat()
    resumed = engine.resume_interrupted()
    for run_id in resumed:
        run = engine.runs.detail(run_id)
        print(f"resumed {run_id} ({run['recipe']}): {run['status']}")
    if not resumed:
        print("nothing to resume")
    engine.close()
    return 0


def cmd_plugins(args) -> int:
    """List plugins, what each provides, and load failures."""
    engine = _engine(migrate=False)
    registry = engine.registry
    plugins = [{"name": p.name, "version": p.version, "builtin": p.builtin, "triggers": p.triggers,
                "actions": p.actions, "connection_types": p.connection_types} for p in registry.plugins.values()]
    failures = [{"name": f.name, "error": f.error} for f in registry.failures]
    if args.json:
        print(json.dumps({"plugins": plugins, "failures": failures}, indent=2))
        return 0
    for plugin in plugins:
        version = f" {plugin['version']}" if plugin["version"] else (" (built-in)" if plugin["builtin"] else "")
        print(f"{plugin['name']}{version}")
        for label in ("triggers", "actions", "connection_types"):
            if plugin[label]:
                print(f"  {label.replace('_', ' ')}: {', '.join(plugin[label])}")
    for failure in failures:
        print(f"FAILED {failure['name']}: {failure['error']}")
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
    p.add_argument("--dry-run", action="store_true", help="preview every step; nothing is sent")
    p.add_argument("--json", action="store_true", help="print the run as one JSON object")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("resume", help="resume runs interrupted by a crash")
    p.set_defaults(func=cmd_resume)
    p = sub.add_parser("plugins", help="list plugins and load failures")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plugins)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `beffroi` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
