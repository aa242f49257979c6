"""The public app feeds: `GET /feeds/app/{feed}.json` (JSON Feed 1.1) and `.rss` (RSS 2.0), with ETags.

No token: a mobile app or a website widget reads them. The ETag is the hash of the body, so an item that
appears or expires changes it; `If-None-Match` with the current ETag gets a 304 without the body.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from beffroi import problem_responses

from . import items, render

FEED = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
CACHE = "public, max-age=60"


def _serve(request: Request, feed: str, media_type: str, build: Callable) -> Response:
    if not FEED.match(feed):
        return JSONResponse({"type": "about:blank", "title": "Not Found", "status": 404,
                             "detail": "no such feed: feed names are lowercase letters, digits and dashes"},
                            status_code=404, media_type="application/problem+json")
    engine = request.app.state.engine
    body = build(engine.runner.context["public_url"], feed, items.current(engine.db, feed, engine.clock()))
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE, "Access-Control-Allow-Origin": "*",
               "X-Content-Type-Options": "nosniff"}
    asked = [tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")]
    if etag in asked or "*" in asked:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


async def json_feed(feed: str, request: Request) -> Response:
    """The feed as JSON Feed 1.1: items published and not expired, newest first."""
    return await run_in_threadpool(_serve, request, feed, "application/feed+json", render.json_feed)


async def rss_feed(feed: str, request: Request) -> Response:
    """The feed as RSS 2.0."""
    return await run_in_threadpool(_serve, request, feed, "application/rss+xml; charset=utf-8", render.rss_feed)


def _responses(media_type: str) -> dict:
    return {200: {"description": "The feed", "content": {media_type: {}}},
            304: {"description": "Not modified since the ETag given in If-None-Match"}, **problem_responses(404)}


def router() -> APIRouter:
    """The public feed routes."""
    public = APIRouter(tags=["mcms"])
    public.add_api_route("/feeds/app/{feed}.json", json_feed, methods=["GET"], response_class=Response,
                         summary="An app feed as JSON Feed 1.1", responses=_responses("application/feed+json"))
    public.add_api_route("/feeds/app/{feed}.rss", rss_feed, methods=["GET"], response_class=Response,
                         summary="An app feed as RSS 2.0", responses=_responses("application/rss+xml"))
    return public
