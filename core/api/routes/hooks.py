"""Webhooks: `POST /hooks/{name}` starts the recipe of that name whose trigger is `builtins.webhook`."""
from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ...recipe_store import RecipeNotFound
from ...webhooks import WebhookRejected, delivery_id, verify
from ..deps import EngineDep

router = APIRouter(tags=["webhooks"])
MAX_BODY = 1024 * 1024
WEBHOOK = "builtins.webhook"
CACHE_SECONDS = 2.0  # a recipe edited in another process applies within this delay


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
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return json.loads(body) if body else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"malformed JSON: {exc}") from None
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise HTTPException(400, "the form is not valid UTF-8") from None
    raise HTTPException(415, "send application/json or application/x-www-form-urlencoded")


async def _recipe(request: Request, engine, name: str):
    """The stored recipe, cached for a moment: a burst of deliveries reads it once."""
    cache: dict = request.app.state.hook_cache
    hit = cache.get(name)
    now = time.monotonic()
    if hit is not None and hit[2] > now and hit[3] == engine.recipes.generation:
        return hit[0], hit[1]
    generation = engine.recipes.generation
    recipe, version = await run_in_threadpool(engine.recipes.get, name)
    cache[name] = (recipe, version, now + CACHE_SECONDS, generation)
    return recipe, version


@router.post("/hooks/{name}", status_code=202)
async def receive(name: str, request: Request, engine: EngineDep):
    """Authenticate a delivery, store it as a run (deduplicated by delivery id), then answer."""
    try:
        recipe, version = await _recipe(request, engine, name)
    except RecipeNotFound:
        raise HTTPException(404, f"no webhook named {name!r}") from None
    if recipe.trigger.uses != WEBHOOK or not recipe.enabled:
        raise HTTPException(404, f"no enabled webhook named {name!r}")
    spec = engine.registry.triggers[WEBHOOK]
    config = spec.config_model.model_validate(recipe.trigger.with_)
    body = await _body(request)
    try:
        verify(config, headers=request.headers, query=request.query_params, body=body)
    except WebhookRejected as exc:
        raise HTTPException(exc.status, str(exc)) from None
    event = _event(request.headers.get("content-type", ""), body)
    key = delivery_id(config, request.headers)
    run_id = engine.create_run(recipe, event, version=version, trigger_key=f"delivery:{key}" if key else None)
    if run_id is None:
        return JSONResponse(status_code=200, content={"status": "duplicate", "delivery": key})
    engine.queue.submit(run_id)
    return {"status": "accepted", "run": run_id}
