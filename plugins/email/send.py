"""`email.send`: one message to a few people (a welcome email, a weekly summary to the team)."""
from __future__ import annotations

from contextlib import ExitStack
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from beffroi import HTML, ActionError, ActionSpec, DocumentRef, delivered, record_delivery

from . import attachments
from .attachments import Attached, AttachmentFacts, attachments_field
from .channels import open_channel, sender_of
from .message import MAX_RECIPIENTS, bare, build, describe, message_id, parse_addresses
from .smtp import Refused

Addresses = Annotated[list[str], BeforeValidator(parse_addresses)]
TARGET = "message"  # the delivery journal's target for this action: one message per step (or loop item)


class SendInput(BaseModel):
    """One message; give `text`, `html` or both (then mail programs show the HTML and keep the text as fallback)."""

    model_config = ConfigDict(extra="forbid")
    to: Addresses = Field(default_factory=list, description="Recipients: one address, a list, or 'a@x.be, b@y.be'")
    cc: Addresses = Field(default_factory=list, description="Copy recipients (visible to everyone)")
    bcc: Addresses = Field(default_factory=list, description="Hidden copy recipients (in no header)")
    subject: str = Field(min_length=1, max_length=998, description="Subject line")
    text: str | None = Field(None, description="Plain-text body")
    html: str | None = Field(None, description="HTML body ({{ … }} values are HTML-escaped; |safe keeps one as is)",
                             json_schema_extra=HTML)
    reply_to: str | None = Field(None, description="Address that replies go to, when not the sender")
    attachments: list[DocumentRef] = attachments_field()

    @model_validator(mode="after")
    def _check(self):
        if self.text is None and self.html is None:
            raise ValueError("give text, html or both")
        count = len(self.to) + len(self.cc) + len(self.bcc)
        if count == 0:
            raise ValueError("give at least one recipient in to, cc or bcc")
        if count > MAX_RECIPIENTS:
            raise ValueError(f"{count} recipients: email.send takes at most {MAX_RECIPIENTS}; "
                             "send to a list with email.send_campaign")
        return self

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        found = parse_addresses(value)
        if len(found) != 1:
            raise ValueError("give one address")
        return found[0]


class SendOutput(BaseModel):
    """What the server accepted; `outbox: true` when the message was only recorded."""

    message_id: str = Field(description="The Message-ID header, the same on every attempt of the step")
    accepted: list[str] = Field(description="Recipients the server accepted (in a dry run: those it would go to)")
    refused: dict[str, str] = Field(description="Recipients the server refused, with its reply")
    connection: str = Field(description="The connection it went through (`outbox` when the step names none)")
    outbox: bool = Field(description="True when the message was only recorded in the outbox, not sent")
    note: str | None = Field(None, description="Why nothing was sent, for an outbox")
    already_sent: bool = Field(False, description="True when an earlier attempt of this step had sent it")
    attachments: list[AttachmentFacts] = Field(default_factory=list, description="The documents attached (what they "
                                                                                 "are, never their bytes)")


def _message(payload: SendInput, ctx):
    sender = sender_of(ctx)
    envelope = list(dict.fromkeys(bare(a) for a in [*payload.to, *payload.cc, *payload.bcc]))
    msg = build(sender=sender.header, to=payload.to, cc=payload.cc, subject=payload.subject, text=payload.text,
                html=payload.html, reply_to=payload.reply_to,
                msg_id=message_id(ctx.idempotency_key, sender.from_address))
    return sender, msg, envelope


def run(payload: SendInput, ctx) -> dict[str, Any]:
    """Send the message once: a retried or resumed step returns what the first successful attempt recorded."""
    recorded = delivered(ctx.db, ctx.idempotency_key, TARGET)
    if recorded is not None:
        return {**recorded, "already_sent": True}
    sender, msg, envelope = _message(payload, ctx)
    with ExitStack() as stack:  # the attachments' temporary files, removed once the message is sent
        attached = Attached(ctx, payload.attachments, stack)
        attached.add_to(msg)
        channel = open_channel(ctx)
        try:
            refused = channel.send(msg, envelope, ctx.idempotency_key)
        except Refused as exc:
            raise ActionError(f"the mail server refused the message: {exc}", retryable=not exc.permanent) from None
        finally:
            channel.close()
    result = {"message_id": msg["Message-ID"], "accepted": [a for a in envelope if a not in refused],
              "refused": refused, **sender.labels(), "already_sent": False, "attachments": attached.facts()}
    record_delivery(ctx, ctx.idempotency_key, TARGET, result=result)
    return result


def preview(payload: SendInput, ctx) -> dict[str, Any]:
    """The output a send would give, and the message exactly as it would be sent; nothing is sent or recorded."""
    sender, msg, envelope = _message(payload, ctx)
    listed, warnings = attachments.preview(ctx, payload.attachments)
    would_send = {**describe(msg, envelope), **({"attachments": listed} if listed else {})}
    # the Message-ID is the real one (derived from the idempotency key); `accepted` is whom it would go to
    return {"message_id": msg["Message-ID"], "accepted": envelope, "refused": {}, **sender.labels(preview=True),
            "already_sent": False, "would_send": would_send, "recipients": len(envelope),
            "attachments": attachments.placeholders(listed),
            **({"warnings": warnings} if warnings else {})}


SPEC = ActionSpec(key="email.send", title="Send an email", input_model=SendInput, output_model=SendOutput,
                  connection_type="email", run=run, preview=preview,
                  description="Sends one message to a few people through an SMTP connection (or records it in the "
                              "outbox when the step names no connection). A retried step never sends it twice.")
