"""`beffroi connection`: create, list, show, test and delete stored connections, with the API's rules and checks.

Secrets never come from the command line (argv is visible to every user of the machine and kept in shell
histories): they are prompted for without echo on a terminal, else read from stdin, one line per secret.
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

MASK = "********"

CREATE_HELP = """\
Store a connection (an account of a tool) under NAME, checked as the API checks it.

Settings: --field KEY=VALUE for each setting (a value that reads as JSON is taken as such, so port=587,
enabled=true and tags=["a","b"] give a number, a boolean and a list, except for text settings, which keep
the text as typed), or --json-config FILE holding a JSON object of settings (--field values go on top).

Secrets (the password and token settings of the type) are never given as --field: on a terminal they are asked
for without echo; otherwise they are read from stdin, one line per secret, in the order
`beffroi connection create --type T --list-secrets` prints (an empty line leaves that secret out). --secret FIELD
reads only the secrets named (in the order given), e.g. for a mail server that needs no login.
A secret may also come in --json-config FILE; it is then not asked for.

Example:  printf '%s\\n' "$MASTODON_TOKEN" | beffroi connection create city-mastodon --type mastodon \\
              --field base_url=https://social.example.org
"""


def _with_engine(verb: Callable[[argparse.Namespace, Any], int]) -> Callable[[argparse.Namespace], int]:
    """`verb(args, engine)` as a command: an engine of its own, closed after; an unknown name exits 1."""
    def command(args: argparse.Namespace) -> int:
        from .connections import ConnectionNotFound
        from .engine import Engine  # late: `beffroi --help` stays instant

        engine = Engine()
        try:
            return verb(args, engine)
        except ConnectionNotFound as exc:
            return _fail(str(exc), 1)
        finally:
            engine.close()

    command.__doc__ = verb.__doc__
    return command


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `beffroi connection …` on the main parser."""
    top = sub.add_parser("connection", help="stored connections: create, list, show, test, delete",
                         description="Connections are the accounts recipes use (a Mastodon account, a mail "
                                     "server). Secrets are write-only: nothing here prints them.")
    verbs = top.add_subparsers(dest="verb", required=True, metavar="{create,list,show,test,delete}")
    p = verbs.add_parser("create", help="store a connection (secrets from a prompt or stdin)", description=CREATE_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", nargs="?", help="lowercase letters, digits and -, e.g. city-mastodon")
    p.add_argument("--type", required=True, metavar="T", help="connection type, e.g. mastodon, smtp "
                                                               "(`beffroi plugins` lists them)")
    p.add_argument("--field", action="append", default=[], metavar="KEY=VALUE", help="a setting that is no secret")
    p.add_argument("--json-config", metavar="FILE", help="settings as a JSON object (secrets allowed here)")
    p.add_argument("--secret", action="append", default=None, metavar="FIELD",
                   help="read only this secret (repeatable; in this order); default: every secret of the type")
    p.add_argument("--list-secrets", action="store_true",
                   help="print the secrets of --type, in the order they are read, and stop (no NAME needed)")
    p.add_argument("--replace", action="store_true", help="replace a connection of that name (all its settings)")
    p.add_argument("--json", action="store_true", help="print the stored connection as JSON")
    p.set_defaults(func=_with_engine(cmd_create))
    p = verbs.add_parser("list", help="every connection: name, type, tool type, created, updated")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_with_engine(cmd_list))
    p = verbs.add_parser("show", help="one connection's settings (secrets shown as ********)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help="as the API shows it: secrets as set (true) or not")
    p.set_defaults(func=_with_engine(cmd_show))
    p = verbs.add_parser("test", help="the type's own check (a login, a request, an SMTP hello); exit 0 when it "
                                      "works, 1 when not (or when its type has no check)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_with_engine(cmd_test))
    p = verbs.add_parser("delete", help="delete a connection (asks first unless --yes)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=_with_engine(cmd_delete))


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _when(iso: str) -> str:
    return iso[:19].replace("T", " ")


# -- create --------------------------------------------------------------------------------------

def _text_settings(model) -> set[str]:
    """The settings whose JSON Schema accepts a string: their --field values stay text as typed."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})

    def kinds(prop: dict) -> set[str]:
        if "$ref" in prop:
            return kinds(defs.get(prop["$ref"].rsplit("/", 1)[-1], {}))
        found = {prop["type"]} if isinstance(prop.get("type"), str) else set(prop.get("type") or ())
        if "enum" in prop and not found:
            found |= {"string" for value in prop["enum"] if isinstance(value, str)}
        for member in prop.get("anyOf", []) + prop.get("oneOf", []) + prop.get("allOf", []):
            found |= kinds(member)
        return found

    return {name for name, prop in schema.get("properties", {}).items() if "string" in kinds(prop)}


def _promptable(secrets: set[str]) -> list[str]:
    """Secrets that one line can give (`token`, `login.password`), in no particular order."""
    return [path for path in secrets if "[]" not in path and "*" not in path]


def _order(model, secrets: list[str]) -> list[str]:
    """Secrets in the order their settings are declared (top-level field order, then the path)."""
    fields = list(model.model_fields)
    return sorted(secrets, key=lambda path: (fields.index(path.split(".")[0]) if path.split(".")[0] in fields
                                             else len(fields), path))


def _put(config: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        config = config.setdefault(part, {})
    config[last] = value


def _get(config: dict, path: str) -> Any:
    """The value at a dotted path of the settings, or None."""
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _settings(args, model, secrets: set[str]) -> dict:
    """The settings from --json-config and --field; a ValueError says what is wrong (never echoing a value)."""
    config: dict = {}
    if args.json_config:
        try:
            config = json.loads(Path(args.json_config).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"cannot read --json-config {args.json_config}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            # a JSONDecodeError's text names the position, not the content
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "it is not UTF-8 text"
            raise ValueError(f"--json-config {args.json_config} is not valid JSON: {reason}") from None
        if not isinstance(config, dict):
            raise ValueError(f"--json-config {args.json_config} must hold a JSON object of settings")
    text = _text_settings(model)
    roots = {path.split(".")[0].split("[")[0] for path in secrets}
    for item in args.field:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--field takes KEY=VALUE, e.g. base_url=https://social.example.org (got {key!r} "
                             "without '=')" if key else "--field takes KEY=VALUE")
        if key in roots:
            raise ValueError(f"--field {key}: {key} holds a secret; leave it out, it is asked for (or read from "
                             "stdin) so that it never shows in the command line")
        if key not in text:
            try:
                value = json.loads(value)
            except ValueError:
                pass
        config[key] = value
    return config


def _read_secrets(fields: list[str]) -> dict[str, str]:
    """Each secret from a prompt without echo (a terminal) or one line of stdin; empty: left out."""
    found = {}
    tty = sys.stdin.isatty()
    for path in fields:
        if tty:
            value = getpass.getpass(f"{path} (secret, not shown; Enter to leave it out): ")
        else:
            line = sys.stdin.readline()
            if not line:  # end of input: the secrets not given are left out
                break
            value = line.rstrip("\r\n")
        if value:
            found[path] = value
    return found


def cmd_create(args, engine) -> int:
    """Store a connection: settings from --field / --json-config, secrets from a prompt or stdin."""
    from .config_secrets import secret_fields
    from .connections import ConnectionExists, ConnectionProblem, check_name
    from .redaction import scrub

    try:
        spec = engine.connections.spec(args.type)
    except ConnectionProblem as exc:
        return _fail(f"{exc}; the types are: {', '.join(sorted(engine.registry.connection_types))}")
    secrets = secret_fields(spec.config_model)
    ordered = _order(spec.config_model, _promptable(secrets))
    if args.list_secrets:
        print("\n".join(ordered) if ordered else f"connections of type {args.type} have no secrets")
        return 0
    if not args.name:
        return _fail("connection create needs a NAME")
    try:
        check_name(args.name)
        config = _settings(args, spec.config_model, secrets)
    except (ConnectionProblem, ValueError) as exc:
        return _fail(str(exc))
    if not args.replace and engine.connections.find(args.name) is not None:
        return _fail(f"a connection named {args.name!r} already exists (--replace replaces it)", 1)
    if args.secret is not None:
        unknown = [name for name in args.secret if name not in ordered]
        if unknown:
            return _fail(f"--secret {unknown[0]}: connections of type {args.type} have no such secret; theirs: "
                         f"{', '.join(ordered) or 'none'}")
        wanted = list(dict.fromkeys(args.secret))
    else:
        wanted = [path for path in ordered if _get(config, path) is None]
    for path, value in _read_secrets(wanted).items():
        _put(config, path, value)
    given = [value for path in ordered if isinstance(value := _get(config, path), str)]  # to keep out of messages
    try:
        engine.connections.create(args.name, args.type, config, replace=args.replace)
    except ConnectionExists as exc:  # created by someone else since the check above
        return _fail(f"{exc} (--replace replaces it)", 1)
    except ConnectionProblem as exc:
        message = scrub(str(exc), given)
        if not sys.stdin.isatty() and any(f"config.{path}:" in message for path in wanted):
            message += f"\n(secrets are read from stdin, one line each, in this order: {', '.join(wanted)})"
        return _fail(message)
    engine.audit.record("cli", "connection.created", "connection", args.name, {"type": args.type})
    shown = engine.connections.public(engine.connections.row(args.name))
    if args.json:
        print(json.dumps(shown, ensure_ascii=False))
        return 0
    stored = [name for name, is_set in shown["secrets"].items() if is_set]
    print(f"connection {args.name!r} ({args.type}, {spec.tool_type}) {'saved' if args.replace else 'created'}"
          f"{'; secrets stored: ' + ', '.join(stored) if stored else ''}")
    print(f"check it with: beffroi connection test {args.name}")
    return 0


# -- list, show, test, delete --------------------------------------------------------------------

def cmd_list(args, engine) -> int:
    """Every connection, one line each (secrets: only whether they are set)."""
    connections = engine.connections.listing()
    if args.json:
        print(json.dumps(connections, ensure_ascii=False))
        return 0
    if not connections:
        print("no connections (beffroi connection create NAME --type T creates one)")
        return 0
    print(f"{'NAME':<24} {'TYPE':<14} {'TOOL TYPE':<10} {'CREATED (UTC)':<20} UPDATED (UTC)")
    for c in connections:
        print(f"{c['name']:<24} {c['type']:<14} {c['tool_type'] or '?':<10} {_when(c['created_at']):<20} "
              f"{_when(c['updated_at'])}")
    return 0


def cmd_show(args, engine) -> int:
    """One connection: its settings, each secret as ******** (or `not set`)."""
    shown = engine.connections.public(engine.connections.row(args.name))
    if args.json:
        print(json.dumps(shown, ensure_ascii=False))
        return 0
    print(f"{shown['name']}: {shown['type']} ({shown['tool_type'] or 'no loaded plugin provides this type'})")
    print(f"  created {_when(shown['created_at'])} UTC, updated {_when(shown['updated_at'])} UTC")
    for key, value in shown["config"].items():
        print(f"  {key}: {json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value}")
    for key, is_set in shown["secrets"].items():
        print(f"  {key}: {MASK if is_set else '(not set)'}")
    return 0


def cmd_test(args, engine) -> int:
    """The connection type's own check; exit 0 when it works, 1 when not."""
    result = engine.connections.test(args.name, engine.http)
    if args.json:
        print(json.dumps({"name": args.name, **result}, ensure_ascii=False))
    elif result["ok"]:
        print(f"✓ {args.name} works: {result['message']}")
    elif result["ok"] is None:
        print(f"– {args.name} was not checked: {result['message']}")
    else:
        print(f"✗ {args.name} does not work: {result['message']}")
    return 0 if result["ok"] else 1


def cmd_delete(args, engine) -> int:
    """Delete a connection, after a yes (or with --yes)."""
    row = engine.connections.row(args.name)
    if not args.yes:
        print(f"Delete the connection {row.name!r} ({row.type})? Recipes that name it stop working. [y/N] ",
              end="", flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):  # no answer (end of input) is no
            print("not deleted")
            return 1
    engine.delete_connection(args.name, actor="cli")
    print(f"connection {args.name!r} deleted")
    return 0
