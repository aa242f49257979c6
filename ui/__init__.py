"""Beffroi's web UI: server-rendered pages served by the engine's FastAPI app (`install(app)` adds them).

The UI imports only the facade `beffroi` (an import-linter contract checks it), as plugins do.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from beffroi import SignInThrottle

from . import (
    pages_admin,
    pages_approvals,
    pages_audit,
    pages_builder,
    pages_calendar,
    pages_catalog,
    pages_connections,
    pages_contact_import,
    pages_contact_rights,
    pages_contacts,
    pages_outbox,
    pages_recipes,
    pages_results,
    pages_runs,
    pages_testing,
)
from .routes import router
from .web import Refused, SignInRequired, render, sign_in_address, visitor

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the pages, `/static` and the pages of refusals (sign in first, 403, 404) to an engine's app."""
    app.state.sign_in_throttle = SignInThrottle(app.state.engine.db)  # shared by every process
    app.include_router(router)
    # the builder first: its /recipes/new comes before the recipes' /recipes/{name}
    for area in (pages_builder, pages_recipes, pages_testing, pages_runs, pages_connections, pages_admin,
                 pages_catalog, pages_approvals, pages_audit, pages_outbox, pages_results, pages_calendar):
        app.include_router(area.router)
    # the import first: its /contacts/import comes before a contact's /contacts/{contact_id}
    for area in (pages_contact_import, pages_contact_rights, pages_contacts):
        app.include_router(area.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def sign_in_first(request: Request, exc: Exception):
        return RedirectResponse(sign_in_address(request), status_code=303)

    async def refused(request: Request, exc: Exception):
        assert isinstance(exc, Refused)
        seen = await run_in_threadpool(visitor, request)
        return render(seen, "error.html", exc.status, code=exc.status, reason=exc.reason)

    async def page_error(request: Request, status: int):
        """The page of an HTTP error on a page address (core's handler calls it for browsers)."""
        seen = await run_in_threadpool(visitor, request)
        reason = (seen.gettext("There is nothing at this address. Check it, or start again from the home page.")
                  if status == 404 else seen.gettext("This request could not be served."))
        return render(seen, "error.html", status, code=status, reason=reason)

    app.add_exception_handler(SignInRequired, sign_in_first)
    app.add_exception_handler(Refused, refused)
    app.state.page_error = page_error
