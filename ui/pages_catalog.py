"""The chooser: "what should this step do?" — a search over the catalog of actions (or triggers), grouped by tool
type, each choice a button posting to the builder (`POST /recipes/<name>/edit`, action=choose).

`at` is the builder's: the index of the step the new one goes after (-1: first), or `trigger`.
"""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends

from . import catalog
from .web import Refused, Visitor, render, role

router = APIRouter(include_in_schema=False)
RECIPE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")  # the recipe model's rule: anything else is no recipe's page
MAX_STEPS = 1000


def _place(at: str) -> str | None:
    """`trigger`, or the index of the step the new one goes after (-1: first) as text; None for anything else."""
    if at == "trigger":
        return at
    digits = at.removeprefix("-")
    return str(int(at)) if digits.isdigit() and -1 <= int(at) < MAX_STEPS else None


@router.get("/recipes/{name}/edit/choose")
def choose(name: str, at: str = "", q: str = "", seen: Visitor = Depends(role("editor"))):
    """The actions (or, with at=trigger, the triggers) matching `q`, grouped by tool type, as choices.

    The new step goes after step `at` (-1: first): it is step number at + 2 for a person.
    """
    place = _place(at)
    if not RECIPE_NAME.match(name) or place is None:
        raise Refused(404, seen.gettext("There is no such step to choose for. Go back to the builder and try again."))
    query = q.strip()[:200]
    kind = "triggers" if place == "trigger" else "actions"
    groups = catalog.grouped(seen.engine.registry, kind, seen.language)
    found = sum(len(group.matching(query)) for group in groups)
    return render(seen, "catalog_choose.html", name=name, at=place, query=query, groups=groups, found=found,
                  kind=kind, step_number=None if place == "trigger" else int(place) + 2)
