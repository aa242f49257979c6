"""The OpenAPI document as FastAPI builds it, finished: error answers are `application/problem+json`, and
recipe bodies (read by the engine, not by FastAPI, so that their problems are located) get the recipe's schema.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ..recipes import Recipe
from .problems import PROBLEM_JSON

COMPONENTS = "#/components/schemas/"


def yaml_or_json(schema: str) -> dict[str, Any]:
    """A route's `openapi_extra` for a body of the named recipe schema, in JSON or YAML (see JSONRoute)."""
    ref = {"schema": {"$ref": COMPONENTS + schema}}
    return {"x-accepts-yaml": True,
            "requestBody": {"required": True, "content": {"application/json": ref, "application/yaml": ref}}}


def recipe_schemas() -> dict[str, dict[str, Any]]:
    """`Recipe` (a new recipe), `RecipeReplacement` (its name may come from the URL) and their parts."""
    schema = Recipe.model_json_schema(by_alias=True, ref_template=COMPONENTS + "Recipe{model}")
    found = {f"Recipe{name}": part for name, part in schema.pop("$defs", {}).items()}
    found["Recipe"] = schema
    found["RecipeReplacement"] = {**schema, "title": "RecipeReplacement",
                                  "required": [r for r in schema.get("required", []) if r != "name"],
                                  "description": "A recipe replacing the one named in the URL: `name` may be left "
                                                 "out; when given it must be that name."}
    return found


def problems_as_problem_json(document: dict[str, Any]) -> None:
    """Every 4xx/5xx answer documented as JSON is a problem details document: say so by its media type.

    FastAPI's own 422 (HTTPValidationError, on routes that did not list their errors) is a Problem here too.
    """
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, response in (operation.get("responses") or {}).items():
                content = response.get("content") or {}
                if str(status)[:1] in "45" and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
                    if content[PROBLEM_JSON].get("schema", {}).get("$ref") == COMPONENTS + "HTTPValidationError":
                        content[PROBLEM_JSON]["schema"] = {"$ref": COMPONENTS + "Problem"}
                        response["description"] = "Unprocessable Content"
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def install(app: FastAPI) -> None:
    """Make `app.openapi()` (and /openapi.json) answer the finished document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            document.setdefault("components", {}).setdefault("schemas", {}).update(recipe_schemas())
            problems_as_problem_json(document)
        return app.openapi_schema  # type: ignore[return-value]  # set by build()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
