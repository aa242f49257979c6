"""Drafts of the web UI's builder: one person's unsaved edit of one recipe, kept until it is saved or discarded.

A draft holds the recipe as plain data, valid or not yet: it is only validated when it is saved (as a new version
of the recipe, through the engine like the API does). Secrets are never copied into a draft from the stored
recipe: it starts from the masked definition, and the stored secret is put back when it is saved.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select

from .store import Database
from .store.models import RecipeDraftRow, utcnow


@dataclass(frozen=True)
class Draft:
    """A person's working copy of a recipe and the stored version it started from (None: a new recipe).

    `updated_at` is None for a copy of the stored recipe not written as a draft yet; `latest_version` is the
    recipe's stored version now, when the engine read it (another person may have saved since `base_version`).
    """

    recipe_name: str
    definition: dict[str, Any]
    base_version: int | None
    updated_at: datetime | None
    latest_version: int | None = None


def _draft(row: RecipeDraftRow) -> Draft:
    return Draft(row.recipe_name, row.definition, row.base_version, row.updated_at)


class DraftStore:
    """Reads, writes and discards the drafts of each person (keyed by user id and recipe name)."""

    def __init__(self, db: Database):
        self.db = db

    def get(self, name: str, user_id: str) -> Draft | None:
        """This person's draft of a recipe, or None."""
        with self.db.session() as session:
            row = session.get(RecipeDraftRow, (user_id, name))
            return _draft(row) if row else None

    def put(self, name: str, user_id: str, definition: dict[str, Any], base_version: int | None) -> Draft:
        """Create or replace this person's draft of a recipe (its base version is kept once set)."""
        with self.db.session() as session:
            row = session.get(RecipeDraftRow, (user_id, name))
            if row is None:
                row = RecipeDraftRow(user_id=user_id, recipe_name=name, base_version=base_version)
                session.add(row)
            row.definition, row.updated_at = definition, utcnow()
            session.flush()
            return _draft(row)

    def discard(self, name: str, user_id: str) -> bool:
        """Delete this person's draft of a recipe; False when there was none."""
        with self.db.session() as session:
            done = session.execute(delete(RecipeDraftRow).where(RecipeDraftRow.user_id == user_id,
                                                                RecipeDraftRow.recipe_name == name))
            return bool(cast(CursorResult, done).rowcount)

    def of_person(self, user_id: str, *, new_only: bool = False) -> list[Draft]:
        """A person's drafts, newest first (`new_only`: those of recipes not stored yet)."""
        query = select(RecipeDraftRow).where(RecipeDraftRow.user_id == user_id)
        if new_only:
            query = query.where(RecipeDraftRow.base_version.is_(None))
        with self.db.session() as session:
            return [_draft(row) for row in session.scalars(query.order_by(RecipeDraftRow.updated_at.desc()))]
