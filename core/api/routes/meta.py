"""Health and the plugin catalog."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from ... import __version__
from ..deps import EngineDep, Viewer
from ..problems import JSONRoute

router = APIRouter(tags=["meta"], route_class=JSONRoute)


def _schema(model: type[BaseModel] | None) -> dict[str, Any] | None:
    return model.model_json_schema(by_alias=True) if model is not None else None


@router.get("/health")
def health(engine: EngineDep) -> dict:
    """Liveness and the backends in use (no token needed)."""
    return {"status": "ok", "version": __version__, "database": engine.db.engine.dialect.name,
            "queue": "rq" if engine.settings.redis_url else "inline"}


@router.get("/plugins")
def catalog(engine: EngineDep, _: Viewer) -> dict:
    """Plugins, triggers, actions and connection types, each with the JSON Schema of its options."""
    registry = engine.registry
    owner = {key: name for (kind, key), name in registry.owners.items()}
    listing = registry.listing()  # where each plugin came from, failures, disabled ones: as `beffroi plugins --json`
    return {
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
