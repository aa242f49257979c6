"""`GET /site/{id}`: a published post of the built-in website, as a plain page (a stand-in for the real site, so
the links a demo recipe sends lead somewhere). Drafts and unknown posts are 404; the post's HTML runs no script."""
from __future__ import annotations

import html

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from .local_site import LocalSite

PAGE = """<!doctype html>
<html lang="und"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><main><h1>{title}</h1>
{content}
</main></body></html>
"""
HEADERS = {"Content-Security-Policy": "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'",
           "X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=60"}


def _page(request: Request, post_id: str) -> Response:
    engine = request.app.state.engine
    post = LocalSite(engine.settings.data_dir.expanduser().resolve() / "site", None).read(post_id)
    if post is None or post.get("status") != "publish":
        return Response("Not found. / Introuvable.", status_code=404, media_type="text/plain; charset=utf-8")
    title = html.escape(str(post.get("title") or ""))
    body = PAGE.format(title=title, content=str(post.get("content") or ""))
    return Response(body, media_type="text/html; charset=utf-8", headers=HEADERS)


async def page(post_id: str, request: Request) -> Response:
    """A published post of the built-in website."""
    return await run_in_threadpool(_page, request, post_id)


def router() -> APIRouter:
    """The built-in website's public pages."""
    public = APIRouter(tags=["wcms"])
    public.add_api_route("/site/{post_id}", page, methods=["GET"], include_in_schema=False)
    return public
