"""Reaching a mail server: resolve its name once, vet every address with the network guard, connect to a vetted one.

The same rules as Beffroi's HTTP client (`beffroi.http`): public addresses only, unless the operator lists a
network in BEFFROI_ALLOWED_NETWORKS; TLS still checks the certificate against the server's name.
"""
from __future__ import annotations

import ipaddress
import smtplib
import socket

from beffroi import ActionError
from beffroi import check_address as check_ip


def resolve(host: str, port: int, allowed) -> list[str]:
    """The addresses of host, every one vetted by the network guard; ActionError when any is refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ActionError(f"cannot find the mail server {host!r} ({getattr(exc, 'strerror', None) or exc})") from None
    addresses = list(dict.fromkeys(str(i[4][0]) for i in infos if i[0] in (socket.AF_INET, socket.AF_INET6)))
    for address in addresses:  # all or nothing: a mix of public and internal answers is a rebinding trick
        refusal = check_ip(address, allowed)
        if refusal:
            network = ipaddress.ip_network(refusal.address)
            raise ActionError(f"mail server {host!r} is at {address} ({refusal.reason}); to allow it add {network} "
                              "(or its network) to BEFFROI_ALLOWED_NETWORKS", retryable=False)
    if not addresses:
        raise ActionError(f"cannot find the mail server {host!r}")
    return addresses


def _connect(addresses: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    """A TCP connection to the first vetted address that answers."""
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    assert error is not None
    raise error


class GuardedSMTP(smtplib.SMTP):
    """smtplib.SMTP connecting to vetted addresses only (`addresses`, set before connect)."""

    addresses: tuple[str, ...] = ()
    _host: str  # smtplib's own (the name TLS checks the certificate for); its stubs leave it out

    def _get_socket(self, host, port, timeout):
        return _connect(self.addresses, port, timeout)


class GuardedSMTPS(smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL connecting to vetted addresses only; the certificate is checked for the host name."""

    addresses: tuple[str, ...] = ()
    _host: str  # smtplib's own (the name TLS checks the certificate for); its stubs leave it out

    def _get_socket(self, host, port, timeout):
        return self.context.wrap_socket(_connect(self.addresses, port, timeout), server_hostname=self._host)


def loopback(address: str) -> bool:
    """True for an address of this machine (where a password may travel unencrypted)."""
    return address.startswith("127.") or address == "::1"
