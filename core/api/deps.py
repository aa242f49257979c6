"""Dependencies shared by the routes: the engine, the caller's token and role checks."""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..engine import Engine
from ..tokens import TokenInfo

bearer = HTTPBearer(auto_error=False, description="An API token from `beffroi token create NAME`")
CACHE_SECONDS = 5.0
MAX_OFFSET = 2**63 - 1  # the largest OFFSET SQLite and PostgreSQL take (a bigint); past it, a 422, not a 500


async def get_engine(request: Request) -> Engine:
    """The engine this app was built around (async: a sync dependency costs a thread hop per request)."""
    return request.app.state.engine


Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="how many items to skip (pagination)")]
Offset.__doc__ = ("A pagination offset query parameter, 0 up to what the databases take (`offset: Offset = 0`); "
                  "422 past it.")

EngineDep = Annotated[Engine, Depends(get_engine)]
EngineDep.__doc__ = "A route parameter receiving the Engine the app was built around (`engine: EngineDep`)."


async def get_token(request: Request, engine: EngineDep,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> TokenInfo:
    """The caller's token; 401 when missing or unknown (revocations apply within a few seconds)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token (create one with `beffroi token create NAME`)",
                            headers={"WWW-Authenticate": "Bearer"})
    cache: dict = request.app.state.token_cache
    now = time.monotonic()
    hit = cache.get(credentials.credentials)
    if hit is not None and hit[1] > now:
        return hit[0]
    info = await run_in_threadpool(engine.tokens.check, credentials.credentials)
    if info is None:
        cache.pop(credentials.credentials, None)
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    await run_in_threadpool(engine.tokens.touch, info.id)  # at most once per cache period per token
    if len(cache) > 1000:
        cache.clear()
    cache[credentials.credentials] = (info, now + CACHE_SECONDS)
    return info


def require(role: str):
    """A dependency that lets through tokens whose role includes `role`."""

    async def check(token: Annotated[TokenInfo, Depends(get_token)]) -> TokenInfo:
        if not token.can(role):
            article = "an" if token.role[0] in "aeiou" else "a"
            raise HTTPException(403, f"this needs the {role} role; your token is {article} {token.role} token")
        return token

    return check


Viewer = Annotated[TokenInfo, Depends(require("viewer"))]
Viewer.__doc__ = "A route parameter that lets through tokens of the viewer role or above (`token: Viewer`); 401/403."
Editor = Annotated[TokenInfo, Depends(require("editor"))]
Editor.__doc__ = "A route parameter that lets through tokens of the editor role or above (`token: Editor`); 401/403."
Admin = Annotated[TokenInfo, Depends(require("admin"))]
Admin.__doc__ = "A route parameter that lets through admin tokens only (`token: Admin`); 401/403."
