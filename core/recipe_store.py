"""Stored recipes: the current version of each, and every earlier version."""
from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import delete, func, or_, select

from .recipes import Recipe, mask_secrets
from .redaction import MASK
from .store import Database
from .store.models import RecipeRow, RecipeVersionRow, TriggerStateRow, utcnow


class RecipeNotFound(LookupError):
    """No recipe of that name."""


class RecipeStore:
    """Saves recipes as new versions; validation happens before (the engine validates, then saves)."""

    def __init__(self, db: Database):
        self.db = db
        self.generation = 0  # bumped on every change made through this store (lets callers cache)

    def save(self, recipe: Recipe, *, author: str | None = None, create_only: bool = False) -> int:
        """Store a recipe as its next version and return the version number."""
        data = recipe.to_data()
        with self.db.session() as session:
            row = session.get(RecipeRow, recipe.name, with_for_update=True)
            if row is None:
                now = utcnow()  # created and updated at the same instant
                row = RecipeRow(name=recipe.name, version=1, enabled=recipe.enabled, definition=data, created_at=now,
                                updated_at=now)
                session.add(row)
            else:
                if create_only:
                    raise FileExistsError(f"a recipe named {recipe.name!r} already exists")
                if row.definition.get("trigger") != data.get("trigger") or (recipe.enabled and not row.enabled):
                    # a changed or re-enabled trigger starts afresh: seed again, fire nothing missed meanwhile
                    session.execute(delete(TriggerStateRow).where(TriggerStateRow.recipe_name == recipe.name))
                row.version += 1
                row.definition, row.enabled, row.updated_at = data, recipe.enabled, utcnow()
            session.add(RecipeVersionRow(recipe_name=recipe.name, version=row.version, definition=data, author=author))
            version = row.version
        self.generation += 1
        return version

    def get(self, name: str) -> tuple[Recipe, int]:
        """The current recipe and its version."""
        with self.db.session() as session:
            row = session.get(RecipeRow, name)
            if row is None:
                raise RecipeNotFound(name)
            return Recipe.model_validate({**row.definition, "enabled": row.enabled}), row.version

    def get_row(self, name: str) -> dict[str, Any]:
        """The stored document of a recipe (definition, version, timestamps)."""
        with self.db.session() as session:
            row = session.get(RecipeRow, name)
            if row is None:
                raise RecipeNotFound(name)
            return _public(row)

    def keep_secret(self, name: str, data: Any) -> Any:
        """Recipe data whose webhook secret is left out or masked gets the stored one back (a masked copy edited)."""
        if not isinstance(data, dict) or not isinstance(data.get("trigger"), dict):
            return data
        options = data["trigger"].get("with")
        if isinstance(options, dict) and options.get("secret") in (None, MASK):
            try:
                stored, _ = self.get(name)
            except RecipeNotFound:
                return data
            old = stored.trigger.with_.get("secret")
            if old:
                data = {**data, "trigger": {**data["trigger"], "with": {**options, "secret": old}}}
        return data

    def list(self) -> list[dict[str, Any]]:
        """Every stored recipe, by name."""
        with self.db.session() as session:
            return [_public(r) for r in session.scalars(select(RecipeRow).order_by(RecipeRow.name))]

    def page(self, search: str = "", *, limit: int = 50, offset: int = 0) -> tuple[builtins.list[dict[str, Any]], int]:
        """One page of recipes by name, those whose name or title contains `search` (any case), and how many match."""
        query = select(RecipeRow)
        if search.strip():
            pattern = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(or_(RecipeRow.name.ilike(pattern, escape="\\"),
                                    RecipeRow.definition["title"].as_string().ilike(pattern, escape="\\")))
        with self.db.session() as session:
            total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = session.scalars(query.order_by(RecipeRow.name).limit(limit).offset(offset))
            return [_public(r) for r in rows], total

    def scheduled(self) -> builtins.list[tuple[str, str, dict[str, Any]]]:
        """(name, title, trigger) of the enabled recipes whose trigger has a cron `schedule:`, without their steps."""
        schedule = RecipeRow.definition[("trigger", "schedule")].as_string()
        query = (select(RecipeRow.name, RecipeRow.definition["title"].as_string(), RecipeRow.definition["trigger"])
                 .where(RecipeRow.enabled.is_(True), schedule.is_not(None)))
        with self.db.session() as session:
            return [(name, title or name, value) for name, title, value in session.execute(query)
                    if isinstance(value, dict)]

    def enabled(self) -> builtins.list[tuple[Recipe, int]]:
        """Enabled recipes (for the scheduler)."""
        with self.db.session() as session:
            rows = session.scalars(select(RecipeRow).where(RecipeRow.enabled.is_(True)).order_by(RecipeRow.name)).all()
        return [(Recipe.model_validate({**r.definition, "enabled": True}), r.version) for r in rows]

    def versions(self, name: str) -> builtins.list[dict[str, Any]]:
        """Every version of a recipe, newest first."""
        with self.db.session() as session:
            rows = session.scalars(select(RecipeVersionRow).where(RecipeVersionRow.recipe_name == name)
                                   .order_by(RecipeVersionRow.version.desc())).all()
            if not rows:
                raise RecipeNotFound(name)
            return [{"version": r.version, "author": r.author, "created_at": r.created_at.isoformat(),
                     "definition": r.definition} for r in rows]

    def history(self, name: str) -> builtins.list[dict[str, Any]]:
        """Every version of a recipe, newest first: number, author and time, without the definitions."""
        with self.db.session() as session:
            version = RecipeVersionRow
            rows = session.execute(select(version.version, version.author, version.created_at)
                                   .where(version.recipe_name == name).order_by(version.version.desc())).all()
        if not rows:
            raise RecipeNotFound(name)
        return [{"version": v, "author": a, "created_at": at.isoformat()} for v, a, at in rows]

    def version(self, name: str, number: int, *, masked: bool = True) -> dict[str, Any]:
        """One version of a recipe: number, author, time and definition, its secret masked unless `masked` is False
        (RecipeNotFound when there is no such version)."""
        with self.db.session() as session:
            row = session.get(RecipeVersionRow, (name, number))
            if row is None:
                raise RecipeNotFound(f"{name} version {number}")
            return {"version": row.version, "author": row.author, "created_at": row.created_at.isoformat(),
                    "definition": mask_secrets(row.definition) if masked else row.definition}

    def set_enabled(self, name: str, enabled: bool, *, author: str | None = None) -> int:
        """Enable or disable a recipe (recorded as a new version)."""
        recipe, _ = self.get(name)
        return self.save(recipe.model_copy(update={"enabled": enabled}), author=author)

    def delete(self, name: str) -> None:
        """Remove a recipe and its history; its runs stay for the record."""
        with self.db.session() as session:
            if session.get(RecipeRow, name) is None:
                raise RecipeNotFound(name)
            session.execute(delete(RecipeRow).where(RecipeRow.name == name))
            session.execute(delete(RecipeVersionRow).where(RecipeVersionRow.recipe_name == name))
            session.execute(delete(TriggerStateRow).where(TriggerStateRow.recipe_name == name))
        self.generation += 1


def _public(row: RecipeRow) -> dict[str, Any]:
    return {"name": row.name, "enabled": row.enabled, "version": row.version,
            "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
            "definition": {**row.definition, "enabled": row.enabled}}
