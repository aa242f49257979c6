"""Health and the plugin catalog."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ... import __version__
from ..deps import EngineDep, Viewer
from ..problems import JSONRoute, problem_responses

router = APIRouter(tags=["meta"], route_class=JSONRoute)
JSONSchema = dict[str, Any] | None


class Entry(BaseModel):
    """A catalog entry; a key added to it by the catalog shows through until it gets a field of its own."""

    model_config = ConfigDict(extra="allow")


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    version: str
    database: str = Field(description="the database dialect: sqlite or postgresql")
    queue: str = Field(description="inline (a thread pool in the server) or rq (workers)")


ORIGIN = Field(description="builtin, entry_point, plugins_dir (BEFFROI_PLUGINS_DIR) or extra (given in code)")
SOURCE = Field(description="where it was loaded from, for a person: a module, `dist==version (module)` or a file")


class PluginInfo(Entry):
    name: str
    version: str | None
    builtin: bool
    origin: str = ORIGIN
    source: str = SOURCE
    triggers: list[str]
    actions: list[str]
    connection_types: list[str]
    services: list[str] = Field(description="the Protocols it provides to other plugins (register_services)")


class TriggerInfo(Entry):
    key: str = Field(examples=["wcms.post_published"])
    title: str
    description: str
    kind: str = Field(description="how it fires: manual, webhook, poll or schedule")
    plugin: str | None
    connection_type: str | None
    config_schema: JSONSchema = Field(description="JSON Schema of its `with` options")


class ActionInfo(Entry):
    key: str = Field(examples=["smms.publish"])
    title: str
    description: str
    plugin: str | None
    connection_type: str | None
    input_schema: JSONSchema = Field(description="JSON Schema of its `with` input")
    output_schema: JSONSchema = Field(description="JSON Schema of what later steps read from it")


class ConnectionTypeInfo(Entry):
    key: str = Field(examples=["mastodon"])
    tool_type: str
    title: str
    description: str
    plugin: str | None
    config_schema: JSONSchema = Field(description="JSON Schema of its settings (secret fields are write-only)")
    testable: bool


class PluginFailure(Entry):
    name: str
    error: str = Field(description="why it failed, with the file and line of a syntax or import error")
    origin: str = ORIGIN
    source: str = SOURCE


class DisabledPlugin(Entry):
    """A plugin left out by BEFFROI_DISABLE_PLUGINS (never imported)."""

    name: str
    origin: str = ORIGIN
    source: str = SOURCE


class Catalog(BaseModel):
    """Plugins, triggers, actions and connection types, and the plugins that failed to load."""

    tool_types: list[str] = Field(description="the tool types the plugins cover (wcms, smms, email, crm, analytics, "
                                              "ecm, mcms, and any a plugin adds), sorted")
    plugins: list[PluginInfo]
    triggers: list[TriggerInfo]
    actions: list[ActionInfo]
    connection_types: list[ConnectionTypeInfo]
    failures: list[PluginFailure]
    disabled: list[DisabledPlugin]
    warnings: list[str] = Field(description="settings that name no plugin (a misspelt BEFFROI_DISABLE_PLUGINS)")


def _schema(model: type[BaseModel] | None) -> dict[str, Any] | None:
    return model.model_json_schema(by_alias=True) if model is not None else None


@router.get("/health", response_model=Health)
def health(engine: EngineDep) -> dict:
    """Liveness and the backends in use (no token needed)."""
    return {"status": "ok", "version": __version__, "database": engine.db.engine.dialect.name,
            "queue": "rq" if engine.settings.redis_url else "inline"}


@router.get("/plugins", response_model=Catalog, responses=problem_responses(401, 403))
def catalog(engine: EngineDep, _: Viewer) -> dict:
    """Plugins, triggers, actions and connection types, each with the JSON Schema of its options."""
    registry = engine.registry
    owner = {key: name for (kind, key), name in registry.owners.items()}
    listing = registry.listing()  # where each plugin came from, failures, disabled ones: as `beffroi plugins --json`
    return {
        "tool_types": listing["tool_types"],
        "plugins": listing["plugins"],
        "triggers": [{"key": t.key, "title": t.title, "description": t.description, "kind": t.kind,
                      "plugin": owner.get(t.key), "connection_type": t.connection_type,
                      "config_schema": _schema(t.config_model)} for t in registry.triggers.values()],
        "actions": [{"key": a.key, "title": a.title, "description": a.description, "plugin": owner.get(a.key),
                     "connection_type": a.connection_type, "input_schema": _schema(a.input_model),
                     "output_schema": _schema(a.output_model)} for a in registry.actions.values()],
        "connection_types": [{"key": c.key, "tool_type": c.tool_type, "title": c.title,
                              "description": c.description, "plugin": owner.get(c.key),
                              "config_schema": _schema(c.config_model), "testable": c.test is not None}
                             for c in registry.connection_types.values()],
        "failures": listing["failures"],
        "disabled": listing["disabled"],
        "warnings": listing["warnings"],
    }
