"""One-time links to choose a password: an admin makes one for a new person or for someone who forgot theirs and
passes it on; the person opens it (from anywhere), types a password twice, and signs in. Core keeps only the
secret's hash, for 7 days, and uses it up (`engine.users.use_password_link`); the account's sessions end."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from beffroi import PasswordTooShort

from .account_checks import password_problems
from .routes import _form
from .web import FLASHES, N_, Refused, Visitor, redirect, render, visitor

router = APIRouter(include_in_schema=False)
DAYS = 7  # core's PASSWORD_LINK_LIFETIME, as said on the page that shows a link

FLASHES.update({
    "admin-password-chosen": N_("Your password is saved. Sign in with your e-mail address and this password."),
})


def show_link(seen: Visitor, request: Request, person: dict[str, Any], secret: str, status: int = 201):
    """The page that shows a new link once (in this answer only, not stored by the browser: no-store)."""
    link = f"{str(request.base_url).rstrip('/')}/choose-password/{secret}"
    return render(seen, "admin_link.html", status, person=person, link=link, days=DAYS)


def _refusal(seen: Visitor) -> Refused:
    return Refused(403, seen.gettext("This link cannot be used: it works once, for %(days)d days. Ask an admin of "
                                     "Beffroi for a new one.", days=DAYS))


def _owner(seen: Visitor, secret: str):
    owner = seen.engine.users.password_link_owner(secret)
    if owner is None:
        raise _refusal(seen)
    return owner


@router.get("/choose-password/{secret}")
def choose_page(secret: str, seen: Visitor = Depends(visitor)):
    """The form to choose one's password with a link."""
    return render(seen, "admin_choose_password.html", owner=_owner(seen, secret), secret=secret,
                  minimum=PasswordTooShort.minimum)


@router.post("/choose-password/{secret}")
async def choose(secret: str, request: Request, seen: Visitor = Depends(visitor)):
    """Set the password (typed twice) and use the link up; then the person signs in."""
    form = await _form(request, seen)
    owner = await run_in_threadpool(_owner, seen, secret)
    problems = password_problems(seen, form.get("password", ""), form.get("password-again", ""))
    if problems:
        return render(seen, "admin_choose_password.html", 400, owner=owner, secret=secret,
                      minimum=PasswordTooShort.minimum, errors=problems)
    try:
        await run_in_threadpool(seen.engine.users.use_password_link, secret, form["password"])
    except LookupError:  # used by another request meanwhile
        raise _refusal(seen) from None
    return redirect(seen, "/login", "admin-password-chosen")
