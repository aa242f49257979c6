"""The outbox: what outbox connections recorded instead of publishing or sending (nothing left the machine).

Its items are rendered messages with their recipients' addresses: reading them needs an editor token.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from ... import outbox
from ..deps import Editor, EngineDep, Offset
from ..problems import JSONRoute, problem_responses

router = APIRouter(prefix="/outbox", tags=["outbox"], route_class=JSONRoute, responses=problem_responses(401, 403))


class OutboxItem(BaseModel):
    """What an outbox connection recorded instead of sending it."""

    id: int
    outbox: bool = Field(description="always true: this was recorded, not sent")
    channel: str = Field(description="smms or email")
    connection: str
    run_id: str | None
    payload: Any = Field(description="the rendered message with its recipients")
    created_at: str = Field(description="ISO 8601")


class OutboxPage(BaseModel):
    outbox: bool = Field(description="always true")
    note: str
    items: list[OutboxItem]
    total: int
    limit: int
    offset: int


@router.get("", response_model=OutboxPage, responses=problem_responses(422))
async def list_outbox(engine: EngineDep, _: Editor, channel: str | None = Query(None, description="smms or email"),
                      connection: str | None = None, limit: int = Query(50, ge=1, le=500),
                      offset: Offset = 0) -> dict:
    """Items recorded by outbox connections, newest first; every item is marked `"outbox": true`."""
    items, total = await run_in_threadpool(outbox.items, engine.db, channel=channel, connection=connection,
                                           limit=limit, offset=offset)
    return {"outbox": True, "note": "recorded only: nothing was published or sent", "items": items, "total": total,
            "limit": limit, "offset": offset}
