"""SQLAlchemy models: recipes and their versions, connections, runs, the step journal, trigger state."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

if TYPE_CHECKING:
    from sqlalchemy import Table


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores UTC; always returns aware datetimes (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def bind_processor(self, dialect):
        """On SQLite: the text SQLAlchemy's DATETIME stores (`YYYY-MM-DD HH:MM:SS.ffffff`), in UTC, built in C.

        SQLAlchemy's own formatter fills a dict per value (a tenth of the runner's time on the journal's hot
        path); an aware value in another zone is converted to UTC here, where SQLite would drop its zone.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value):
            if value is None:
                return None
            if value.tzinfo is not None and value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00" of an aware value
        return process

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """The declarative base of every table: core's, and those the built-in crm and analytics plugins declare."""

    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, Any: JSON}
    if TYPE_CHECKING:
        __table__: ClassVar[Table]  # every model here is a declarative Table (SQLAlchemy types it as a FromClause)


class RecipeRow(Base):
    """The current version of each stored recipe."""

    __tablename__ = "recipes"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecipeVersionRow(Base):
    """Every saved version of a recipe, kept for history and for runs that started on it."""

    __tablename__ = "recipe_versions"
    recipe_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]]
    author: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConnectionRow(Base):
    """A stored account of a tool: plain settings in `config`, secrets encrypted in `secrets`."""

    __tablename__ = "connections"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    config: Mapped[dict[str, Any]]
    secrets: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunRow(Base):
    """One execution of a recipe, with the recipe definition it runs (so a resume runs the same steps)."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipe_name: Mapped[str] = mapped_column(String(100), index=True)
    recipe_version: Mapped[int | None] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), index=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    trigger_event: Mapped[Any] = mapped_column(JSON, nullable=True)
    trigger_key: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    wake_at: Mapped[datetime | None] = mapped_column(index=True)  # a `waiting` run is queued again at this time
    started_by: Mapped[str | None] = mapped_column(String(320))  # who started it by hand (e-mail, token:<name>)

    # lists of runs, newest first: all of them, or of some statuses (keyset pagination on created_at, id)
    __table_args__ = (Index("ix_runs_recipe_created", "recipe_name", "created_at"),
                      Index("ix_runs_created", "created_at", "id"),
                      Index("ix_runs_status_created", "status", "created_at", "id"))


class StepRunRow(Base):
    """The journal of one step in one run: rendered input (redacted), output, error, attempts, timings."""

    __tablename__ = "step_runs"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    step_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    input: Mapped[Any] = mapped_column(JSON, nullable=True)
    output: Mapped[Any] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class StepProgressRow(Base):
    """How far a long step got (`ctx.progress`): done of total, and since when this attempt counts (its rate)."""

    __tablename__ = "step_progress"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    step_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    done: Mapped[int] = mapped_column(Integer)
    total: Mapped[int | None] = mapped_column(Integer)
    base: Mapped[int] = mapped_column(Integer)  # `done` when this attempt began: its rate counts from there
    since: Mapped[datetime]
    updated_at: Mapped[datetime]


class StepItemRow(Base):
    """The journal of one item of a `for_each` step, so a resumed loop skips finished items."""

    __tablename__ = "step_items"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    step_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    input: Mapped[Any] = mapped_column(JSON, nullable=True)
    output: Mapped[Any] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class TriggerStateRow(Base):
    """Per-recipe trigger state: the polling cursor and the last cron tick fired."""

    __tablename__ = "trigger_state"
    recipe_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor: Mapped[Any] = mapped_column(JSON, nullable=True)
    seeded: Mapped[bool] = mapped_column(Boolean, default=False)
    last_tick: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TriggerSeenRow(Base):
    """A trigger event already accepted (delivery id, polled item key): it starts at most one run."""

    __tablename__ = "trigger_seen"
    recipe_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiTokenRow(Base):
    """A bearer token for the API, stored as a SHA-256 hash; the clear token is shown once."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class InstallationRow(Base):
    """A value made once for the whole installation and shared by all its processes (the secrets' scrypt salt)."""

    __tablename__ = "installation"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserRow(Base):
    """A person who signs in to the web UI: a role and an argon2 hash of the password (never the password)."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(8))  # of the e-mails they get; None: the installation's


class UserSessionRow(Base):
    """A signed-in browser: the SHA-256 of its cookie's random id, its CSRF token and when it expires."""

    __tablename__ = "user_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class SignInFailureRow(Base):
    """A failed sign-in counted against a key (an account, a client address), stored as the key's SHA-256.

    Shared by every process serving the UI; rows older than the throttle's window are pruned as failures come in.
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_at", "key_hash", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch (wall clock: shared by machines)


class PasswordLinkRow(Base):
    """A one-time link for a person to choose their password: the SHA-256 of its secret, whose account, until when."""

    __tablename__ = "password_links"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class RecipeDraftRow(Base):
    """A person's unsaved edit of one recipe in the web UI's builder: the working definition, valid or not yet.

    `base_version` is the stored version it started from (None for a recipe not stored yet).
    """

    __tablename__ = "recipe_drafts"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    recipe_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    definition: Mapped[dict[str, Any]]
    base_version: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditRow(Base):
    """One entry of the audit log (`beffroi.audit`): appended, never changed."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target", "id"),
                      Index("ix_audit_log_actor", "actor", "id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(320))
    detail: Mapped[dict[str, Any]]


class ApprovalRow(Base):
    """A run held at a `flow.approve` step: what the approvers see (each later channel's preview, the texts they
    may edit), who may decide, the decisions made and until when (`beffroi.approvals`)."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("run_id", "step_id", name="uq_approvals_run_step"),
                      Index("ix_approvals_status_created", "status", "created_at", "id"))
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(String(100))
    recipe_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # pending, approved, rejected, expired, cancelled
    mode: Mapped[str] = mapped_column(String(8))  # any, all
    approvers: Mapped[Any] = mapped_column(JSON)  # e-mail addresses; empty: anyone with the approver role
    excluded: Mapped[Any] = mapped_column(JSON)  # who may not decide: the run's starter, the version's author
    message: Mapped[str | None] = mapped_column(Text)
    previews: Mapped[Any] = mapped_column(JSON)  # the later steps with side effects, previewed at the request
    texts: Mapped[Any] = mapped_column(JSON)  # {step_id: {field or "texts.<account>": text}} as approved so far
    decisions: Mapped[Any] = mapped_column(JSON)  # [{by, decision, at, reason, note, edited}]
    reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None]
    reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
