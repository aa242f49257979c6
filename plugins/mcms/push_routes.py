"""The public Web Push endpoints a website's "get notified" button calls, and the notifications' click-through.

- `GET /push/key`: the public VAPID key (`applicationServerKey`) to subscribe with;
- `POST /push/subscribe` `{"topic": "news", "subscription": <the browser's PushSubscription JSON>}`;
- `POST /push/unsubscribe` `{"topic": "news", "endpoint": "https://…"}`;
- `GET /push/c/{token}`: a tapped notification's link, signed by Beffroi, sent on to the page (303) and counted
  as `push_clicked` in the metric store.

No token: any website may call them (CORS allows every origin; nothing is read back but the public key).
A subscription is only an endpoint and two keys, no name nor address. So that no one fills the subscriptions table,
subscribe and unsubscribe together take at most SUBSCRIBE_LIMIT requests per client address in SUBSCRIBE_WINDOW
seconds; more get 429 with Retry-After (counted in the database, the same for every process).
"""
from __future__ import annotations

import json
import logging
import math
import uuid
from http import HTTPStatus

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from beffroi import ActionError, BadSignature, Services, SignInThrottle, problem_responses

from . import metrics, subscriptions, vapid

log = logging.getLogger("beffroi.mcms")
BODY_LIMIT = 8192
SUBSCRIBE_LIMIT, SUBSCRIBE_WINDOW = 30, 600  # requests per client address: a page with a few topics, many times
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400"}


class PublicKey(BaseModel):
    """The key a browser subscribes with."""

    public_key: str = Field(description="the VAPID public key (applicationServerKey), base64url")


class SubscriptionState(BaseModel):
    """A browser's subscription to a topic, as it now stands."""

    topic: str
    subscribed: bool


SUBSCRIBE_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["topic", "subscription"], "properties": {
        "topic": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,99}$", "examples": ["news"]},
        "subscription": {"type": "object", "description": "the browser's PushSubscription as JSON",
                         "required": ["endpoint", "keys"], "properties": {
                             "endpoint": {"type": "string"},
                             "keys": {"type": "object", "properties": {"p256dh": {"type": "string"},
                                                                       "auth": {"type": "string"}}}}}}}}}}}
UNSUBSCRIBE_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["topic", "endpoint"], "properties": {
        "topic": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,99}$"}, "endpoint": {"type": "string"}}}}}}}


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                         "detail": detail}, status_code=status, headers=CORS, media_type="application/problem+json")


async def _too_many(request: Request) -> JSONResponse | None:
    """429 with Retry-After when this client address made too many (un)subscribe requests lately; else count it."""
    state = request.app.state
    throttle = getattr(state, "push_throttle", None)
    if throttle is None:  # the sign-in throttle's counter: rows of the database, one per request here
        throttle = state.push_throttle = SignInThrottle(state.engine.db, limit=SUBSCRIBE_LIMIT,
                                                        window=SUBSCRIBE_WINDOW)
    key = f"push-subscribe:address:{request.client.host if request.client else '-'}"
    wait = await run_in_threadpool(throttle.wait, key)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        response = _problem(429, f"too many subscription requests from this address (at most {SUBSCRIBE_LIMIT} in "
                                 f"{SUBSCRIBE_WINDOW // 60} minutes): try again in {seconds} seconds")
        response.headers["Retry-After"] = str(seconds)
        return response
    await run_in_threadpool(throttle.failed, key)
    return None


async def _json_body(request: Request) -> dict | JSONResponse:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            return _problem(413, f"the body is larger than {BODY_LIMIT} bytes")
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return _problem(400, "the body is not JSON")
    if not isinstance(data, dict):
        return _problem(400, "expected a JSON object with topic and subscription")
    return data


async def public_key(request: Request) -> JSONResponse:
    """The public key browsers subscribe with (made on first use)."""
    engine = request.app.state.engine
    try:
        _keys, key = await run_in_threadpool(vapid.load, engine.db, engine.signer)
    except ActionError as exc:
        log.error("%s", exc)
        return _problem(503, "Web Push is not available on this server for now")
    return JSONResponse({"public_key": key}, headers={**CORS, "Cache-Control": "public, max-age=3600"})


async def subscribe(request: Request) -> Response:
    """Store the browser's subscription to a topic (201 when new, 200 when renewed)."""
    data = await _too_many(request) or await _json_body(request)
    if isinstance(data, JSONResponse):
        return data
    try:
        topic, sub = subscriptions.check(data.get("topic"), data.get("subscription"))
    except subscriptions.SubscriptionError as exc:
        return _problem(400, str(exc))
    created = await run_in_threadpool(subscriptions.add, request.app.state.engine.db, topic, sub)
    return JSONResponse({"topic": topic, "subscribed": True}, status_code=201 if created else 200, headers=CORS)


async def unsubscribe(request: Request) -> Response:
    """Forget the browser's subscription to a topic (safe to repeat)."""
    data = await _too_many(request) or await _json_body(request)
    if isinstance(data, JSONResponse):
        return data
    topic, endpoint = data.get("topic"), data.get("endpoint")
    if not isinstance(topic, str) or not subscriptions.TOPIC.match(topic):
        return _problem(400, "topic: lowercase letters, digits and dashes (at most 100)")
    if not isinstance(endpoint, str) or not endpoint:
        return _problem(400, "endpoint: the subscription's endpoint address")
    sub_id = subscriptions.subscription_id(topic, endpoint)
    await run_in_threadpool(subscriptions.remove, request.app.state.engine.db, [sub_id])
    return JSONResponse({"topic": topic, "subscribed": False}, headers=CORS)


async def preflight() -> Response:
    """CORS preflight of a website's JSON POST."""
    return Response(status_code=204, headers=CORS)


async def click(token: str, request: Request) -> Response:
    """A tapped notification: on to its page (the link was signed when the notification was sent)."""
    try:
        payload = request.app.state.engine.signer.verify(token)
    except BadSignature:
        payload = None
    url = payload.get("u") if isinstance(payload, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return Response("This link is not valid. / Ce lien n’est pas valide.", status_code=404,
                        media_type="text/plain; charset=utf-8")
    engine = request.app.state.engine
    assert isinstance(payload, dict)  # a url was read from it
    topic, campaign = payload.get("t"), payload.get("c")
    await run_in_threadpool(metrics.track_click, engine.db, Services(engine.registry.services),
                            f"click:{uuid.uuid4().hex}", campaign if isinstance(campaign, str) else None,
                            topic if isinstance(topic, str) else None, url)
    return RedirectResponse(url, status_code=303,
                            headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


def router() -> APIRouter:
    """The public push routes."""
    public = APIRouter(tags=["mcms"])
    public.add_api_route("/push/key", public_key, methods=["GET"], summary="The Web Push public key (VAPID)",
                         response_model=PublicKey, responses=problem_responses(503))
    public.add_api_route("/push/subscribe", subscribe, methods=["POST"], summary="Subscribe a browser to a topic",
                         response_model=SubscriptionState, openapi_extra=SUBSCRIBE_BODY,
                         responses={201: {"model": SubscriptionState, "description": "Subscribed"},
                                    **problem_responses(400, 413, 429)})
    public.add_api_route("/push/unsubscribe", unsubscribe, methods=["POST"],
                         summary="Unsubscribe a browser from a topic", response_model=SubscriptionState,
                         openapi_extra=UNSUBSCRIBE_BODY, responses=problem_responses(400, 413, 429))
    for path in ("/push/subscribe", "/push/unsubscribe"):
        public.add_api_route(path, preflight, methods=["OPTIONS"], include_in_schema=False)
    public.add_api_route("/push/c/{token}", click, methods=["GET"], include_in_schema=False)
    return public
