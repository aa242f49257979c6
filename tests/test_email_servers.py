"""Local SMTP servers for the email tests (aiosmtpd speaking real SMTP on 127.0.0.1), and checks of the servers.

`Mailbox` is the handler: it keeps every accepted message, answers chosen replies for chosen recipients
(550, greylisting 451) and can hold one message's DATA open so a test can kill the sender meanwhile.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import smtplib
import socket
import socketserver
import ssl
import tempfile
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

WAIT = 20  # seconds: the longest a held message waits for the test


class Mailbox:
    """aiosmtpd handler recording accepted messages; `replies[address]` is a list of replies given in turn
    to RCPT for that address (then it is accepted), `always[address]` a reply given every time."""

    def __init__(self):
        self.messages: list[dict] = []
        self.replies: dict[str, list[str]] = {}
        self.always: dict[str, str] = {}
        self.hold_message: int | None = None  # index of the DATA to hold open until `release`
        self.accept_held = False  # the held message is then accepted (else refused 451: its sender died meanwhile)
        self.held = threading.Event()
        self.release = threading.Event()
        self.data_seen = 0
        self.max_per_connection: int | None = None  # then MAIL is answered 421, as providers cap connections
        self.per_connection: dict[int, int] = {}
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            count = self.per_connection.get(id(server), 0)
            if self.max_per_connection is not None and count >= self.max_per_connection:
                return "421 4.7.0 Too many messages on this connection"
            self.per_connection[id(server)] = count + 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            queued = self.replies.get(address)
            reply = queued.pop(0) if queued else self.always.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            index, self.data_seen = self.data_seen, self.data_seen + 1
        if index == self.hold_message:
            self.held.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, WAIT)
            if not self.accept_held:
                return "451 4.3.0 Interrupted, not delivered"  # the client is gone: this one is not delivered
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": parsed,
                                  "tls": server.transport.get_extra_info("ssl_object") is not None,
                                  "login": getattr(session.auth_data, "login", None)})
        return "250 2.0.0 Accepted"

    def to(self, address: str) -> list[EmailMessage]:
        """Messages delivered to this envelope address."""
        with self.lock:
            return [m["message"] for m in self.messages if address in m["to"]]


class LocalController(Controller):
    """An aiosmtpd Controller on an ephemeral port of 127.0.0.1 (the port is read back once bound)."""

    def __init__(self, handler, **kwargs):
        super().__init__(handler, hostname="127.0.0.1", port=0, **kwargs)

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def self_signed() -> tuple[ssl.SSLContext, str]:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1, and that certificate in PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Beffroi test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as chain:
        chain.write(key_pem + cert_pem)
        chain.flush()
        context.load_cert_chain(chain.name)
    return context, cert_pem


def password_check(user: str, password: str):
    """An aiosmtpd authenticator accepting one login."""

    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return check


class GreetingServer:
    """A server that answers every connection with one line (e.g. `421 too busy`) and hangs up, or with
    `line=None` says nothing at all until stopped (a server that does not answer)."""

    def __init__(self, line: str | None):
        stopped = self.stopped = threading.Event()

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                if line is None:
                    stopped.wait(WAIT)
                else:
                    self.request.sendall(line.encode() + b"\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp_factory():
    """Start local SMTP servers: `start(**controller options)` → (mailbox, port); all stopped at the end."""
    started: list = []

    def start(**options):
        mailbox = Mailbox()
        controller = LocalController(mailbox, **options)
        controller.start()
        started.append((mailbox, controller))
        return mailbox, controller.port

    yield start
    for mailbox, controller in started:
        mailbox.release.set()
        controller.stop()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the servers themselves behave as the tests assume ------------------------------------------------------

def test_mailbox_records_and_refuses_as_told(smtp_factory):
    mailbox, port = smtp_factory()
    mailbox.always["nobody@example.org"] = "550 5.1.1 Mailbox unavailable"
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        refused = client.sendmail("a@example.org", ["b@example.org", "nobody@example.org"], b"Subject: x\r\n\r\nhi")
    assert refused == {"nobody@example.org": (550, b"5.1.1 Mailbox unavailable")}
    assert [m["to"] for m in mailbox.messages] == [["b@example.org"]]


def test_tls_server_needs_its_certificate_trusted(smtp_factory):
    context, cert = self_signed()
    _, port = smtp_factory(ssl_context=context)
    with pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL("127.0.0.1", port, timeout=5, context=ssl.create_default_context())
    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=5, context=ssl.create_default_context(cadata=cert)) as client:
        assert client.noop()[0] == 250
