"""Recipes: list, read, create, replace, delete, enable/disable, version history."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Response

from ...recipe_store import RecipeNotFound
from ...recipes import mask_secrets
from ...redaction import MASK
from ..deps import Editor, EngineDep, Viewer
from ..problems import JSONRoute

router = APIRouter(prefix="/recipes", tags=["recipes"], route_class=JSONRoute)
YAML_TOO = {"x-accepts-yaml": True}  # a recipe is YAML on disk: the API takes it as it is (JSONRoute)
RecipeBody = Body(..., examples=[{"name": "hello", "trigger": {"uses": "builtins.manual"},
                                  "steps": [{"id": "greet", "uses": "data.set", "with": {"text": "Hello"}}]}])


def keep_secret(engine, name: str, data: Any) -> Any:
    """An update that leaves the webhook secret out (or sends it masked) keeps the stored one."""
    if not isinstance(data, dict) or not isinstance(data.get("trigger"), dict):
        return data
    options = data["trigger"].get("with")
    if isinstance(options, dict) and options.get("secret") in (None, MASK):
        try:
            stored, _ = engine.recipes.get(name)
        except RecipeNotFound:
            return data
        old = stored.trigger.with_.get("secret")
        if old:
            data = {**data, "trigger": {**data["trigger"], "with": {**options, "secret": old}}}
    return data


def _found(engine, name: str) -> dict:
    try:
        row = engine.recipes.get_row(name)
    except RecipeNotFound:
        raise HTTPException(404, f"no recipe named {name!r}") from None
    return {**row, "definition": mask_secrets(row["definition"])}


@router.get("")
def list_recipes(engine: EngineDep, _: Viewer) -> list[dict]:
    """Every recipe with its current version."""
    return [{**r, "definition": mask_secrets(r["definition"])} for r in engine.recipes.list()]


@router.post("", status_code=201, openapi_extra=YAML_TOO)
def create_recipe(engine: EngineDep, token: Editor, data: Any = RecipeBody) -> dict:
    """Store a new recipe (422 with every problem when invalid; 409 when the name is taken)."""
    try:
        recipe, _ = engine.save_recipe(data, author=token.name, create_only=True)
    except FileExistsError as exc:
        raise HTTPException(409, str(exc)) from None
    return _found(engine, recipe.name)


@router.get("/{name}")
def get_recipe(name: str, engine: EngineDep, _: Viewer) -> dict:
    """One recipe."""
    return _found(engine, name)


@router.put("/{name}", openapi_extra=YAML_TOO)
def replace_recipe(name: str, engine: EngineDep, token: Editor, data: Any = RecipeBody) -> dict:
    """Replace a recipe; stored as a new version (creates it when it does not exist)."""
    if isinstance(data, dict) and data.get("name", name) != name:
        raise HTTPException(422, f"the body names recipe {data.get('name')!r} but the URL {name!r}")
    if isinstance(data, dict):
        data = {**data, "name": name}
    engine.save_recipe(keep_secret(engine, name, data), author=token.name)
    return _found(engine, name)


@router.delete("/{name}", status_code=204)
def delete_recipe(name: str, engine: EngineDep, _: Editor) -> Response:
    """Delete a recipe and its versions (its runs are kept)."""
    try:
        engine.recipes.delete(name)
    except RecipeNotFound:
        raise HTTPException(404, f"no recipe named {name!r}") from None
    return Response(status_code=204)


@router.post("/{name}/enable")
def enable(name: str, engine: EngineDep, token: Editor) -> dict:
    """Turn a recipe's trigger on."""
    return _toggle(engine, name, True, token.name)


@router.post("/{name}/disable")
def disable(name: str, engine: EngineDep, token: Editor) -> dict:
    """Turn a recipe's trigger off (manual and API runs still work)."""
    return _toggle(engine, name, False, token.name)


def _toggle(engine, name: str, enabled: bool, author: str) -> dict:
    try:
        recipe, _ = engine.recipes.get(name)
    except RecipeNotFound:
        raise HTTPException(404, f"no recipe named {name!r}") from None
    engine.save_recipe(recipe.model_copy(update={"enabled": enabled}).to_data(), author=author)
    return _found(engine, name)


@router.get("/{name}/versions")
def versions(name: str, engine: EngineDep, _: Viewer) -> list[dict]:
    """Every version of a recipe, newest first."""
    try:
        return [{**v, "definition": mask_secrets(v["definition"])} for v in engine.recipes.versions(name)]
    except RecipeNotFound:
        raise HTTPException(404, f"no recipe named {name!r}") from None
