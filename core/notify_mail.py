"""The installation's own e-mails (an approval request, its reminder): what one is, who sends it, and through what.

Core composes them; the e-mail plugin sends them, as the `Mailer` service it provides (core never imports a
plugin). They go through the e-mail connection named by BEFFROI_NOTIFY_CONNECTION; without one they are only
recorded in the outbox.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Mail:
    """One message to one person: a subject, a plain-text and an HTML body; `key` is the same at every attempt (the
    Message-ID is made from it, so a repeat is recognisable)."""

    to: str
    subject: str
    text: str
    html: str
    key: str


@runtime_checkable
class Mailer(Protocol):
    """Sends the installation's own e-mails through an e-mail connection (the e-mail plugin provides it)."""

    def send_mail(self, ctx: Any, mail: Mail) -> str:
        """Send `mail` through `ctx.connection`; returns its Message-ID. ActionError when it could not be sent."""
        ...


@dataclass(frozen=True)
class Notifier:
    """How this installation sends its own e-mails: the connection's name (None: the outbox only), how to load it
    (with its secrets), the language of people who chose none and the time zone of the times they read."""

    connection_name: str | None = None
    resolve: Callable[[str], Any] | None = None
    language: str = "fr"
    zone: str = "Europe/Brussels"

    def connection(self) -> Any:
        """The designated connection, loaded (ConnectionProblem when it is missing or not an e-mail one); None when
        the installation names none."""
        if self.connection_name is None or self.resolve is None:
            return None
        return self.resolve(self.connection_name)
