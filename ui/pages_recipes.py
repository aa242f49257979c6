"""The recipes pages: the home (list, search, recent failures, what runs next), a recipe's overview, enable/disable,
duplicate, delete with confirmation, and its versions (diff, restore)."""
from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request

from . import i18n
from .recipe_text import describe_steps, describe_trigger, diff_rows, one_line
from .routes import _form
from .web import FLASHES, N_, Refused, Visitor, person, redirect, render, role

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
RECENT = 5  # failed runs and next scheduled runs shown on the home page

FLASHES.update({
    "duplicated": N_("The recipe was duplicated. The copy is disabled until you enable it."),
    "deleted": N_("The recipe was deleted. Its runs are kept."),
    "restored": N_("The version was restored: it is now the current version."),
})


def _when(seen: Visitor, value: Any) -> str:
    return i18n.when(value, seen.language, seen.engine.settings.timezone)


def _run_when(seen: Visitor, run: dict[str, Any] | None) -> str:
    """When a run ended (or started, or was queued)."""
    return _when(seen, run["finished_at"] or run["started_at"] or run["created_at"]) if run else ""


def _number(seen: Visitor, value: int) -> str:
    return format_decimal(value, locale=seen.language)


def _stored(seen: Visitor, name: str) -> dict[str, Any]:
    """The stored recipe of this name, or the 404 page."""
    try:
        return seen.engine.recipes.get_row(name)
    except LookupError:
        raise Refused(404, seen.gettext("There is no recipe with this name.")) from None


def _can_edit(seen: Visitor) -> bool:
    return seen.user is not None and seen.user.can("editor")


def _author(seen: Visitor) -> str:
    assert seen.user is not None
    return seen.user.email


def _refused_save(seen: Visitor, name: str, title: str, intro: str, exc: ValueError):
    """The page of a save the engine refused (a definition that no longer validates): its located problems."""
    problems = [str(p) for p in getattr(exc, "problems", [])] or [str(exc)]
    return render(seen, "recipes_refused.html", 422, name=name, heading=title, intro=intro, problems=problems)


@router.get("/")
def home(q: str = "", page: str = "1", seen: Visitor = Depends(person)):
    """The recipes (a page of 50, searched by name and title), the recent failures and what runs next."""
    engine = seen.engine
    number = int(page) if page.isdigit() and int(page) > 0 else 1
    rows, total = engine.recipes.page(q, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    pages = max(1, math.ceil(total / PER_PAGE))
    if number > pages:  # past the end (recipes deleted since the link was made): the last page
        number = pages
        rows, total = engine.recipes.page(q, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    latest = engine.runs.latest_by_recipe([r["name"] for r in rows])
    recipes = []
    for row in rows:
        definition = row["definition"]
        run = latest.get(row["name"])
        upcoming = engine.next_fire(definition.get("trigger") or {}) if row["enabled"] else None
        recipes.append({"name": row["name"], "title": definition.get("title") or row["name"],
                        "enabled": row["enabled"], "run": run, "when": _run_when(seen, run),
                        "next": _when(seen, upcoming) if upcoming else ""})
    failures = engine.runs.newest("failed", RECENT)
    for failure in failures:
        failure["when"] = _run_when(seen, failure)
        failure["error"] = one_line(failure["error"])
    upcoming_runs = [{**entry, "when": _when(seen, entry["at"])} for entry in engine.upcoming(RECENT)]

    def link(to: int) -> str:
        return "/?" + urlencode({**({"q": q} if q else {}), "page": to})

    return render(seen, "home.html", recipes=recipes, can_edit=_can_edit(seen), q=q, total=_number(seen, total),
                  count=total, page=number, pages=pages, page_text=_number(seen, number),
                  pages_text=_number(seen, pages), previous=link(number - 1) if number > 1 else None,
                  next=link(number + 1) if number < pages else None, failures=failures, upcoming=upcoming_runs)


@router.post("/recipes/{name}/enabled")
async def set_enabled(name: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Enable or disable a recipe (editors), validated as the API does it: enabling needs its connections."""
    form = await _form(request, seen)
    enabled = form.get("enabled") == "1"
    _stored(seen, name)
    try:
        seen.engine.set_enabled(name, enabled, author=_author(seen))
    except LookupError:
        raise Refused(404, seen.gettext("There is no recipe with this name.")) from None
    except ValueError as exc:
        return _refused_save(seen, name, seen.gettext("This recipe cannot be enabled"),
                             seen.gettext("Beffroi checked the recipe before enabling it and found these problems. "
                                          "Correct them in the recipe, then enable it again."), exc)
    back = form.get("back", "")
    return redirect(seen, back if back.startswith(f"/recipes/{name}") else "/", "enabled" if enabled else "disabled")


@router.post("/recipes/{name}/duplicate")
async def duplicate(name: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Save a disabled copy of a recipe under a free name (`<name>-copy`, `-copy-2`…) and show it."""
    await _form(request, seen)
    definition = _stored(seen, name)["definition"]
    title = seen.gettext("%(title)s (copy)", title=definition.get("title") or name)
    try:
        copy = seen.engine.duplicate_recipe(name, author=_author(seen), title=title)
    except ValueError as exc:
        return _refused_save(seen, name, seen.gettext("This recipe cannot be duplicated"),
                             seen.gettext("Its definition no longer passes the checks of a save:"), exc)
    return redirect(seen, f"/recipes/{copy}", "duplicated")


@router.get("/recipes/{name}/delete")
def delete_page(name: str, seen: Visitor = Depends(role("editor"))):
    """Ask before deleting: what is lost (the recipe, its versions, its trigger) and what stays (its runs)."""
    row = _stored(seen, name)
    versions = len(seen.engine.recipes.history(name))
    _, runs = seen.engine.runs.list(recipe=name, limit=1)
    return render(seen, "recipes_delete.html", name=name, title=row["definition"].get("title") or name,
                  enabled=row["enabled"], versions=versions, versions_text=_number(seen, versions), runs=runs,
                  runs_text=_number(seen, runs))


@router.post("/recipes/{name}/delete")
async def delete(name: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Delete a recipe and its versions (its runs stay), once confirmed."""
    await _form(request, seen)
    try:
        seen.engine.delete_recipe(name, author=_author(seen))
    except LookupError:
        raise Refused(404, seen.gettext("There is no recipe with this name.")) from None
    return redirect(seen, "/", "deleted")


@router.get("/recipes/{name}")
def overview(name: str, seen: Visitor = Depends(person)):
    """A recipe in plain words: its trigger, its steps, its state, and the ways to edit, test and follow it."""
    row = _stored(seen, name)
    definition = row["definition"]
    trigger = definition.get("trigger") or {}
    upcoming = seen.engine.next_fire(trigger) if row["enabled"] else None
    latest = seen.engine.runs.latest_by_recipe([name]).get(name)
    return render(seen, "recipes_overview.html", name=name, title=definition.get("title") or name,
                  description=definition.get("description") or "", enabled=row["enabled"],
                  version=row["version"], updated=_when(seen, row["updated_at"]),
                  trigger=describe_trigger(seen, trigger, name), steps=describe_steps(seen, definition),
                  next=_when(seen, upcoming) if upcoming else "", run=latest,
                  run_when=_run_when(seen, latest),
                  can_edit=_can_edit(seen))


def _history(seen: Visitor, name: str) -> list[dict[str, Any]]:
    try:
        versions = seen.engine.recipes.history(name)
    except LookupError:
        raise Refused(404, seen.gettext("There is no recipe with this name.")) from None
    return [{**v, "when": _when(seen, v["created_at"])} for v in versions]


@router.get("/recipes/{name}/versions")
def versions(name: str, seen: Visitor = Depends(person)):
    """Every saved version with its author and time; two to compare; restore for editors."""
    row = _stored(seen, name)
    history = _history(seen, name)
    return render(seen, "recipes_versions.html", name=name, title=row["definition"].get("title") or name,
                  versions=history, current=row["version"], can_edit=_can_edit(seen),
                  older=history[1]["version"] if len(history) > 1 else history[0]["version"],
                  newer=history[0]["version"])


@router.get("/recipes/{name}/versions/diff")
def diff(name: str, request: Request, seen: Visitor = Depends(person)):
    """What changed between two versions of a recipe, line by line in its YAML."""
    row = _stored(seen, name)
    history = _history(seen, name)
    numbers = {v["version"] for v in history}
    chosen = []
    for key in ("from", "to"):
        value = request.query_params.get(key, "")
        if not value.isdigit() or int(value) not in numbers:
            raise Refused(404, seen.gettext("There is no version %(version)s of this recipe.", version=value))
        chosen.append(int(value))
    older, newer = (seen.engine.recipes.version(name, number) for number in chosen)
    rows, added, removed = diff_rows(older["definition"], newer["definition"])
    return render(seen, "recipes_diff.html", name=name, title=row["definition"].get("title") or name,
                  versions=history, old=older, new=newer, old_when=_when(seen, older["created_at"]),
                  new_when=_when(seen, newer["created_at"]), rows=rows, added=added, removed=removed,
                  current=row["version"], can_edit=_can_edit(seen))


@router.post("/recipes/{name}/versions/{version}/restore")
async def restore(name: str, version: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Save an earlier version as the new current one, checked as any save (author: the person)."""
    await _form(request, seen)
    _stored(seen, name)
    try:
        if not version.isdigit():
            raise LookupError(version)
        seen.engine.restore_version(name, int(version), author=_author(seen))
    except LookupError:
        raise Refused(404, seen.gettext("There is no version %(version)s of this recipe.", version=version)) from None
    except ValueError as exc:
        return _refused_save(seen, name, seen.gettext("Version %(version)s cannot be restored", version=version),
                             seen.gettext("This version no longer passes the checks of a save (a tool or a "
                                          "connection it uses may have changed since). Nothing was changed. "
                                          "The problems found:"), exc)
    return redirect(seen, f"/recipes/{name}/versions", "restored")
