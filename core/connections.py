"""Stored connections: validated config, secrets encrypted at rest, resolution for steps."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy import select

from .config_secrets import (
    fill_secrets,
    is_stored,
    masked_secrets,
    secret_fields,
    secret_texts,
    split_config,
    stored_paths,
)
from .errors import describe
from .installation import secrets_salt
from .messages import suggest
from .plugins import Registry
from .recipes import Problem, pydantic_problems
from .redaction import scrub
from .secrets import SecretBox, SecretsError
from .specs import ActionContext, ConnectionSpec
from .store import Database
from .store.models import ConnectionRow, utcnow

ConnectionName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)]
_NAME = TypeAdapter(ConnectionName)


class ConnectionProblem(Exception):
    """A connection that is unknown, of the wrong type, or invalid; the message says which.

    `problems` locates each error (`name`, `config.base_url`) for a form that shows it beside its field.
    """

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems if problems is not None else [Problem("", message)]


class ConnectionNotFound(ConnectionProblem, LookupError):
    """No connection has this name (a LookupError too, as a missing recipe is)."""


class ConnectionExists(ConnectionProblem):
    """A connection with this name exists already (and was not to be replaced)."""


def check_name(name: str) -> None:
    """A ConnectionProblem located at `name` when it is not a connection name (the API's rule)."""
    try:
        _NAME.validate_python(name)
    except ValidationError as exc:
        problems = pydantic_problems(exc, "name")
        raise ConnectionProblem("; ".join(str(p) for p in problems), problems) from None


@dataclass
class Connection:
    """A resolved connection handed to actions: its name, type and validated config (secrets included)."""

    name: str
    type: str
    tool_type: str
    config: BaseModel
    secret_values: list[str] = field(default_factory=list, repr=False)


class ConnectionStore:
    """Creates, updates and resolves stored connections of one engine."""

    def __init__(self, db: Database, registry: Registry, key: Callable[[], str | list[str]]):
        self.db = db
        self.registry = registry
        self.context: dict[str, Any] = {}  # what a check sees besides its connection (the engine's allowed folders…)
        self._key = key
        self._box: SecretBox | None = None

    @property
    def box(self) -> SecretBox:
        """The encryption box, made on first use (so listing plugins creates no key file)."""
        if self._box is None:
            self._box = self.make_box(self._key())
        return self._box

    def make_box(self, key_texts: str | list[str]) -> SecretBox:
        """A box for these keys (the first seals), passphrases stretched with this installation's salt."""
        return SecretBox(key_texts, salt=secrets_salt(self.db))

    def save(self, name: str, type_: str, config: dict[str, Any], *, keep_secrets: bool = True) -> str:
        """Create or update a connection; an update that leaves a secret out keeps the stored one."""
        spec = self.spec(type_)
        with self.db.session() as session:
            row = session.scalar(select(ConnectionRow).where(ConnectionRow.name == name))
            merged = dict(config)
            if row is not None and keep_secrets and row.secrets:
                merged = fill_secrets(merged, self.box.open(row.id, row.secrets, row.key_id))
            values = self.validated(spec, merged)
            plain, secrets = split_config(values)
            now = utcnow()
            if row is None:  # created and updated at the same instant
                row = ConnectionRow(id=uuid.uuid4().hex, name=name, type=type_, config={}, created_at=now)
                session.add(row)
            row.type, row.config, row.updated_at = type_, plain, now
            row.secrets = self.box.seal(row.id, secrets) if secrets else None
            row.key_id = self.box.key_id if secrets else None
            return row.id

    def validated(self, spec: ConnectionSpec, config: dict[str, Any]) -> BaseModel:
        """The settings checked by their type's model; a ConnectionProblem locates each error (`config.<field>`)."""
        try:
            values = spec.config_model.model_validate(config)
        except ValidationError as exc:
            problems = pydantic_problems(exc, "config")
            raise ConnectionProblem("; ".join(str(p) for p in problems), problems) from None
        if masked := masked_secrets(values):
            problem = Problem(f"config.{masked[0]}", "give the secret itself, not its mask")
            raise ConnectionProblem(str(problem), [problem])
        return values

    def spec(self, type_: str) -> ConnectionSpec:
        """The spec of a connection type; a ConnectionProblem (with the nearest type) when no plugin provides it."""
        spec = self.registry.connection_types.get(type_)
        if spec is None:
            raise ConnectionProblem(f"unknown connection type {type_!r}"
                                    f"{suggest(type_, list(self.registry.connection_types))}")
        return spec

    def create(self, name: str, type_: str, config: dict[str, Any], *, replace: bool = False) -> str:
        """A new connection (with `replace`, one that takes the place of any connection of that name)."""
        check_name(name)
        if not replace and self.find(name) is not None:
            problem = Problem("name", f"a connection named {name!r} already exists")
            raise ConnectionExists(problem.message, [problem])
        return self.save(name, type_, config, keep_secrets=False)

    def find(self, name: str) -> ConnectionRow | None:
        """The stored row of a connection, or None."""
        with self.db.session() as session:
            return session.scalar(select(ConnectionRow).where(ConnectionRow.name == name))

    def row(self, name: str) -> ConnectionRow:
        """The stored row of a connection; ConnectionNotFound when there is none."""
        row = self.find(name)
        if row is None:
            raise ConnectionNotFound(f"no connection named {name!r}")
        return row

    def public(self, row: ConnectionRow) -> dict[str, Any]:
        """A connection as it may be shown: its settings, and for each secret only whether it is set."""
        spec = self.registry.connection_types.get(row.type)
        names = sorted(secret_fields(spec.config_model)) if spec else []
        stored = stored_paths(self.box.open(row.id, row.secrets, row.key_id)) if row.secrets else set()
        return {"name": row.name, "type": row.type, "tool_type": spec.tool_type if spec else None,
                "config": row.config, "secrets": {name: is_stored(name, stored) for name in names},
                "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat()}

    def listing(self) -> list[dict[str, Any]]:
        """Every connection as `public` shows it, by name."""
        with self.db.session() as session:
            rows = session.scalars(select(ConnectionRow).order_by(ConnectionRow.name)).all()
        return [self.public(row) for row in rows]

    def delete(self, name: str) -> None:
        """Delete a connection; ConnectionNotFound when there is none."""
        with self.db.session() as session:
            row = session.scalar(select(ConnectionRow).where(ConnectionRow.name == name))
            if row is None:
                raise ConnectionNotFound(f"no connection named {name!r}")
            session.delete(row)

    def test(self, name: str, http: Any) -> dict[str, Any]:
        """Run the connection type's own check (a login, a request, an SMTP hello) without publishing anything.

        `ok` is True when it works, False with the reason when not, None when its type has no check; the message
        never holds one of its secrets (a remote server may echo the credential it was sent).
        """
        row = self.row(name)
        spec = self.registry.connection_types.get(row.type)
        if spec is None or spec.test is None:
            return {"ok": None, "message": f"connections of type {row.type!r} cannot be tested"}
        secrets: list[str] = []
        try:
            connection = self.resolve([name], None)[0]
            secrets = connection.secret_values
            ctx = ActionContext(run_id="", step_id="test", idempotency_key="", recipe="", connections=[connection],
                                http=http, **self.context)
            result = spec.test(connection.config, ctx)
        except Exception as exc:  # noqa: BLE001 - a failed check is its answer
            return {"ok": False, "message": scrub(describe(exc), secrets)}
        return {"ok": True, "message": scrub(str(result), secrets) if result else "connection works"}

    def types(self) -> dict[str, str]:
        """Every stored connection's name and type (no secret is read)."""
        with self.db.session() as session:
            return dict(session.execute(select(ConnectionRow.name, ConnectionRow.type)).all())

    def resolve(self, names: list[str], expected: str | None) -> list[Connection]:
        """Load connections by name for a step; each must exist and be of the action's type."""
        if not names:
            return []
        with self.db.session() as session:
            rows = {r.name: r for r in session.scalars(select(ConnectionRow).where(ConnectionRow.name.in_(names)))}
        resolved = []
        for name in names:
            row = rows.get(name)
            if row is None:
                raise ConnectionProblem(f"no connection named {name!r}")
            spec = self.registry.connection_types.get(row.type)
            if spec is None:
                raise ConnectionProblem(f"connection {name!r} is of type {row.type!r}, which no loaded plugin provides")
            if expected and expected not in (spec.key, spec.tool_type):
                raise ConnectionProblem(f"connection {name!r} is a {spec.key} ({spec.tool_type}) connection; "
                                       f"this action needs {expected}")
            secrets = self._open(row, row.secrets) if row.secrets else {}
            config = spec.config_model.model_validate(fill_secrets(row.config, secrets))
            if masked := masked_secrets(config):
                raise ConnectionProblem(f"connection {name!r}: its secret {masked[0]} was lost (an earlier version "
                                        "stored only its mask): enter it again")
            resolved.append(Connection(name, row.type, spec.tool_type, config, secret_texts(secrets)))
        return resolved

    def _open(self, row: ConnectionRow, blob: bytes) -> dict[str, Any]:
        """Decrypt a row's secrets; after a key rotation by another process, reload the keys once."""
        try:
            return self.box.open(row.id, blob, row.key_id)
        except SecretsError:
            if row.key_id in (None, self.box.key_id):
                raise
            self._box = None
            return self.box.open(row.id, blob, row.key_id)

    def rotate(self, new_box: SecretBox) -> tuple[int, int]:
        """Re-encrypt every connection not yet under new_box's key, one committed row at a time.

        Safe to interrupt and rerun: rows already rotated carry the new key id and are skipped.
        Returns (rows re-encrypted now, rows with secrets in all).
        """
        done = total = 0
        with self.db.session() as session:
            ids = session.scalars(select(ConnectionRow.id).where(ConnectionRow.secrets.is_not(None))).all()
        for row_id in ids:
            total += 1
            with self.db.session() as session:
                row = session.get(ConnectionRow, row_id, with_for_update=True)
                if row is None or row.secrets is None or row.key_id == new_box.key_id:
                    continue
                secrets = new_box.open(row.id, row.secrets, row.key_id)
                row.secrets, row.key_id = new_box.seal(row.id, secrets), new_box.key_id
                done += 1
        return done, total
