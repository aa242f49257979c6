"""The metric store's API: `GET /api/analytics/events` (editor) and `GET /api/analytics/summary` (viewer).

An event's properties are whatever a recipe put there, an e-mail address included: the events themselves
need an editor token; their counts per day and campaign do not.

Both take the same filters: `name`, `campaign`, `recipe` (exact values) and a time range `since`
(inclusive) / `until` (exclusive) in ISO 8601; a time without a zone, or a bare date, is read as UTC.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from beffroi import Editor, EngineDep, JSONRoute, Offset, Viewer, problem_responses

from . import store

router = APIRouter(prefix="/api/analytics", tags=["analytics"], route_class=JSONRoute,
                   responses=problem_responses(401, 403, 422))


class Event(BaseModel):
    """A tracked event."""

    id: int
    name: str
    campaign: str | None
    recipe: str | None = Field(description="the recipe that tracked it")
    run_id: str | None
    properties: dict[str, Any]
    occurred_at: str = Field(description="ISO 8601, UTC")


class EventPage(BaseModel):
    items: list[Event]
    total: int = Field(description="events matching in all")
    limit: int
    offset: int


class DayCount(BaseModel):
    day: str = Field(description="a UTC day, YYYY-MM-DD")
    count: int


class CampaignCount(BaseModel):
    campaign: str | None
    count: int


class Summary(BaseModel):
    """Counts of the matching events per UTC day (oldest first) and per campaign (largest first)."""

    total: int
    timezone: str = Field(examples=["UTC"])
    days: list[DayCount]
    campaigns: list[CampaignCount]


def event_filter(name: str | None = Query(None, max_length=200, description="Only events of this name"),
                 campaign: str | None = Query(None, max_length=200, description="Only events of this campaign"),
                 recipe: str | None = Query(None, max_length=100, description="Only events tracked by this recipe"),
                 since: datetime | None = Query(None, description="From this time on (ISO 8601; UTC unless a zone "
                                                                  "is given), inclusive"),
                 until: datetime | None = Query(None, description="Before this time (ISO 8601; UTC unless a zone is "
                                                                  "given), exclusive")) -> store.EventFilter:
    """The filters of a request; an empty time range is refused, naming `until`."""
    if since is not None and until is not None and store.as_utc(until) <= store.as_utc(since):
        raise RequestValidationError([{"loc": ("query", "until"), "msg": "must be later than since",
                                       "type": "value_error", "input": until.isoformat()}])
    return store.EventFilter(name=name, campaign=campaign, recipe=recipe, since=since, until=until)


Filter = Annotated[store.EventFilter, Depends(event_filter)]


@router.get("/events", response_model=EventPage)
def list_events(engine: EngineDep, _: Editor, where: Filter, limit: int = Query(50, ge=1, le=500),
                offset: Offset = 0) -> dict:
    """Tracked events, newest first, with the number matching in all (`total`)."""
    events, total = store.list_events(engine.db, where, limit=limit, offset=offset)
    return {"items": [e.public() for e in events], "total": total, "limit": limit, "offset": offset}


@router.get("/summary", response_model=Summary)
def summary(engine: EngineDep, _: Viewer, where: Filter) -> dict:
    """Counts of tracked events per day (UTC days, oldest first; days without events left out) and per campaign."""
    return store.summary(engine.db, where)
