"""The connections: list by tool type, forms from each type's schema (secrets write-only), test, delete.

The pages use the same store and rules as `/api/connections`: anyone signed in may look, the admin role (as the
API asks) creates, changes, tests and deletes.
"""
from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from . import schema_form
from .engine_messages import engine_text
from .routes import FieldProblem, _form
from .tool_types import grouped
from .web import FLASHES, N_, Refused, Visitor, local, person, redirect, render, role

router = APIRouter(include_in_schema=False)
PREFIX = "config"  # the settings' fields are config.<name>, as the engine locates their problems
FLASHES.update({
    "connection-created": N_("The connection is saved."),
    "connection-saved": N_("The changes to the connection are saved."),
    "connection-deleted": N_("The connection is deleted."),
})


def _types(seen: Visitor) -> dict[str, Any]:
    return seen.engine.registry.connection_types


def _spec(seen: Visitor, key: str):
    spec = _types(seen).get(key)
    if spec is None:
        raise Refused(404, seen.gettext("Beffroi has no connection type %(type)s (is its plugin installed?).",
                                        type=key))
    return spec


def _row(seen: Visitor, name: str):
    row = seen.engine.connections.find(name)
    if row is None:
        raise Refused(404, seen.gettext("There is no connection with this name."))
    return row


def _next(value: str | None) -> str:
    """A local page to go back to after saving ('' when none was given, or when it was not a local path)."""
    target = local(value)
    return target if value and target != "/" else ""


def _type_view(seen: Visitor, spec) -> dict[str, Any]:
    return {"key": spec.key, "title": seen.gettext(spec.title), "tool_type": spec.tool_type,
            "description": seen.gettext(spec.description) if spec.description else ""}


def _schema(spec) -> dict[str, Any]:
    return spec.config_model.model_json_schema()


@router.get("/connections")
def connections(seen: Visitor = Depends(person)):
    """The connections grouped by tool type (names and types only: no secret is read)."""
    types = _types(seen)
    rows = [{"name": name, "type": key, "spec": _type_view(seen, types[key]) if key in types else None}
            for name, key in sorted(seen.engine.connections.types().items())]
    groups = grouped(rows, lambda row: row["spec"]["tool_type"] if row["spec"] else None, seen.gettext)
    assert seen.user is not None
    return render(seen, "connections_list.html", groups=groups, can_edit=seen.user.can("admin"))


@router.get("/connections/new")
def new_connection(type: str | None = None, next: str = "", seen: Visitor = Depends(role("admin"))):
    """Choose a type of connection (all, or those of one tool type: `?type=smms`), then fill in its settings."""
    types = _types(seen)
    if type in types:
        return _form_page(seen, types[type], values=schema_form.form_values(_schema(types[type]), {}, PREFIX),
                          name="", next=_next(next))
    if type is None or any(spec.tool_type == type for spec in types.values()):
        return _choice_page(seen, type or "", _next(next))
    return _choice_page(seen, "", _next(next), [FieldProblem("type", seen.gettext("Choose a type of connection."))],
                        400)


def _choice_page(seen: Visitor, tool_type: str, next: str, errors: list[FieldProblem] | None = None,
                 status: int = 200):
    kinds = [_type_view(seen, spec) for spec in _types(seen).values()]
    if any(kind["tool_type"] == tool_type for kind in kinds):
        kinds = [kind for kind in kinds if kind["tool_type"] == tool_type]
    groups = grouped(sorted(kinds, key=lambda kind: kind["title"]), lambda kind: kind["tool_type"], seen.gettext)
    return render(seen, "connections_type.html", status, groups=groups, next=next, errors=errors or [])


def _form_page(seen: Visitor, spec, *, values: dict[str, Any], name: str, next: str,
               errors: list[FieldProblem] | None = None, status: int = 200, row=None, stored: list[str] | None = None,
               result: dict[str, Any] | None = None):
    fields = schema_form.describe(_schema(spec), PREFIX, translate=seen.gettext)
    return render(seen, "connections_form.html", status, kind=_type_view(seen, spec), fields=fields, values=values,
                  name=name, next=next, errors=errors or [], row=row, stored=stored or [], result=result)


@router.post("/connections/new")
async def create_connection(request: Request, seen: Visitor = Depends(role("admin"))):
    """Store a new connection as the API does (its secrets encrypted); the form again, with each problem beside its
    field, when it is refused."""
    form = await _form(request, seen)
    types, next = _types(seen), _next(form.get("next"))
    spec = types.get(form.get("type", ""))
    if spec is None:
        return _choice_page(seen, "", next, [FieldProblem("type", seen.gettext("Choose a type of connection."))],
                            400)
    name = form.get("name", "").strip()
    errors = await run_in_threadpool(_save, seen, spec, name, form, True)
    if errors:
        values = {**schema_form.without_secrets(_schema(spec), form, PREFIX)}
        return _form_page(seen, spec, values=values, name=name, next=next, errors=errors, status=400)
    return redirect(seen, next or "/connections", "connection-created")


def _save(seen: Visitor, spec, name: str, form: dict[str, str], new: bool) -> list[FieldProblem]:
    """Read the settings from the form and save them with the engine's own checks; the problems, located."""
    schema = _schema(spec)
    config, errors = schema_form.parse(schema, form, PREFIX, translate=seen.gettext)
    if new and not name:
        errors.insert(0, FieldProblem("name", seen.gettext("Enter a name for the connection.")))
    if errors:
        return errors
    problems = seen.engine.save_connection(name, spec.key, config, new=new,
                                           actor=seen.user.email if seen.user else None)
    named = [FieldProblem("name", seen.gettext("Name: %(problem)s", problem=engine_text(p.message, seen.gettext)))
             for p in problems if p.loc == "name"]
    return named + schema_form.locate(schema, [p for p in problems if p.loc != "name"], PREFIX, at=PREFIX,
                                      fallback="settings", translate=seen.gettext)


def _stored(seen: Visitor, row) -> list[str]:
    """The keys of the secrets that have a stored value (never the values)."""
    return [key for key, stored in seen.engine.connections.public(row)["secrets"].items() if stored]


@router.get("/connections/{name}")
def connection(name: str, seen: Visitor = Depends(person)):
    """One connection: its settings (secrets only as stored or not), a form to change them for admins."""
    return _connection_page(seen, name)


def _connection_page(seen: Visitor, name: str, result: dict[str, Any] | None = None):
    row = _row(seen, name)
    spec = _types(seen).get(row.type)
    assert seen.user is not None
    if spec is None or not seen.user.can("admin"):
        return render(seen, "connections_view.html", row=row, kind=_type_view(seen, spec) if spec else None,
                      settings=_settings(seen, spec, row), result=result)
    return _form_page(seen, spec, values=schema_form.form_values(_schema(spec), row.config, PREFIX), name=row.name,
                      next="", row=row, stored=_stored(seen, row), result=result)


def _settings(seen: Visitor, spec, row) -> list[dict[str, Any]]:
    """The settings as label and text, secrets as stored or not (for the read-only page)."""
    if spec is None:
        return [{"label": key, "text": str(value), "secret": False} for key, value in sorted(row.config.items())]
    stored = set(_stored(seen, row))
    shown = schema_form.form_values(_schema(spec), row.config, PREFIX, defaults=False)
    found = []

    def walk(fields):
        for field in fields:
            if field.kind == "object":
                walk(field.fields)
            elif field.kind == "secret":
                found.append({"label": field.label, "secret": True, "stored": field.key in stored})
            else:
                text = shown.get(field.id, "")
                if field.kind in ("integer", "number") and text:
                    text = format_decimal(text, locale=seen.language)
                found.append({"label": field.label, "text": text, "secret": False})

    walk(schema_form.describe(_schema(spec), PREFIX, translate=seen.gettext))
    return found


@router.post("/connections/{name}")
async def update_connection(name: str, request: Request, seen: Visitor = Depends(role("admin"))):
    """Replace the settings of a connection; a secret left empty keeps its stored value."""
    form = await _form(request, seen)
    row = _row(seen, name)
    spec = _spec(seen, row.type)
    errors = await run_in_threadpool(_save, seen, spec, row.name, form, False)
    if errors:
        values = schema_form.without_secrets(_schema(spec), form, PREFIX)
        return _form_page(seen, spec, values=values, name=row.name, next="", errors=errors, status=400, row=row,
                          stored=_stored(seen, row))
    return redirect(seen, "/connections", "connection-saved")


@router.post("/connections/{name}/test")
async def test_connection(name: str, request: Request, seen: Visitor = Depends(role("admin"))):
    """Run the type's own check (as `POST /api/connections/{name}/test`); the connection's page shows the result."""
    await _form(request, seen)
    _row(seen, name)
    result = await run_in_threadpool(seen.engine.connections.test, name, seen.engine.http)
    return _connection_page(seen, name, result=result)


@router.get("/connections/{name}/delete")
def confirm_delete(name: str, seen: Visitor = Depends(role("admin"))):
    """Ask before deleting: recipes that name the connection stop working."""
    row = _row(seen, name)
    spec = _types(seen).get(row.type)
    return render(seen, "connections_delete.html", row=row, kind=_type_view(seen, spec) if spec else None)


@router.post("/connections/{name}/delete")
async def delete_connection(name: str, request: Request, seen: Visitor = Depends(role("admin"))):
    """Delete the connection (after the confirmation page)."""
    await _form(request, seen)
    try:
        actor = seen.user.email if seen.user else None
        await run_in_threadpool(lambda: seen.engine.delete_connection(name, actor=actor))
    except LookupError:  # deleted meanwhile (another tab, the API)
        raise Refused(404, seen.gettext("There is no connection with this name.")) from None
    return redirect(seen, "/connections", "connection-deleted")
