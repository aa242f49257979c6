"""Values made once per installation and kept in its database, so every process (any machine) reads the same."""
from __future__ import annotations

import base64
import os

from sqlalchemy.exc import IntegrityError

from .store import Database
from .store.models import InstallationRow

SALT = "secrets.scrypt_salt"


def secrets_salt(db: Database) -> bytes:
    """The salt scrypt stretches a BEFFROI_SECRET_KEY passphrase with: 16 random bytes, made on first use."""
    value = _read(db, SALT)
    if value is None:
        try:
            with db.session() as session:
                session.add(InstallationRow(name=SALT, value=base64.b64encode(os.urandom(16)).decode()))
        except IntegrityError:
            pass  # another process made it at the same moment: its salt is the installation's
        value = _read(db, SALT)
        assert value is not None  # made just now, by this process or another, and never deleted
    return base64.b64decode(value)


def _read(db: Database, name: str) -> str | None:
    with db.session() as session:
        row = session.get(InstallationRow, name)
        return row.value if row is not None else None
