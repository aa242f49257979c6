"""Administration of the API tokens, for admins only: the list (never a secret), a new token shown once, revocation.

The same store as the API (`engine.tokens`, core/api/routes/tokens.py). A new token's secret is written into the
answer to the form's POST (never into a redirect, a cookie or an address): the page is not stored (no-store), and
reloading or going back cannot show it again.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from . import i18n
from .routes import FieldProblem, _form
from .web import FLASHES, N_, Refused, Visitor, redirect, render, role

router = APIRouter(include_in_schema=False)
admin = role("admin")
TOKEN_ROLES = ("viewer", "editor", "admin")  # what a token may be given (core refuses anything else)

FLASHES.update({
    "admin-token-revoked": N_("The token was revoked: programs that use it are refused from now on."),
})


def _tokens(seen: Visitor) -> list[dict[str, Any]]:
    """Every token, newest first, with its times in the visitor's language."""
    found = seen.engine.tokens.list()
    for token in found:
        token["created"] = i18n.when(token["created_at"], seen.language, seen.engine.settings.timezone)
        token["last_used"] = i18n.when(token["last_used_at"], seen.language, seen.engine.settings.timezone)
    return found[::-1]


def _page(seen: Visitor, status: int = 200, **context: Any):
    context.setdefault("values", {"role": "editor"})
    context.setdefault("created", None)
    return render(seen, "admin_tokens.html", status, tokens=_tokens(seen), roles=TOKEN_ROLES, **context)


@router.get("/admin/tokens")
def tokens_page(seen: Visitor = Depends(admin)):
    """The API tokens and the form for a new one."""
    return _page(seen)


@router.post("/admin/tokens")
async def create_token(request: Request, seen: Visitor = Depends(admin)):
    """Create a token and show its secret in this answer only."""
    form = await _form(request, seen)
    values = {"name": form.get("name", "").strip(), "role": form.get("role", "")}
    problems: list[FieldProblem] = []
    if not values["name"]:
        problems.append(FieldProblem("name", seen.gettext("Enter a name that says which program uses the token.")))
    elif len(values["name"]) > 100:
        problems.append(FieldProblem("name", seen.gettext("The name must have at most 100 characters.")))
    if values["role"] not in TOKEN_ROLES:
        problems.append(FieldProblem("role", seen.gettext("Choose a role.")))
    if problems:
        return _page(seen, 400, errors=problems, values=values)
    assert seen.user is not None
    actor = seen.user.email
    info, clear = await run_in_threadpool(lambda: seen.engine.accounts.create_token(values["name"], values["role"],
                                                                                    actor=actor))
    return _page(seen, 201, created={"name": info.name, "role": info.role, "secret": clear})


def _token(seen: Visitor, token_id: str) -> dict[str, Any]:
    found = next((t for t in _tokens(seen) if t["id"] == token_id and not t["revoked"]), None)
    if found is None:
        raise Refused(404, seen.gettext("There is no such token, or it is already revoked."))
    return found


@router.get("/admin/tokens/{token_id}/revoke")
def revoke_page(token_id: str, seen: Visitor = Depends(admin)):
    """Ask before revoking a token."""
    return render(seen, "admin_token_revoke.html", token=_token(seen, token_id))


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke_token(token_id: str, request: Request, seen: Visitor = Depends(admin)):
    """Revoke a token: refused at once by this server, within seconds by the others (as the API's DELETE)."""
    await _form(request, seen)
    _token(seen, token_id)
    assert seen.user is not None
    actor = seen.user.email
    await run_in_threadpool(lambda: seen.engine.accounts.revoke_token(token_id, actor=actor))
    request.app.state.token_cache.clear()
    return redirect(seen, "/admin/tokens", "admin-token-revoked")
