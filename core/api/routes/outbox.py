"""The outbox: what outbox connections recorded instead of publishing or sending (nothing left the machine).

Its items are rendered messages with their recipients' addresses: reading them needs an editor token.
"""
from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from ... import outbox
from ..deps import Editor, EngineDep
from ..problems import JSONRoute

router = APIRouter(prefix="/outbox", tags=["outbox"], route_class=JSONRoute)


@router.get("")
async def list_outbox(engine: EngineDep, _: Editor, channel: str | None = Query(None, description="smms or email"),
                      connection: str | None = None, limit: int = Query(50, ge=1, le=500),
                      offset: int = Query(0, ge=0)) -> dict:
    """Items recorded by outbox connections, newest first; every item is marked `"outbox": true`."""
    items, total = await run_in_threadpool(outbox.items, engine.db, channel=channel, connection=connection,
                                           limit=limit, offset=offset)
    return {"outbox": True, "note": "recorded only: nothing was published or sent", "items": items, "total": total,
            "limit": limit, "offset": offset}
