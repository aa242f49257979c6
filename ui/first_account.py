"""The first account, made in the browser: `beffroi serve` prints a one-time link `/setup/<secret>` while no one has
an account; it opens a form that creates an admin. Core keeps the secret hashed with its expiry (an hour) and uses it
up (`engine.users.first_admin`); this page also insists on a browser on the serving machine: the client's address
and the address it asked for must both be loopback (a proxy on the same machine forwards a public host name).
Anything else gets the same plain refusal, which says nothing about why.
"""
from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from beffroi import PasswordTooShort

from .account_checks import account_problem, password_problems
from .routes import FieldProblem, _form
from .web import FLASHES, N_, SESSION_COOKIE, Refused, Visitor, redirect, render, set_cookie, visitor

router = APIRouter(include_in_schema=False)

FLASHES.update({
    "admin-first-account": N_("Your admin account is ready and you are signed in. Add the other people here."),
})


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address((host or "").strip("[]")).is_loopback
    except ValueError:
        return False


def _usable(request: Request, seen: Visitor, secret: str) -> None:
    """Refuse (403) unless the request comes from this machine, to it, with a link that still works."""
    client = request.client.host if request.client else None
    if not (_loopback(client) and _loopback(request.url.hostname)
            and seen.engine.users.setup_link_valid(secret)):
        raise _refusal(seen)


def _refusal(seen: Visitor) -> Refused:
    return Refused(403, seen.gettext("This setup link cannot be used. It works once, for an hour, in a browser on "
                                     "the machine where Beffroi runs, while no account exists. Create an account "
                                     "with `beffroi user create EMAIL --role admin`, or restart `beffroi serve` for "
                                     "a new link."))


@router.get("/setup/{secret}")
def setup_page(secret: str, request: Request, seen: Visitor = Depends(visitor)):
    """The form for the first admin account."""
    _usable(request, seen, secret)
    return render(seen, "admin_setup.html", secret=secret, minimum=PasswordTooShort.minimum)


@router.post("/setup/{secret}")
async def create_first_admin(secret: str, request: Request, seen: Visitor = Depends(visitor)):
    """Create the first admin with the link (used up), then sign them in."""
    form = await _form(request, seen)
    await run_in_threadpool(_usable, request, seen, secret)
    values = {"email": form.get("email", "").strip(), "name": form.get("name", "").strip()}
    problems: list[FieldProblem] = []
    if not values["email"]:
        problems.append(FieldProblem("email", seen.gettext("Enter your e-mail address.")))
    if not values["name"]:
        problems.append(FieldProblem("name", seen.gettext("Enter your name.")))
    problems += password_problems(seen, form.get("password", ""), form.get("password-again", ""))
    if not problems:
        try:
            user = await run_in_threadpool(lambda: seen.engine.users.first_admin(
                secret, values["email"], form["password"], name=values["name"]))
        except LookupError:  # used by another request meanwhile
            raise _refusal(seen) from None
        except ValueError as exc:
            problems.append(await run_in_threadpool(account_problem, seen, exc, values["email"]))
        else:
            clear = await run_in_threadpool(seen.engine.users.start_session, user)
            response = redirect(seen, "/admin/users", "admin-first-account")
            set_cookie(request, response, SESSION_COOKIE, clear, None)
            return response
    return render(seen, "admin_setup.html", 400, secret=secret, minimum=PasswordTooShort.minimum, errors=problems,
                  values=values)
