"""/docs (Swagger UI) and /redoc that work offline: their scripts, styles and favicon come from the
fastapi-offline package, served by this app; the pages name nothing on another host (nor does their CSP allow it).
"""
from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib import resources

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

ASSETS = "/docs/assets"
# the files served, with their types (nothing else is: no path from the address reaches the file system)
FILES = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
         "redoc.standalone.js": "text/javascript; charset=utf-8", "favicon.png": "image/png"}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
# ReDoc's bundle draws the Redocly badge in its side menu from a CDN: our own favicon takes its place
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def asset(name: str) -> bytes:
    """A file of fastapi-offline's static folder (ReDoc's with its one CDN address pointing to this app)."""
    data = (resources.files("fastapi_offline") / "static" / name).read_bytes()
    return data.replace(REDOC_LOGO, b"/favicon.ico") if name == "redoc.standalone.js" else data


def policy(html: str) -> str:
    """A Content-Security-Policy for a docs page: our own files, and the page's inline scripts by their hash."""
    scripts = ["'self'", *(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                           for s in _INLINE_SCRIPT.findall(html))]
    return "; ".join(["default-src 'none'", f"script-src {' '.join(scripts)}", "style-src 'self' 'unsafe-inline'",
                      "img-src 'self' data:", "font-src 'self' data:", "connect-src 'self'",
                      "worker-src 'self' blob:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"])


def _page(page: HTMLResponse) -> HTMLResponse:
    """The page in English (FastAPI's template names no language), with its CSP."""
    html = bytes(page.body).decode().replace("<html>", '<html lang="en">', 1)
    return HTMLResponse(html, headers={"Content-Security-Policy": policy(html), "Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    """Add /docs, /redoc, their assets and /favicon.ico (create the app with docs_url=None, redoc_url=None)."""

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _page(get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} — API", oauth2_redirect_url=None,
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}/favicon.ico",
            swagger_ui_parameters={"validatorUrl": None}))  # no badge fetched from validator.swagger.io

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _page(get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} — API",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js", redoc_favicon_url=f"{root}/favicon.ico",
            with_google_fonts=False))

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        if name not in FILES:
            raise HTTPException(404, "there is nothing at this address; the API is described at /docs")
        return Response(asset(name), media_type=FILES[name], headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(asset("favicon.png"), media_type=FILES["favicon.png"],
                        headers={"Cache-Control": "public, max-age=86400"})
