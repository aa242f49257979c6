"""Administration, for admins only: the people who sign in (create, change a role, reset a password, delete).

The rules are core's (`engine.users`, as `beffroi user`): a role change, a new password or a deletion ends the
person's sessions; the last admin can be neither deleted nor demoted (`LastAdmin`). The page adds one rule of its
own: an admin does not delete themselves, nor reset their own password here (that is /password, which asks for
the current one).
The API tokens (admin_tokens.py) and the first account's setup link (first_account.py) are mounted here too.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from beffroi import LastAdmin, PasswordTooShort

from . import admin_tokens, first_account, i18n, password_links
from .account_checks import account_problem, password_problems
from .routes import FieldProblem, _form
from .web import FLASHES, N_, ROLE_NAMES, Refused, Visitor, redirect, render, role

router = APIRouter(include_in_schema=False)
router.include_router(admin_tokens.router)
router.include_router(first_account.router)
router.include_router(password_links.router)
admin = role("admin")

FLASHES.update({
    "admin-person-created": N_("The account was created. Give the person their address and password, by a channel "
                               "other than the one of the address."),
    "admin-role-changed": N_("The role was changed. The person’s sessions were ended: they sign in again."),
    "admin-password-reset": N_("The password was replaced. The person’s sessions were ended."),
    "admin-person-deleted": N_("The account was deleted and its sessions ended."),
})


def _person(seen: Visitor, user_id: str) -> dict[str, Any]:
    """An account by id, with its last sign-in in the visitor's language (a 404 page when there is none)."""
    found = seen.engine.users.find(user_id)
    if found is None:
        raise _missing(seen)
    found["last_seen"] = i18n.when(found["last_login_at"], seen.language, seen.engine.settings.timezone)
    return found


def _actor(seen: Visitor) -> str:
    """Who makes a change, as the audit log names them: the admin's e-mail."""
    assert seen.user is not None
    return seen.user.email


def _missing(seen: Visitor) -> Refused:
    return Refused(404, seen.gettext("There is no such account. It may have been deleted."))


def _not_yourself(seen: Visitor, found: dict[str, Any], what: str) -> None:
    assert seen.user is not None
    if found["id"] == seen.user.id:
        raise Refused(403, what)


@router.get("/admin/users")
def people(seen: Visitor = Depends(admin)):
    """Everyone who may sign in: address, name, role and last sign-in."""
    found = seen.engine.users.list()
    for person in found:
        person["last_seen"] = i18n.when(person["last_login_at"], seen.language, seen.engine.settings.timezone)
    return render(seen, "admin_users.html", people=found)


@router.get("/admin/users/new")
def new_person_page(seen: Visitor = Depends(admin)):
    """The form for a new account."""
    return render(seen, "admin_user_new.html", roles=ROLE_NAMES, minimum=PasswordTooShort.minimum,
                  values={"role": "editor"})


@router.post("/admin/users/new")
async def create_person(request: Request, seen: Visitor = Depends(admin)):
    """Create an account with an initial password typed twice; the admin gives it to the person."""
    form = await _form(request, seen)
    values = {"email": form.get("email", "").strip(), "name": form.get("name", "").strip(),
              "role": form.get("role", "")}
    problems: list[FieldProblem] = []
    if not values["email"]:
        problems.append(FieldProblem("email", seen.gettext("Enter the person’s e-mail address.")))
    if not values["name"]:
        problems.append(FieldProblem("name", seen.gettext("Enter the person’s name.")))
    if values["role"] not in ROLE_NAMES:
        problems.append(FieldProblem("role", seen.gettext("Choose a role.")))
    password, again = form.get("password", ""), form.get("password-again", "")
    by_link = not password and not again  # the person chooses their password with a one-time link
    if not by_link:
        problems += password_problems(seen, password, again)
    if not problems:
        try:
            user = await run_in_threadpool(lambda: seen.engine.accounts.create_user(
                values["email"], None if by_link else password, role=values["role"], name=values["name"],
                actor=_actor(seen)))
        except ValueError as exc:
            problems.append(await run_in_threadpool(account_problem, seen, exc, values["email"]))
        else:
            if not by_link:
                return redirect(seen, "/admin/users", "admin-person-created")
            secret = await run_in_threadpool(lambda: seen.engine.accounts.password_link(user.email,
                                                                                       actor=_actor(seen)))
            assert secret is not None
            return password_links.show_link(seen, request, _person(seen, user.id), secret)
    return render(seen, "admin_user_new.html", 400, roles=ROLE_NAMES, minimum=PasswordTooShort.minimum,
                  errors=problems, values=values)


@router.get("/admin/users/{user_id}")
def person_page(user_id: str, seen: Visitor = Depends(admin)):
    """One account: its role, a new password, and the way to delete it."""
    return render(seen, "admin_user.html", person=_person(seen, user_id), roles=ROLE_NAMES,
                  minimum=PasswordTooShort.minimum)


def _refusal_page(seen: Visitor, found: dict[str, Any], problem: FieldProblem, status: int = 400):
    return render(seen, "admin_user.html", status, person=found, roles=ROLE_NAMES, minimum=PasswordTooShort.minimum,
                  errors=[problem])


@router.post("/admin/users/{user_id}/role")
async def change_role(user_id: str, request: Request, seen: Visitor = Depends(admin)):
    """Give an account another role (its sessions end, one's own included); the last admin stays admin."""
    form = await _form(request, seen)
    found = _person(seen, user_id)
    chosen = form.get("role", "")
    if chosen not in ROLE_NAMES:
        return _refusal_page(seen, found, FieldProblem("role", seen.gettext("Choose a role.")))
    try:
        await run_in_threadpool(lambda: seen.engine.accounts.set_role(found["email"], chosen, actor=_actor(seen)))
    except LastAdmin:
        return _refusal_page(seen, found, FieldProblem("role", seen.gettext(
            "This is the last admin: make another account admin first, so that someone can still manage the "
            "others.")), 409)
    assert seen.user is not None
    return redirect(seen, "/" if found["id"] == seen.user.id else f"/admin/users/{user_id}", "admin-role-changed")


@router.post("/admin/users/{user_id}/password")
async def reset_password(user_id: str, request: Request, seen: Visitor = Depends(admin)):
    """Replace someone's password (typed twice); their sessions end."""
    form = await _form(request, seen)
    found = _person(seen, user_id)
    _not_yourself(seen, found, seen.gettext("Change your own password on the “My password” page."))
    problems = password_problems(seen, form.get("password", ""), form.get("password-again", ""))
    if problems:
        return _refusal_page(seen, found, problems[0])
    await run_in_threadpool(lambda: seen.engine.accounts.set_password(found["email"], form["password"],
                                                                      actor=_actor(seen)))
    return redirect(seen, f"/admin/users/{user_id}", "admin-password-reset")


@router.post("/admin/users/{user_id}/password-link")
async def make_password_link(user_id: str, request: Request, seen: Visitor = Depends(admin)):
    """A one-time link for someone to choose a new password (their former links stop working), shown once."""
    await _form(request, seen)
    found = _person(seen, user_id)
    _not_yourself(seen, found, seen.gettext("Change your own password on the “My password” page."))
    secret = await run_in_threadpool(lambda: seen.engine.accounts.password_link(found["email"], actor=_actor(seen)))
    if secret is None:
        raise _missing(seen)
    return password_links.show_link(seen, request, found, secret)


@router.get("/admin/users/{user_id}/delete")
def delete_page(user_id: str, seen: Visitor = Depends(admin)):
    """Ask before deleting an account."""
    found = _person(seen, user_id)
    _not_yourself(seen, found, seen.gettext("You cannot delete your own account. Ask another admin."))
    return render(seen, "admin_user_delete.html", person=found)


@router.post("/admin/users/{user_id}/delete")
async def delete_person(user_id: str, request: Request, seen: Visitor = Depends(admin)):
    """Delete an account and its sessions; never the last admin, never oneself."""
    await _form(request, seen)
    found = _person(seen, user_id)
    _not_yourself(seen, found, seen.gettext("You cannot delete your own account. Ask another admin."))
    try:
        await run_in_threadpool(lambda: seen.engine.accounts.delete_user(found["email"], actor=_actor(seen)))
    except LastAdmin:
        raise Refused(409, seen.gettext("This is the last admin: make another account admin first, so that someone "
                                        "can still manage the others.")) from None
    return redirect(seen, "/admin/users", "admin-person-deleted")
