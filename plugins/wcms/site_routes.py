"""`GET /site/{id}`: a published post of the built-in website, as a plain page (a stand-in for the real site, so
the links a demo recipe sends lead somewhere), with its featured image; `GET /site/media/{id}.{ext}`: its images.
Drafts and unknown posts are 404; the post's HTML runs no script."""
from __future__ import annotations

import html
import re

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from .local_site import IMAGE_TYPES, LocalSite

MEDIA_NAME = re.compile(r"^(\d{1,12})(\.[a-z]{3,4})$")
NOT_FOUND = "Not found. / Introuvable."


def _site(request: Request) -> LocalSite:
    return LocalSite(request.app.state.engine.settings.data_dir.expanduser().resolve() / "site", None)

PAGE = """<!doctype html>
<html lang="und"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><main><h1>{title}</h1>
{featured}{content}
</main></body></html>
"""
HEADERS = {"Content-Security-Policy": "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'",
           "X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=60"}


def _page(request: Request, post_id: str) -> Response:
    site = _site(request)
    post = site.read(post_id)
    if post is None or post.get("status") != "publish":
        return Response(NOT_FOUND, status_code=404, media_type="text/plain; charset=utf-8")
    title = html.escape(str(post.get("title") or ""))
    image = site.media(post["featured_media"]) if isinstance(post.get("featured_media"), int) else None
    featured = (f'<p><img src="/site/media/{html.escape(str(image.get("file")))}" '
                f'alt="{html.escape(str(image.get("alt") or ""))}"></p>\n') if image else ""
    body = PAGE.format(title=title, featured=featured, content=str(post.get("content") or ""))
    return Response(body, media_type="text/html; charset=utf-8", headers=HEADERS)


def _media(request: Request, name: str) -> Response:
    found = MEDIA_NAME.match(name)
    image = _site(request).media(int(found.group(1))) if found else None
    if found is None or image is None or image.get("file") != name \
            or IMAGE_TYPES.get(str(image.get("content_type"))) != found.group(2):
        return Response(NOT_FOUND, status_code=404, media_type="text/plain; charset=utf-8")
    try:
        data = (_site(request).root / "media" / name).read_bytes()
    except OSError:
        return Response(NOT_FOUND, status_code=404, media_type="text/plain; charset=utf-8")
    return Response(data, media_type=str(image["content_type"]), headers=HEADERS)


async def page(post_id: str, request: Request) -> Response:
    """A published post of the built-in website."""
    return await run_in_threadpool(_page, request, post_id)


async def media(name: str, request: Request) -> Response:
    """An image of the built-in website."""
    return await run_in_threadpool(_media, request, name)


def router() -> APIRouter:
    """The built-in website's public pages."""
    public = APIRouter(tags=["wcms"])
    public.add_api_route("/site/media/{name}", media, methods=["GET"], include_in_schema=False)
    public.add_api_route("/site/{post_id}", page, methods=["GET"], include_in_schema=False)
    return public
