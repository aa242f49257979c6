"""Webhooks: `POST /hooks/{name}` starts the recipe of that name whose trigger is a webhook (`kind="webhook"`).

Deliveries are the hot path, so `deliver` is a plain Starlette route that create_app() registers before
the API routers: FastAPI's dependency solving and validation would cost more than the delivery's own work.
The APIRoute below (`receive`) documents the endpoint in OpenAPI and runs the same code.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from ...recipe_store import RecipeNotFound
from ...recipes import Recipe, mask_secrets
from ...webhooks import WebhookRejected, delivery_id, verify
from ..problems import is_json, json_kind, json_refused, problem_responses

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("beffroi.webhooks")
MAX_BODY = 1024 * 1024
CACHE_SECONDS = 2.0  # a recipe edited in another process applies within this delay


@dataclass(frozen=True)
class Hook:
    """A webhook recipe ready for deliveries: its checks, and the definition each run stores."""

    recipe: Recipe
    version: int
    config: Any  # the validated `with` of the trigger (a WebhookConfig)
    definition: dict
    receive: Callable[[dict[str, Any], Any], dict[str, Any] | None] | None = None  # the trigger's own reading


class Accepted(BaseModel):
    """A delivery stored as a run, queued."""

    status: str = Field(examples=["accepted"])
    run: str = Field(description="the run's id (GET /api/runs/{id} with an editor token)")


class NoRun(BaseModel):
    """A delivery that starts no run: `duplicate` (its delivery id was seen before) or `ignored` (the trigger reads
    it as one that starts nothing, such as a notification of another kind)."""

    status: str = Field(examples=["duplicate", "ignored"])
    delivery: str | None = Field(None, description="the delivery id (of a duplicate)")


DELIVERY = {"requestBody": {"required": False, "content": {
    "application/json": {"schema": {"type": "object", "additionalProperties": True}},
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": {"type": "string"}}}}}}


async def _body(request: Request) -> bytes:
    """The raw body, refused with 413 past 1 MiB without reading it all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, "the body is larger than 1 MiB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, "the body is larger than 1 MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _event(content_type: str, body: bytes):
    """The delivery as data: JSON or a form; anything else is refused."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if is_json(kind):
        refused = json_refused(body)
        if refused is not None:
            raise HTTPException(400, refused)
        try:
            event = json.loads(body) if body else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"malformed JSON: {exc}") from None
        if not isinstance(event, dict):
            raise HTTPException(422, f"a delivery must be a JSON object ({{\"key\": value, …}}), "
                                     f"not {json_kind(event)}")
        return event
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise HTTPException(400, "the form is not valid UTF-8") from None
    raise HTTPException(415, "send application/json or application/x-www-form-urlencoded")


def _load(engine, name: str) -> Hook | None:
    """The stored recipe as a Hook; None when it is not an enabled webhook."""
    recipe, version = engine.recipes.get(name)
    spec = engine.registry.triggers.get(recipe.trigger.uses)
    if spec is None or spec.kind != "webhook" or spec.config_model is None or not recipe.enabled:
        return None
    config = spec.config_model.model_validate(recipe.trigger.with_)
    return Hook(recipe, version, config, mask_secrets(recipe.to_data()), spec.receive)


def _reason(exc: ValueError) -> str:
    """Why a delivery cannot be read, in one line: the first field a model refused, with where it is."""
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__  # the trigger's own words for the sender


def _received(hook: Hook, event: dict[str, Any]) -> dict[str, Any] | None:
    """The run's event as the trigger reads the delivery (the delivery itself when it has no `receive`)."""
    if hook.receive is None:
        return event
    try:
        received = hook.receive(event, hook.config)
    except ValueError as exc:  # pydantic's ValidationError included: the sender's body is not what it should be
        raise HTTPException(422, f"{hook.recipe.trigger.uses} cannot read this delivery: {_reason(exc)}") from None
    except Exception as exc:  # a bug of the plugin: the sender is told, the log has the details
        log.exception("trigger %s failed to read a delivery to %s", hook.recipe.trigger.uses, hook.recipe.name)
        raise HTTPException(422, f"{hook.recipe.trigger.uses} cannot read this delivery "
                                 f"({type(exc).__name__})") from None
    if received is not None and not isinstance(received, dict):
        log.error("trigger %s returned a %s from receive(), not a dict", hook.recipe.trigger.uses,
                  type(received).__name__)
        raise HTTPException(422, f"{hook.recipe.trigger.uses} cannot read this delivery")
    return received


async def _hook(request: Request, engine, name: str) -> Hook:
    """The webhook of that name, cached for a moment: a burst of deliveries reads it once."""
    cache: dict = request.app.state.hook_cache
    hit = cache.get(name)
    now = time.monotonic()
    if hit is None or hit[1] <= now or hit[2] != engine.recipes.generation:
        generation = engine.recipes.generation
        try:
            hook = await run_in_threadpool(_load, engine, name)
        except RecipeNotFound:
            raise HTTPException(404, f"no webhook named {name!r}") from None
        hit = cache[name] = (hook, now + CACHE_SECONDS, generation)
    if hit[0] is None:
        raise HTTPException(404, f"no enabled webhook named {name!r}")
    return hit[0]


async def accept(request: Request, name: str) -> JSONResponse:
    """Authenticate a delivery, store it as a run (deduplicated by delivery id) and queue it, then answer.

    Runs are stored through the app's Intake: the deliveries of one turn of the event loop share a commit.
    """
    engine = request.app.state.engine
    hook = await _hook(request, engine, name)
    body = await _body(request)
    try:
        verify(hook.config, headers=request.headers, query=request.query_params, body=body)
    except WebhookRejected as exc:
        raise HTTPException(exc.status, str(exc)) from None
    event = _received(hook, _event(request.headers.get("content-type", ""), body))
    if event is None:
        return JSONResponse(status_code=200, content={"status": "ignored"})
    key = delivery_id(hook.config, request.headers)
    run_id = await request.app.state.intake.start_run(
        recipe_name=hook.recipe.name, definition=hook.definition, event=event, version=hook.version,
        trigger_key=f"delivery:{key}" if key else None)
    if run_id is None:
        return JSONResponse(status_code=200, content={"status": "duplicate", "delivery": key})
    return JSONResponse(status_code=202, content={"status": "accepted", "run": run_id})


async def deliver(request: Request) -> JSONResponse:
    """The Starlette endpoint that serves POST /hooks/{name} (see the module docstring)."""
    return await accept(request, request.path_params["name"])


@router.post("/hooks/{name}", status_code=202, response_model=None, openapi_extra=DELIVERY, responses={
    202: {"model": Accepted, "description": "Accepted: stored and queued"},
    200: {"model": NoRun, "description": "A delivery id already seen, or a delivery the trigger "
                                                       "reads as one that starts nothing: no new run"},
    **problem_responses(400, 401, 404, 413, 415, 422)})
async def receive(name: str, request: Request):
    """Authenticate a delivery, store it as a run (deduplicated by delivery id), then answer.

    Send JSON or a form, with the recipe's check: the shared token (`X-Beffroi-Token` header or `?token=`),
    or an HMAC-SHA256 signature of the body. 202 `{"status": "accepted", "run": id}`; 200 with
    `"duplicate"` for a delivery id already seen, or `"ignored"` for a delivery the recipe's trigger reads as
    one that starts nothing.
    """
    return await accept(request, name)
