"""Connections: accounts of the tools; secret fields are write-only."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from ...connections import ConnectionName, ConnectionNotFound
from ...store.models import ConnectionRow
from ..deps import Admin, EngineDep, Viewer
from ..problems import JSONRoute, problem_responses

router = APIRouter(prefix="/connections", tags=["connections"], route_class=JSONRoute,
                   responses=problem_responses(401, 403))
BODY_ERRORS = problem_responses(400, 415, 422)


class ConnectionCreate(BaseModel):
    """A new connection: its name, type (e.g. `mastodon`) and settings, secrets included."""

    model_config = ConfigDict(extra="forbid")
    name: ConnectionName
    type: str
    config: dict[str, Any] = Field(default_factory=dict)


class ConnectionUpdate(BaseModel):
    """New settings; a secret left out keeps its stored value."""

    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any] = Field(default_factory=dict)


class ConnectionOut(BaseModel):
    """A connection as the API shows it: its settings without secrets, and which secrets are stored."""

    name: str
    type: str = Field(description="the connection type, e.g. `mastodon`")
    tool_type: str | None = Field(description="the tool type it serves (`smms`); null when its plugin is missing")
    config: dict[str, Any] = Field(description="the settings, secrets left out")
    secrets: dict[str, bool] = Field(description="each secret field of the type: true when a value is stored "
                                                 "(the value itself is never shown)")
    created_at: str = Field(description="ISO 8601")
    updated_at: str = Field(description="ISO 8601")


class ConnectionCheck(BaseModel):
    """The outcome of a connection test."""

    ok: bool | None = Field(description="true: it works; false: it failed; null: this type cannot be tested")
    message: str = Field(description="what the test found (secrets masked)")


def _refuse(problems: list) -> None:
    """A 422 that says every problem of a refused connection (nothing was stored)."""
    if problems:
        raise HTTPException(422, "; ".join(str(problem) for problem in problems))


def _public(engine, row: ConnectionRow) -> dict:
    return engine.connections.public(row)


def _row(engine, name: str) -> ConnectionRow:
    with engine.db.session() as session:
        row = session.scalar(select(ConnectionRow).where(ConnectionRow.name == name))
    if row is None:
        raise HTTPException(404, f"no connection named {name!r}")
    return row


@router.get("", response_model=list[ConnectionOut])
def list_connections(engine: EngineDep, _: Viewer) -> list[dict]:
    """Every connection, secrets shown only as set / not set."""
    with engine.db.session() as session:
        rows = session.scalars(select(ConnectionRow).order_by(ConnectionRow.name)).all()
    return [_public(engine, r) for r in rows]


@router.post("", status_code=201, response_model=ConnectionOut,
             responses={**BODY_ERRORS, **problem_responses(409)})
def create_connection(body: ConnectionCreate, engine: EngineDep, token: Admin) -> dict:
    """Store a connection (its secrets encrypted)."""
    with engine.db.session() as session:
        if session.scalar(select(ConnectionRow.id).where(ConnectionRow.name == body.name)):
            raise HTTPException(409, f"a connection named {body.name!r} already exists")
    _refuse(engine.save_connection(body.name, body.type, body.config, new=True, actor=token.actor))
    return _public(engine, _row(engine, body.name))


@router.get("/{name}", response_model=ConnectionOut, responses=problem_responses(404))
def get_connection(name: str, engine: EngineDep, _: Viewer) -> dict:
    """One connection, without its secrets."""
    return _public(engine, _row(engine, name))


@router.put("/{name}", response_model=ConnectionOut, responses={**BODY_ERRORS, **problem_responses(404)})
@router.patch("/{name}", response_model=ConnectionOut, responses={**BODY_ERRORS, **problem_responses(404)})
def update_connection(name: str, body: ConnectionUpdate, engine: EngineDep, token: Admin) -> dict:
    """Change a connection's settings; secrets left out are kept."""
    row = _row(engine, name)
    _refuse(engine.save_connection(name, row.type, {**row.config, **body.config}, new=False, actor=token.actor))
    return _public(engine, _row(engine, name))


@router.delete("/{name}", status_code=204, responses=problem_responses(404))
def delete_connection(name: str, engine: EngineDep, token: Admin) -> Response:
    """Delete a connection."""
    try:
        engine.delete_connection(name, actor=token.actor)
    except ConnectionNotFound:
        raise HTTPException(404, f"no connection named {name!r}") from None
    return Response(status_code=204)


@router.post("/{name}/test", response_model=ConnectionCheck, responses=problem_responses(404))
def test_connection(name: str, engine: EngineDep, _: Admin) -> dict:
    """Check that the connection works (e.g. log in), without publishing anything."""
    _row(engine, name)
    return engine.connections.test(name, engine.http)
