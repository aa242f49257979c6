"""The installation's own e-mails (approval requests), sent for core as the `Mailer` service."""
from __future__ import annotations

from typing import Any

from beffroi import ActionError, Mail

from .channels import open_channel, sender_of
from .message import build, message_id
from .smtp import Refused


class ConnectionMailer:
    """Sends one `Mail` through the connection of the context it is given (SMTP, or an outbox connection)."""

    def send_mail(self, ctx: Any, mail: Mail) -> str:
        """Send it; its Message-ID (the same for every attempt of one key). ActionError when it was not sent."""
        sender = sender_of(ctx)
        message = build(sender=sender.header, to=[mail.to], subject=mail.subject, text=mail.text, html=mail.html,
                        msg_id=message_id(mail.key, sender.from_address))
        channel = open_channel(ctx)
        try:
            refused = channel.send(message, [mail.to], mail.key)
        except Refused as exc:
            raise ActionError(f"the mail server refused the message: {exc}", retryable=not exc.permanent) from None
        finally:
            channel.close()
        if refused:
            raise ActionError(f"the mail server refused {mail.to}: {refused.get(mail.to, '')}", retryable=True)
        return str(message["Message-ID"])
