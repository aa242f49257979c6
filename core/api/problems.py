"""One error format for every error answer of the API, and the checks a request body passes before a route.

Errors are RFC 9457 problem details (`application/problem+json`): `type`, `title` (the HTTP status in words),
`status`, `detail` (one sentence for a person) and, when the problem lies in the data sent, `errors`: one
`{loc, message}` per field (`steps[1].with.subject`, `query.status`).

A route that takes a body (JSONRoute) refuses, before parsing: a body that is not JSON (415, saying what to
send), JSON nested deeper than MAX_DEPTH (400: deep nesting exhausts the parser and every later reader).
Routes that accept YAML (recipes, which are YAML on disk) take `application/yaml` and read it as the same data.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import yaml
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

PROBLEM_JSON = "application/problem+json"
MAX_DEPTH = 64
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')  # a JSON string (skipped whole), or a bracket


class FieldError(Exception):
    """A route's own check of one field failed: answered as a 422 problem locating it (`query.status`)."""

    def __init__(self, loc: str, message: str, status: int = 422):
        super().__init__(f"{loc}: {message}")
        self.loc, self.message, self.status = loc, message, status


class LocatedError(BaseModel):
    """One problem in the data sent, with where it lies."""

    loc: str = Field(description="where: `steps[1].with.subject`, `query.status`, `file`; empty for the whole body")
    message: str = Field(description="what is wrong there, for a person")


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details, sent as application/problem+json)."""

    type: str = Field("about:blank", description="always about:blank: the status says what kind of problem")
    title: str = Field(description="the HTTP status in words", examples=["Not Found"])
    status: int = Field(description="the HTTP status code", examples=[404])
    detail: str = Field(description="one sentence for a person")
    errors: list[LocatedError] = Field(default_factory=list, description="one entry per field at fault; left out "
                                                                          "when the problem is not in a field")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each a Problem (create_app's schema says problem+json)."""
    return {status: {"model": Problem, "description": HTTPStatus(status).phrase} for status in statuses}


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None,
            headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A problem details answer."""
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                            "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Does this JSON text nest arrays and objects deeper than `limit`? (A bracket count settles most bodies.)"""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for token in _TOKENS.finditer(body):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


def json_refused(body: bytes) -> str | None:
    """Why a JSON body is refused before it is parsed for real (too deep, or NaN/Infinity, which JSON lacks)."""
    if too_deep(body):
        return f"the JSON body is nested more than {MAX_DEPTH} levels deep"
    if b"NaN" in body or b"Infinity" in body:  # Python's parser takes them; a database and a browser would not
        try:
            json.loads(body, parse_constant=_no_constant)
        except ValueError as exc:
            if "JSON has no" in str(exc):
                return f"the JSON body holds {exc.args[0].split()[-1]}, which JSON does not allow (send null)"
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON has no {name}")


def json_kind(value: Any) -> str:
    """What a JSON value is, in words ("a list", "a number"), for messages."""
    if isinstance(value, bool):
        return "true or false"
    return {list: "a list", str: "a string", int: "a number", float: "a number", dict: "an object",
            type(None): "null"}.get(type(value), type(value).__name__)


def media_type(request: Request) -> str:
    """The request's media type, lowercased, without parameters."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json(kind: str) -> bool:
    return kind == "application/json" or kind.endswith("+json")


class JSONRoute(APIRoute):
    """A route whose body must be JSON (or YAML where `openapi_extra={"x-accepts-yaml": True}`), bounded in depth."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler
        yaml_too = bool((self.openapi_extra or {}).get("x-accepts-yaml"))
        wanted = "JSON (Content-Type: application/json)" + (" or YAML (application/yaml)" if yaml_too else "")

        async def checked(request: Request) -> Response:
            body = await request.body()
            if not body.strip():
                return await handler(request)
            kind = media_type(request)
            if yaml_too and kind in YAML_TYPES:
                try:
                    data = yaml.safe_load(body)
                except yaml.YAMLError as exc:
                    mark = getattr(exc, "problem_mark", None)
                    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                    return problem(400, f"the body is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}")
                try:
                    body = json.dumps(data).encode()
                except (TypeError, ValueError, RecursionError):
                    return problem(400, "the YAML body holds values JSON cannot carry (or is nested too deeply)")
                if too_deep(body):
                    return problem(400, f"the YAML body is nested more than {MAX_DEPTH} levels deep")
                request = _with_json_body(request, body)
            elif not is_json(kind):
                shown = kind or "no Content-Type"
                return problem(415, f"this endpoint takes {wanted}, not {shown}")
            elif (refused := json_refused(body)) is not None:
                return problem(400, refused)
            return await handler(request)

        return checked


def _with_json_body(request: Request, body: bytes) -> Request:
    """The same request carrying `body` as application/json (YAML read into data, then handed on as JSON)."""
    headers = [(k, v) for k, v in request.scope["headers"] if k not in (b"content-type", b"content-length")]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    replaced = Request({**request.scope, "headers": headers}, request.receive)
    replaced._body = body
    return replaced
