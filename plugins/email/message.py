"""Addresses and messages: read what comms staff type, build the MIME message, describe it for previews and outbox."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import default as email_policy
from email.utils import format_datetime, formataddr, getaddresses, localtime
from typing import Any

from .attachments import listed

MAX_RECIPIENTS = 100  # email.send is for a few people; lists go through email.send_campaign
_SPACES = re.compile(r"\s+")
_BAD_IN_ADDRESS = re.compile(r"[\s<>()\[\]\\,;:\"\x00-\x1f\x7f]")
_DOMAIN = re.compile(r"^[^@\s.][^@\s]*$")
SHOWN_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
                 "List-Unsubscribe-Post")


def check_address(address: str) -> str:
    """The bare address `name@domain`, trimmed; ValueError saying why it is not one."""
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{address!r} is not an email address (it needs one @)")
    if _BAD_IN_ADDRESS.search(local.replace('"', "")) or not _DOMAIN.match(domain) or "@" in local:
        raise ValueError(f"{address!r} is not an email address")
    return text


def parse_addresses(value: Any) -> list[str]:
    """Addresses from a list or one string (`a@x.be, "Dupont, Jean" <j@y.be>`), each kept with its display name."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    found: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{item!r} is not an email address")
        text = item if '"' in item else item.replace(";", ",")  # Outlook habit: a; b
        if not text.strip():
            continue
        for name, address in getaddresses([text]):
            if not address:
                raise ValueError(f"{item.strip()!r} is not a list of email addresses")
            found.append(formataddr((one_line(name), check_address(address))) if name else check_address(address))
    return found


def bare(address: str) -> str:
    """The `name@domain` part of `Name <name@domain>` (the SMTP envelope wants only this)."""
    return getaddresses([address])[0][1] or address


def one_line(text: str) -> str:
    """Text with line breaks and runs of spaces collapsed (a header cannot hold a line break)."""
    return _SPACES.sub(" ", text).strip()


def domain_of(address: str) -> str:
    """The domain of an address, for Message-IDs and List-Id."""
    domain = bare(address).rpartition("@")[2].strip().lower()
    return re.sub(r"[^a-z0-9.-]", "", domain) or "beffroi.invalid"


def message_id(seed: str, from_address: str) -> str:
    """A Message-ID that is the same for every attempt of one delivery, so receivers can drop a repeat."""
    return f"<{hashlib.sha256(seed.encode()).hexdigest()[:40]}@{domain_of(from_address)}>"


def build(*, sender: str, to: list[str], cc: Sequence[str] = (), subject: str, text: str | None, html: str | None,
          msg_id: str, reply_to: str | None = None, headers: dict[str, str] | None = None) -> EmailMessage:
    """A ready-to-send message: plain text, HTML, or both as multipart/alternative. Bcc never appears in it."""
    message = EmailMessage(policy=email_policy)  # smtplib writes CRLF line ends when it sends
    message["From"] = sender
    if to:
        message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(localtime())
    message["Message-ID"] = msg_id
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    else:
        message.set_content(html or "", subtype="html")
    return message


def describe(message: EmailMessage, envelope: list[str]) -> dict[str, Any]:
    """What a message looks like to a person: its main headers, text and HTML, attachments (name, size), and who
    it goes to."""
    body_text = message.get_body(("plain",))
    body_html = message.get_body(("html",))
    attached = listed(message)
    return {**({"attachments": attached} if attached else {}),
        "headers": {name: str(message[name]) for name in SHOWN_HEADERS if message[name] is not None},
        "envelope_to": envelope,
        "text": body_text.get_content() if body_text is not None else None,
        "html": body_html.get_content() if body_html is not None else None,
    }
