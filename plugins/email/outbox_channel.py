"""The `email_outbox` connection type, the zero-setup default: messages are rendered and recorded, never sent."""
from __future__ import annotations

import hashlib
from email.message import EmailMessage

from pydantic import BaseModel, ConfigDict, Field, field_validator

from beffroi import record_outbox

from .message import check_address, describe

OUTBOX_NAME = "outbox"  # the connection name shown when a step names no connection
OUTBOX_NOTE = "recorded in the outbox: nothing was sent"


class OutboxConfig(BaseModel):
    """Messages are kept in Beffroi's outbox (GET /api/outbox?channel=email) instead of being sent."""

    model_config = ConfigDict(extra="forbid")
    from_address: str = Field("beffroi@localhost", description="Sender address written in the recorded messages")
    from_name: str | None = Field(None, description="Sender name written in the recorded messages")
    unsubscribe_mailto: str | None = Field(None, description="Optional unsubscribe address shown in campaigns' "
                                                             "List-Unsubscribe header")

    @field_validator("from_address", "unsubscribe_mailto")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return check_address(value) if value is not None else None


def outbox_key(key: str) -> str:
    """The outbox's idempotency key (its column holds 300 characters; longer keys are hashed)."""
    return key if len(key) <= 300 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class OutboxChannel:
    """Records each message in the outbox, once per key (a retried step records nothing twice)."""

    outbox = True

    def __init__(self, name: str, config: OutboxConfig, ctx):
        self.name, self.config, self.ctx = name, config, ctx

    def send(self, message: EmailMessage, recipients: list[str], key: str) -> dict[str, str]:
        """Record the message as it would have been sent; nobody is refused."""
        payload = {"outbox": True, "note": OUTBOX_NOTE, **describe(message, recipients)}
        record_outbox(self.ctx.db, channel="email", connection=self.name, key=outbox_key(key), payload=payload,
                      run_id=self.ctx.run_id or None)
        return {}

    def close(self) -> None:
        """Nothing to close."""


def check_outbox(config: OutboxConfig, ctx) -> str:
    """An outbox always works: it only records."""
    return "outbox: messages are recorded in Beffroi and never sent"
