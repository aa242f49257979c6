"""`beffroi user …`: the accounts of the web UI (create, list, delete, password). Passwords are never arguments:
a prompt on a terminal, else one line of standard input."""
from __future__ import annotations

import argparse
import getpass
import sys

from .users import MIN_PASSWORD, USER_ROLES, PasswordTooShort


def _engine():
    from .engine import Engine

    return Engine()


def read_password() -> str:
    """The new password: asked twice on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password (at least {MIN_PASSWORD} characters): ")
        if getpass.getpass("The same password again: ") != first:
            raise SystemExit("error: the two passwords differ; nothing was changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_user(args) -> int:
    """Create, list, delete an account or set its password."""
    if args.action in ("create", "delete", "password") and not args.email:
        print(f"error: user {args.action} needs an EMAIL", file=sys.stderr)
        return 2
    if args.action == "delete" and not args.yes:
        print(f"error: deleting {args.email} ends their sessions for good; add --yes to confirm", file=sys.stderr)
        return 2
    password = read_password() if args.action in ("create", "password") else ""
    engine = _engine()
    try:
        if args.action == "create":
            user = engine.accounts.create_user(args.email, password, role=args.role, name=args.display_name,
                                              actor="cli")
            print(f"account {user.email} ({user.role}) created; they sign in at the web UI's /login")
        elif args.action == "list":
            users = engine.users.list()
            if not users:
                print("no accounts (create one with `beffroi user create EMAIL --role admin`)")
            for user in users:
                print(f"{user['email']:<32} {user['role']:<8} {user['name']:<24} "
                      f"last sign-in {(user['last_login_at'] or 'never')[:19].replace('T', ' ')}")
        elif args.action == "delete":
            if not engine.accounts.delete_user(args.email, actor="cli"):
                print(f"error: no account for {args.email}", file=sys.stderr)
                return 1
            print(f"account {args.email} deleted")
        else:
            if not engine.accounts.set_password(args.email, password, actor="cli"):
                print(f"error: no account for {args.email}", file=sys.stderr)
                return 1
            print(f"password of {args.email} changed; their open sessions were ended")
    except PasswordTooShort as exc:
        print(f"error: {exc}; nothing was changed", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.close()
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `beffroi user` on the main parser."""
    p = sub.add_parser("user", help="web UI accounts: create EMAIL --role R [--name N], list, delete EMAIL --yes, "
                                    "password EMAIL",
                       description="The password is read from a prompt on a terminal, else from one line of "
                                   f"standard input (at least {MIN_PASSWORD} characters); never from the command "
                                   "line.")
    p.add_argument("action", choices=["create", "list", "delete", "password"])
    p.add_argument("email", nargs="?", metavar="EMAIL")
    p.add_argument("--role", choices=USER_ROLES, default="editor", help="what the person may do (default editor)")
    p.add_argument("--name", dest="display_name", help="the name shown in the UI (default: the address before the @)")
    p.add_argument("--yes", action="store_true", help="confirm `delete`")
    p.set_defaults(func=cmd_user)
