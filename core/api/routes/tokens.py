"""API tokens, managed by admins: list, create (the clear token is answered once), revoke."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from ..deps import Admin, EngineDep
from ..problems import JSONRoute

router = APIRouter(prefix="/tokens", tags=["tokens"], route_class=JSONRoute)


class TokenCreate(BaseModel):
    """A new token's name and role."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Literal["viewer", "editor", "admin"] = "editor"


@router.get("")
async def list_tokens(engine: EngineDep, _: Admin) -> list[dict]:
    """Every token, without its secret."""
    return await run_in_threadpool(engine.tokens.list)


@router.post("", status_code=201)
async def create_token(body: TokenCreate, engine: EngineDep, _: Admin) -> dict:
    """Create a token; `token` in the answer is the only time it is shown."""
    info, clear = await run_in_threadpool(engine.tokens.create, body.name, body.role)
    return {"id": info.id, "name": info.name, "role": info.role, "token": clear}


@router.delete("/{token_id}", status_code=204)
async def revoke_token(token_id: str, request: Request, engine: EngineDep, _: Admin) -> Response:
    """Revoke a token: at once on this server, within a few seconds on the others."""
    if not await run_in_threadpool(engine.tokens.revoke, token_id):
        raise HTTPException(404, f"no token {token_id!r}")
    request.app.state.token_cache.clear()
    return Response(status_code=204)
