"""The pages of this slice: sign-in, sign-out, change of password and the language switch (the recipes home is in
pages_recipes)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from beffroi import PasswordTooShort

from . import i18n
from .web import (
    LANGUAGE_COOKIE,
    N_,
    SESSION_COOKIE,
    Visitor,
    check_form,
    local,
    person,
    redirect,
    render,
    set_cookie,
    visitor,
)

router = APIRouter(include_in_schema=False)
# the statuses of runs, in the catalogs: shown translated
STATUS_NAMES = (N_("queued"), N_("running"), N_("waiting"), N_("succeeded"), N_("failed"), N_("cancelled"))


@dataclass(frozen=True)
class FieldProblem:
    """A form error: the id of the field it concerns and its text (shown beside it and in the summary)."""

    field: str
    text: str


async def _form(request: Request, seen: Visitor) -> dict[str, str]:
    """The fields of a posted form (text only), once its CSRF token is checked."""
    data = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_form(seen, data)
    return data


@router.get("/login")
def login_page(next: str = "/", seen: Visitor = Depends(visitor)):
    """The sign-in form (a signed-in visitor goes straight on)."""
    if seen.user is not None:
        return redirect(seen, local(next))
    return render(seen, "login.html", next=local(next))


@router.post("/login")
async def login(request: Request, seen: Visitor = Depends(visitor)):
    """Check the address and password; at most 5 failures in 15 minutes per account and per client address."""
    form = await _form(request, seen)
    email, password, target = form.get("email", "").strip(), form.get("password", ""), local(form.get("next"))
    problems: list[FieldProblem] = []
    if not email:
        problems.append(FieldProblem("email", seen.gettext("Enter your e-mail address.")))
    if not password:
        problems.append(FieldProblem("password", seen.gettext("Enter your password.")))
    status = 400
    if not problems:
        throttle = request.app.state.sign_in_throttle
        keys = (f"account:{email.lower()}", f"address:{request.client.host if request.client else '-'}")
        wait = throttle.wait(*keys)
        if wait > 0:
            minutes = max(1, math.ceil(wait / 60))
            problems.append(FieldProblem("email", seen.ngettext(
                "Too many failed sign-ins. Wait %(num)d minute before trying again.",
                "Too many failed sign-ins. Wait %(num)d minutes before trying again.", minutes)))
            status = 429
        else:
            user = await _in_thread(seen.engine.users.verify, email, password)
            if user is None:
                throttle.failed(*keys)
                problems.append(FieldProblem("email", seen.gettext("The e-mail address or the password is not "
                                                                   "right.")))
            else:
                throttle.succeeded(keys[0])
                clear = await _in_thread(seen.engine.users.start_session, user)
                # the language they use the UI in: that of the e-mails Beffroi sends them (approval requests)
                await _in_thread(seen.engine.users.set_language, user.email, seen.language)
                response = redirect(seen, target)
                set_cookie(request, response, SESSION_COOKIE, clear, None)
                return response
    return render(seen, "login.html", status, next=target, errors=problems, values={"email": email})


async def _in_thread(function, *args):
    """Password hashing and SQL run in the thread pool: the event loop keeps serving."""
    from fastapi.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)


@router.post("/logout")
async def logout(request: Request, seen: Visitor = Depends(person)):
    """End the session (its row is deleted) and forget the cookie."""
    await _form(request, seen)
    assert seen.session_id is not None
    await _in_thread(seen.engine.users.end_session, seen.session_id)
    response = redirect(seen, "/login", "signed-out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/password")
def password_page(seen: Visitor = Depends(person)):
    """The form to change one's password."""
    return render(seen, "password.html", minimum=PasswordTooShort.minimum)


@router.post("/password")
async def change_password(request: Request, seen: Visitor = Depends(person)):
    """Check the current password, then set the new one (typed twice); other sessions end."""
    form = await _form(request, seen)
    assert seen.user is not None and seen.session_id is not None
    current, new, again = form.get("current", ""), form.get("new", ""), form.get("confirm", "")
    problems: list[FieldProblem] = []
    throttle = request.app.state.sign_in_throttle
    key = f"account:{seen.user.email}"
    if throttle.wait(key) > 0:
        problems.append(FieldProblem("current", seen.gettext("Too many wrong passwords. Try again later.")))
    elif await _in_thread(seen.engine.users.verify, seen.user.email, current) is None:
        throttle.failed(key)
        problems.append(FieldProblem("current", seen.gettext("Your current password is not right.")))
    if len(new) < PasswordTooShort.minimum:
        problems.append(FieldProblem("new", seen.gettext("The new password must have at least %(minimum)d "
                                                         "characters.", minimum=PasswordTooShort.minimum)))
    elif new != again:
        problems.append(FieldProblem("confirm", seen.gettext("The two new passwords are not the same.")))
    if problems:
        return render(seen, "password.html", 400, minimum=PasswordTooShort.minimum, errors=problems)
    email, session_id = seen.user.email, seen.session_id
    try:
        await _in_thread(lambda: seen.engine.users.set_password(email, new, keep_session=session_id))
    except PasswordTooShort:  # checked above; kept for a minimum that changes
        return render(seen, "password.html", 400, minimum=PasswordTooShort.minimum,
                      errors=[FieldProblem("new", seen.gettext("The new password is too short."))])
    return redirect(seen, "/", "password-changed")


@router.post("/language")
async def language(request: Request, seen: Visitor = Depends(visitor)):
    """Remember the chosen language (a cookie for a year; a signed-in person's e-mails too) and go back."""
    form = await _form(request, seen)
    chosen = form.get("language", "")
    response: Response = redirect(seen, local(form.get("next")))
    if chosen in i18n.LANGUAGES:
        set_cookie(request, response, LANGUAGE_COOKIE, chosen, 365 * 24 * 3600)
        if seen.user is not None:  # also the language of the e-mails Beffroi sends them
            await _in_thread(seen.engine.users.set_language, seen.user.email, chosen)
    return response
