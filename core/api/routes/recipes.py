"""Recipes: list, read, create, replace, delete, enable/disable, version history."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Response
from pydantic import BaseModel, Field

from ...recipe_store import RecipeNotFound
from ...recipes import mask_secrets
from ..deps import Editor, EngineDep, Viewer
from ..openapi import yaml_or_json
from ..problems import JSONRoute, problem_responses

router = APIRouter(prefix="/recipes", tags=["recipes"], route_class=JSONRoute, responses=problem_responses(401, 403))
# a recipe is YAML on disk: the API takes it as it is (JSONRoute), validated by the engine (located problems)
NEW_RECIPE = yaml_or_json("Recipe")
REPLACEMENT = yaml_or_json("RecipeReplacement")
BODY_ERRORS = problem_responses(400, 415, 422)
RecipeBody = Body(..., examples=[{"name": "hello", "trigger": {"uses": "builtins.manual"},
                                  "steps": [{"id": "greet", "uses": "data.set", "with": {"text": "Hello"}}]}])


class StoredRecipe(BaseModel):
    """A stored recipe: its current definition (secrets masked), version and timestamps."""

    name: str
    enabled: bool
    version: int = Field(description="the current version (1, 2, …)")
    created_at: str = Field(description="ISO 8601")
    updated_at: str = Field(description="ISO 8601")
    definition: dict[str, Any] = Field(description="the recipe as stored (see Recipe); secrets masked")


class RecipeVersion(BaseModel):
    """One stored version of a recipe."""

    version: int
    author: str | None = Field(description="the token or user that saved it")
    created_at: str = Field(description="ISO 8601")
    definition: dict[str, Any] = Field(description="the recipe as stored then (see Recipe); secrets masked")


def _found(engine, name: str) -> dict:
    try:
        row = engine.recipes.get_row(name)
    except RecipeNotFound:
        raise HTTPException(404, f"no recipe named {name!r}") from None
    return {**row, "definition": mask_secrets(row["definition"])}


@router.get("", response_model=list[StoredRecipe])
def list_recipes(engine: EngineDep, _: Viewer) -> list[dict]:
    """Every recipe with its current version."""
    return [{**r, "definition": mask_secrets(r["definition"])} for r in engine.recipes.list()]


@router.post("", status_code=201, response_model=StoredRecipe, openapi_extra=NEW_RECIPE,
             responses={**BODY_ERRORS, **problem_responses(409)})
def create_recipe(engine: EngineDep, token: Editor, data: Any = RecipeBody) -> dict:
    """Store a new recipe (422 with every problem when invalid; 409 when the name is taken)."""
    try:
        recipe, _ = engine.save_recipe(data, author=token.actor, create_only=True)
    except FileExistsError as exc:
        raise HTTPException(409, str(exc)) from None
    return _found(engine, recipe.name)


@router.get("/{name}", response_model=StoredRecipe, responses=problem_responses(404))
def get_recipe(name: str, engine: EngineDep, _: Viewer) -> dict:
    """One recipe."""
    return _found(engine, name)


@router.put("/{name}", response_model=StoredRecipe, openapi_extra=REPLACEMENT, responses=BODY_ERRORS)
def replace_recipe(name: str, engine: EngineDep, token: Editor, data: Any = RecipeBody) -> dict:
    """Replace a recipe; stored as a new version (creates it when it does not exist)."""
    if isinstance(data, dict) and data.get("name", name) != name:
        raise HTTPException(422, f"the body names recipe {data.get('name')!r} but the URL {name!r}")
    if isinstance(data, dict):
        data = {**data, "name": name}
    engine.save_recipe(data, author=token.actor)
    return _found(engine, name)


@router.delete("/{name}", status_code=204, responses=problem_responses(404))
def delete_recipe(name: str, engine: EngineDep, token: Editor) -> Response:
    """Delete a recipe and its versions (its runs are kept)."""
    try:
        engine.delete_recipe(name, author=token.actor)
    except RecipeNotFound:
        raise HTTPException(404, f"no recipe named {name!r}") from None
    return Response(status_code=204)


@router.post("/{name}/enable", response_model=StoredRecipe, responses=problem_responses(404, 422))
def enable(name: str, engine: EngineDep, token: Editor) -> dict:
    """Turn a recipe's trigger on."""
    return _toggle(engine, name, True, token.actor)


@router.post("/{name}/disable", response_model=StoredRecipe, responses=problem_responses(404, 422))
def disable(name: str, engine: EngineDep, token: Editor) -> dict:
    """Turn a recipe's trigger off (manual and API runs still work)."""
    return _toggle(engine, name, False, token.actor)


def _toggle(engine, name: str, enabled: bool, author: str) -> dict:
    try:
        engine.set_enabled(name, enabled, author=author)
    except RecipeNotFound:
        raise HTTPException(404, f"no recipe named {name!r}") from None
    return _found(engine, name)


@router.get("/{name}/versions", response_model=list[RecipeVersion], responses=problem_responses(404))
def versions(name: str, engine: EngineDep, _: Viewer) -> list[dict]:
    """Every version of a recipe, newest first."""
    try:
        return [{**v, "definition": mask_secrets(v["definition"])} for v in engine.recipes.versions(name)]
    except RecipeNotFound:
        raise HTTPException(404, f"no recipe named {name!r}") from None
