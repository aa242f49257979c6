"""The `email` tool type: messages and campaigns through an SMTP server, or recorded in the outbox by default.

Connection types: `smtp` (a mail server account) and `email_outbox` (nothing leaves Beffroi; also what a step
gets when it names no connection). Actions: `email.send` (one message to a few people) and
`email.send_campaign` (a personalised message to each consenting member of a contact list).
"""
from collections.abc import Iterator

from beffroi import ActionSpec, ConnectionSpec, Mailer, ServiceSpec, hookimpl

from . import campaign, send
from .notices import ConnectionMailer
from .outbox_channel import OutboxConfig, check_outbox
from .smtp import SmtpConfig, check_connection


@hookimpl
def register_connections() -> Iterator[ConnectionSpec]:
    """A real mail server, and the outbox."""
    yield ConnectionSpec(key="smtp", tool_type="email", title="Mail server (SMTP)", config_model=SmtpConfig,
                         test=check_connection,
                         description="Sends through your organisation's mail server or a provider's SMTP relay.")
    yield ConnectionSpec(key="email_outbox", tool_type="email", title="Email outbox (nothing is sent)",
                         config_model=OutboxConfig, test=check_outbox,
                         description="Records each message in Beffroi's outbox instead of sending it: to try "
                                     "recipes safely. Steps without a connection use it too.")


@hookimpl
def register_actions() -> list[ActionSpec]:
    """Send one message; send a campaign to a list."""
    return [send.SPEC, campaign.SPEC]


@hookimpl
def register_services() -> list[ServiceSpec]:
    """The Mailer core sends its own e-mails (approval requests) with, through BEFFROI_NOTIFY_CONNECTION."""
    return [ServiceSpec(protocol=Mailer, provider=ConnectionMailer())]
