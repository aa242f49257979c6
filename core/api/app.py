"""The FastAPI application: routes, JSON errors (never a traceback), OpenAPI at /openapi.json, read at /docs."""
from __future__ import annotations

import importlib
import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from .. import __version__
from ..engine import Engine
from ..intake import Intake
from ..messages import plain
from ..recipes import RecipeInvalid, format_loc
from . import docs, openapi
from .problems import FieldError, problem
from .routes import approvals, connections, hooks, meta, outbox, recipes, runs, tokens

log = logging.getLogger("beffroi.api")


def create_app(engine: Engine, *, lifespan=None) -> FastAPI:
    """Build the API around one engine (tests build their own)."""
    app = FastAPI(title="Beffroi", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Automation recipes for communication teams. Authenticate with a bearer token. "
                              "Errors are problem details (RFC 9457, application/problem+json).")
    app.state.engine = engine
    app.state.token_cache = {}
    app.state.hook_cache = {}
    # On a server database a commit waits for the network and the disk: the intake commits in its own thread.
    app.state.intake = Intake(engine.journal, lambda run_ids: engine.queue.submit_many(run_ids),
                              in_thread=not engine.db.is_sqlite)
    # Deliveries first, as a plain route (see routes/hooks.py); hooks.router only documents them.
    app.add_route("/hooks/{name}", hooks.deliver, methods=["POST"], include_in_schema=False)
    for module in (meta, recipes, connections, runs, approvals, tokens, outbox):
        app.include_router(module.router, prefix="/api")
    app.include_router(hooks.router)
    for router in engine.host.routers():  # the tool plugins' own endpoints (CRM, metrics, outbox…)
        app.include_router(router)

    docs.install(app)  # /docs and /redoc from files of a Python package: no CDN
    openapi.install(app)

    app.state.page_error = None
    try:  # the web UI at /, loaded by name as plugins are (core never imports it)
        ui = importlib.import_module("beffroi_ui")
    except ModuleNotFoundError as exc:
        if exc.name != "beffroi_ui":
            raise
        app.add_api_route("/", lambda: RedirectResponse("/docs"), include_in_schema=False)
    else:
        ui.install(app)

    @app.exception_handler(RecipeInvalid)
    async def recipe_invalid(request: Request, exc: RecipeInvalid):
        return problem(422, f"the recipe has {len(exc.problems)} problem(s)",
                       [{"loc": p.loc, "message": p.message} for p in exc.problems])

    @app.exception_handler(FieldError)
    async def field_error(request: Request, exc: FieldError):
        return problem(exc.status, str(exc), [{"loc": exc.loc, "message": exc.message}])

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
        if broken is not None:  # not JSON at all: a 400 that says where, as for a webhook delivery
            where = broken["loc"][-1] if isinstance(broken["loc"][-1], int) else None
            reason = (broken.get("ctx") or {}).get("error") or "malformed"
            return problem(400, f"the body is not valid JSON: {reason}"
                           + (f" (at character {where})" if where is not None else ""))
        errors = [{"loc": format_loc([p for p in e["loc"] if p != "body"]), "message": plain(e)} for e in exc.errors()]
        return problem(422, "; ".join(f"{e['loc']}: {e['message']}" if e["loc"] else e["message"] for e in errors),
                       errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = str(exc.detail)
        if request.app.state.page_error is not None and _wants_page(request):
            return await request.app.state.page_error(request, exc.status_code)
        if exc.status_code == 404 and detail == "Not Found":  # no route: say so without echoing the address
            detail = "there is nothing at this address; the API is described at /docs"
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            detail = f"this address does not take {request.method} requests"
        return problem(exc.status_code, detail, headers=exc.headers)

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, exc: ClientDisconnect):
        return Response(status_code=499)  # the client left mid-request; nothing was stored, nothing to say

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception):
        error_id = uuid.uuid4().hex[:12]
        log.exception("error %s on %s %s", error_id, request.method, request.url.path)
        return problem(500, f"internal error {error_id}; the server log has the details")

    app.add_middleware(NoSniff)

    return app


def _wants_page(request: Request) -> bool:
    """A browser asking for a page (not the API, a webhook delivery or the API docs): errors are HTML pages."""
    path = request.url.path
    return ("text/html" in request.headers.get("accept", "")
            and not path.startswith(("/api/", "/hooks/", "/docs", "/redoc", "/openapi")))


class NoSniff:
    """Every answer says `X-Content-Type-Options: nosniff` (no browser guesses a type we did not send)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.app(scope, receive, sending)
