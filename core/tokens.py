"""API bearer tokens: created with a role, stored as SHA-256 hashes, shown in clear only once."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update

from .store import Database
from .store.models import ApiTokenRow, utcnow

ROLES = ("viewer", "editor", "admin")
PREFIX = "bfr_"


@dataclass(frozen=True)
class TokenInfo:
    """Who is calling: the token's id, name and role."""

    id: str
    name: str
    role: str

    def can(self, role: str) -> bool:
        """True when this token's role includes `role` (admin ⊃ editor ⊃ viewer)."""
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def actor(self) -> str:
        """Who made a change through the API, as the audit log and recipe versions name them: `token:<name>`."""
        return f"token:{self.name}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Creates, checks, lists and revokes API tokens."""

    def __init__(self, db: Database):
        self.db = db

    def create(self, name: str, role: str = "editor") -> tuple[TokenInfo, str]:
        """A new token; returns its info and the clear token (never stored)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        clear = PREFIX + secrets.token_urlsafe(32)
        row = ApiTokenRow(id=uuid.uuid4().hex, name=name, role=role, token_hash=_hash(clear))
        with self.db.session() as session:
            session.add(row)
        return TokenInfo(row.id, name, role), clear

    def check(self, clear: str) -> TokenInfo | None:
        """The token's info when it is valid and not revoked, else None."""
        with self.db.session() as session:
            row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == _hash(clear),
                                                           ApiTokenRow.revoked.is_(False)))
            if row is None:
                return None
            return TokenInfo(row.id, row.name, row.role)

    def touch(self, token_id: str) -> None:
        """Record that a token was used."""
        with self.db.session() as session:
            session.execute(update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=utcnow()))

    def count(self) -> int:
        """How many usable tokens exist."""
        with self.db.session() as session:
            return session.execute(select(func.count()).select_from(ApiTokenRow)
                                   .where(ApiTokenRow.revoked.is_(False))).scalar_one()

    def list(self) -> list[dict]:
        """Every token without its secret."""
        with self.db.session() as session:
            rows = session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.created_at)).all()
            return [{"id": r.id, "name": r.name, "role": r.role, "revoked": r.revoked,
                     "created_at": r.created_at.isoformat(),
                     "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None} for r in rows]

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by id; False when there is none."""
        with self.db.session() as session:
            result = session.execute(update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(revoked=True))
            return cast("CursorResult[Any]", result).rowcount == 1  # an UPDATE's result is a CursorResult
