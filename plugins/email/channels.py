"""Where a step's messages go: the SMTP server of its connection, or the outbox when it names none."""
from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr

from beffroi import ActionError

from .outbox_channel import OUTBOX_NAME, OutboxChannel, OutboxConfig
from .smtp import SmtpConfig, SmtpSession


@dataclass(frozen=True)
class Sender:
    """Who a step sends as, and through what (for messages, outputs and previews)."""

    connection: str
    outbox: bool
    from_address: str
    from_name: str | None
    unsubscribe_mailto: str | None

    @property
    def header(self) -> str:
        """The From header: `Ville de Namur <communication@namur.example>`."""
        return formataddr((self.from_name, self.from_address)) if self.from_name else self.from_address

    def labels(self, *, preview: bool = False) -> dict:
        """Fields every output carries, so an outbox result is never mistaken for a sent message."""
        labels = {"connection": self.connection, "outbox": self.outbox}
        if self.outbox:
            labels["note"] = ("would be recorded in the outbox, not sent" if preview
                              else "recorded in the outbox: nothing was sent")
        return labels


def _connection(ctx):
    if len(ctx.connections) > 1:
        names = ", ".join(c.name for c in ctx.connections)
        raise ActionError(f"email actions send through one connection; this step names several ({names})",
                          retryable=False)
    return ctx.connection


def sender_of(ctx) -> Sender:
    """The sender of this step (no network, no database)."""
    connection = _connection(ctx)
    config = connection.config if connection is not None else OutboxConfig()
    return Sender(connection.name if connection is not None else OUTBOX_NAME, not isinstance(config, SmtpConfig),
                  config.from_address, config.from_name, config.unsubscribe_mailto)


class SmtpChannel:
    """Sends through an SMTP connection opened on the first message and reused for the next ones."""

    outbox = False

    def __init__(self, name: str, config: SmtpConfig, ctx):
        self.name, self.config, self.ctx = name, config, ctx
        self.session: SmtpSession | None = None

    def send(self, message: EmailMessage, recipients: list[str], key: str) -> dict[str, str]:
        """Send one message; returns the recipients refused while others were accepted."""
        if self.session is None:
            self.session = SmtpSession(self.name, self.config, allowed=getattr(self.ctx.http, "allowed_networks", ()),
                                       deadline=self.ctx.deadline).open()
        return self.session.send(message, recipients)

    def close(self) -> None:
        """Close the connection; the next send opens a new one."""
        if self.session is not None:
            self.session.close()
            self.session = None


def open_channel(ctx) -> OutboxChannel | SmtpChannel:
    """The channel of this step: SMTP for an `smtp` connection, the outbox otherwise."""
    connection = _connection(ctx)
    if connection is not None and isinstance(connection.config, SmtpConfig):
        return SmtpChannel(connection.name, connection.config, ctx)
    config = connection.config if connection is not None else OutboxConfig()
    return OutboxChannel(connection.name if connection is not None else OUTBOX_NAME, config, ctx)
