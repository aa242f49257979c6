"""API tokens, managed by admins: list, create (the clear token is answered once), revoke."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from ..deps import Admin, EngineDep
from ..problems import JSONRoute, problem_responses

router = APIRouter(prefix="/tokens", tags=["tokens"], route_class=JSONRoute, responses=problem_responses(401, 403))
Role = Literal["viewer", "editor", "admin"]


class TokenCreate(BaseModel):
    """A new token's name and role."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Role = "editor"


class TokenOut(BaseModel):
    """A token without its secret."""

    id: str
    name: str
    role: Role
    revoked: bool
    created_at: str = Field(description="ISO 8601")
    last_used_at: str | None = Field(description="ISO 8601, to within a few seconds")


class NewToken(BaseModel):
    """A token just created: `token` is the secret, shown this once."""

    id: str
    name: str
    role: Role
    token: str = Field(description="send it as `Authorization: Bearer <token>`; it is not stored in clear")


@router.get("", response_model=list[TokenOut])
async def list_tokens(engine: EngineDep, _: Admin) -> list[dict]:
    """Every token, without its secret."""
    return await run_in_threadpool(engine.tokens.list)


@router.post("", status_code=201, response_model=NewToken, responses=problem_responses(400, 415, 422))
async def create_token(body: TokenCreate, engine: EngineDep, token: Admin) -> dict:
    """Create a token; `token` in the answer is the only time it is shown."""
    info, clear = await run_in_threadpool(lambda: engine.accounts.create_token(body.name, body.role,
                                                                               actor=token.actor))
    return {"id": info.id, "name": info.name, "role": info.role, "token": clear}


@router.delete("/{token_id}", status_code=204, responses=problem_responses(404))
async def revoke_token(token_id: str, request: Request, engine: EngineDep, token: Admin) -> Response:
    """Revoke a token: at once on this server, within a few seconds on the others."""
    if not await run_in_threadpool(lambda: engine.accounts.revoke_token(token_id, actor=token.actor)):
        raise HTTPException(404, f"no token {token_id!r}")
    request.app.state.token_cache.clear()
    return Response(status_code=204)
