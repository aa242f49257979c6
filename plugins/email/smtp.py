"""The `smtp` connection type: a session with a mail server (smtplib) and server replies turned into clear errors.

Like all outbound traffic, the server's address must be public unless the operator lists its network in
BEFFROI_ALLOWED_NETWORKS (a relay on 10.0.0.0/8, a local MTA on 127.0.0.1): see `connect.py`.
"""
from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from beffroi import ActionError

from .connect import GuardedSMTP, GuardedSMTPS, loopback, resolve
from .message import bare, check_address

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class SmtpConfig(BaseModel):
    """An account on a mail server (SMTP submission)."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1, max_length=253, description="Mail server name, e.g. smtp.example.org")
    port: int | None = Field(None, ge=1, le=65535,
                             description="Server port; default 587 for starttls, 465 for ssl, 25 for none")
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (port 587), ssl (port 465, TLS from the start) or none (no encryption: "
                                "only for a mail server on this machine)")
    username: str | None = Field(None, description="Login; leave empty when the server needs none")
    password: SecretStr | None = Field(None, description="Password of the login (stored encrypted)")
    from_address: str = Field(description="Sender address, e.g. communication@ville.example")
    from_name: str | None = Field(None, description="Sender name shown to recipients, e.g. Ville de Namur")
    unsubscribe_mailto: str | None = Field(
        None, description="Optional address that receives unsubscribe requests by email (added to campaigns' "
                          "List-Unsubscribe header next to the one-click link)")
    tls_ca_certificate: str | None = Field(
        None, description="PEM certificate of a private certificate authority to trust for this server "
                          "(for an internal relay); public servers need nothing here")
    timeout: float = Field(30.0, gt=0, le=300, description="Seconds to wait for the server at each exchange")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if "://" in value or "/" in value or " " in value:
            raise ValueError("give the server name only, e.g. smtp.example.org (no https:// nor path)")
        return value

    @field_validator("from_address", "unsubscribe_mailto")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return check_address(value) if value is not None else None

    @field_validator("tls_ca_certificate")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            ssl.create_default_context(cadata=value)
        except (ssl.SSLError, ValueError):
            raise ValueError("not a PEM certificate (-----BEGIN CERTIFICATE----- …)") from None
        return value

    @model_validator(mode="after")
    def _login(self):
        if bool(self.username) != bool(self.password and self.password.get_secret_value()):
            raise ValueError("give both username and password, or neither")
        return self

    @property
    def effective_port(self) -> int:
        """The port to connect to (the security's usual port when none is given)."""
        return self.port or DEFAULT_PORTS[self.security]


def reply_text(code: int, text: bytes | str) -> str:
    """`550 5.1.1 Mailbox unavailable`: a server reply on one line, short."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    line = " ".join(f"{code} {text}".split())
    return line if len(line) <= 200 else line[:197] + "..."


class Refused(Exception):
    """The server would not take this message (every recipient refused, or the content); `permanent` for 5xx.

    `reply` is the server's answer alone (`550 5.1.1 …`), `str()` the answer with the address(es) it concerns.
    """

    def __init__(self, message: str, *, permanent: bool, reply: str | None = None):
        super().__init__(message)
        self.permanent, self.reply = permanent, reply or message


class Disconnected(ActionError):
    """The server closed or lost the connection; a new connection may work (retryable)."""


class SmtpSession:
    """One logged-in SMTP connection, reused for many messages; `send` maps server replies to clear errors."""

    def __init__(self, name: str, config: SmtpConfig, *, allowed=(), deadline: float | None = None):
        self.name, self.config, self.allowed, self.deadline = name, config, allowed, deadline
        self.client: smtplib.SMTP | None = None
        self.where = f"{config.host}:{config.effective_port}"
        self.waited = config.timeout  # the timeout of the last exchange, for the message when it expires

    def timeout(self) -> float:
        """Seconds allowed for the next exchange: the connection's timeout, never past the step's deadline."""
        left = self.config.timeout if self.deadline is None else self.deadline - time.monotonic()
        self.waited = min(self.config.timeout, max(0.5, left))
        return self.waited

    def open(self) -> SmtpSession:
        """Connect, say EHLO, start TLS and log in; ActionError (retryable or not) saying what went wrong."""
        config, port = self.config, self.config.effective_port
        addresses = resolve(config.host, port, self.allowed)
        if config.security == "none" and config.username and not all(loopback(a) for a in addresses):
            raise ActionError(f"connection {self.name!r}: refusing to send the password unencrypted to "
                              f"{config.host}; choose security starttls or ssl", retryable=False)
        context = ssl.create_default_context(cadata=config.tls_ca_certificate or None)
        client: GuardedSMTP | GuardedSMTPS = (GuardedSMTPS(timeout=self.timeout(), context=context)
                                              if config.security == "ssl" else GuardedSMTP(timeout=self.timeout()))
        client.addresses, client._host = tuple(addresses), config.host
        try:
            code, text = client.connect(config.host, port)
            if code != 220:
                raise smtplib.SMTPConnectError(code, text)
            client.ehlo()
            if config.security == "starttls":
                if not client.has_extn("starttls"):
                    raise ActionError(f"{self.where} does not offer STARTTLS; choose security ssl (port 465), or "
                                      "none for a server on this machine", retryable=False)
                client.starttls(context=context)
                client.ehlo()
            if config.username and config.password:  # both or neither (SmtpConfig._login)
                client.login(config.username, config.password.get_secret_value())
        except BaseException as exc:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
            _close(client)
            raise self.error(exc) from None
        self.client = client
        return self

    def send(self, message: EmailMessage, recipients: list[str]) -> dict[str, str]:
        """Send to the envelope recipients; returns those refused ({address: reply}) when others were accepted."""
        assert self.client is not None, "open() first"
        if self.client.sock is not None:
            self.client.sock.settimeout(self.timeout())
        try:
            refused = self.client.send_message(message, from_addr=bare(message["From"]), to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            replies = exc.recipients
            if any(code == 421 for code, _ in replies.values()):
                raise self.error(exc) from None
            texts = {who: reply_text(code, reply) for who, (code, reply) in replies.items()}
            raise Refused("; ".join(f"{who}: {text}" for who, text in texts.items()), reply="; ".join(texts.values()),
                          permanent=all(code >= 500 for code, _ in replies.values())) from None
        except smtplib.SMTPNotSupportedError as exc:  # an address with accents, and the server has no SMTPUTF8
            raise Refused(f"{self.where} cannot deliver to this address ({exc})", permanent=True) from None
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code == 421:
                raise self.error(exc) from None
            raise Refused(f"message refused: {reply_text(exc.smtp_code, exc.smtp_error)}",
                          permanent=exc.smtp_code >= 500) from None
        except BaseException as exc:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
            raise self.error(exc) from None
        return {who: reply_text(code, reply) for who, (code, reply) in refused.items()}

    def close(self) -> None:
        """Say QUIT (politely, errors ignored) and close the socket."""
        if self.client is not None:
            _close(self.client)
            self.client = None

    def error(self, exc: BaseException) -> BaseException:
        """An ActionError for a failure of the connection, the login or the sender; never holds the password."""
        name, where = self.name, self.where
        if isinstance(exc, ActionError) or not isinstance(exc, Exception):
            return exc
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return ActionError(f"the mail server refused the credentials of connection {name!r} (user name or "
                               f"password): {reply_text(exc.smtp_code, exc.smtp_error)}", retryable=False)
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return ActionError(f"{where}: {exc} (check the connection's security setting)", retryable=False)
        if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421:
            return Disconnected(f"{where} is not taking mail now: {reply_text(exc.smtp_code, exc.smtp_error)}")
        if isinstance(exc, smtplib.SMTPSenderRefused):
            text = reply_text(exc.smtp_code, exc.smtp_error)
            return ActionError(f"{where} refused the sender {exc.sender!r}: {text}", retryable=exc.smtp_code < 500)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):  # a 421 in the middle of the recipients
            code, reply = next(iter(exc.recipients.values()))
            return Disconnected(f"{where} closed the connection: {reply_text(code, reply)} (try again later)")
        if isinstance(exc, smtplib.SMTPResponseException):
            text = reply_text(exc.smtp_code, exc.smtp_error)
            if isinstance(exc, smtplib.SMTPConnectError):
                return Disconnected(f"{where} is not taking mail now: {text}", retryable=exc.smtp_code < 500)
            return ActionError(f"{where} answered {text}", retryable=exc.smtp_code < 500)
        if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError):
            return Disconnected(f"{where} did not answer within {self.waited:g}s")  # smtplib wraps the timeout
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return Disconnected(f"{where} closed the connection unexpectedly")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return ActionError(f"the certificate of {where} is not trusted ({exc.verify_message}); for an internal "
                               "server, give its authority in tls_ca_certificate", retryable=False)
        if isinstance(exc, ssl.SSLError):
            return ActionError(f"TLS with {where} failed ({exc.reason or exc}); check the security setting "
                               f"({self.config.security}) and port", retryable=False)
        if isinstance(exc, TimeoutError):
            return Disconnected(f"{where} did not answer within {self.waited:g}s")
        if isinstance(exc, ConnectionRefusedError):
            return Disconnected(f"cannot connect to {where} (connection refused)")
        if isinstance(exc, OSError):
            return Disconnected(f"cannot talk to {where} ({exc.strerror or type(exc).__name__})")
        return ActionError(f"{where}: {type(exc).__name__}: {exc}")


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except Exception:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
        try:
            client.close()
        except Exception:  # noqa: BLE001 - a boundary: any failure becomes the product's own error
            pass


def check_connection(config: SmtpConfig, ctx) -> str:
    """Connect, EHLO, TLS and log in, then QUIT: no mail is sent."""
    connection = ctx.connection
    session = SmtpSession(connection.name if connection else "smtp", config,
                          allowed=getattr(ctx.http, "allowed_networks", ()), deadline=ctx.deadline).open()
    extras = {"starttls": ", STARTTLS", "ssl": ", TLS", "none": ""}[config.security]
    session.close()
    login = f", logged in as {config.username}" if config.username else ""
    return f"connected to {session.where}{extras}{login}"
