"""Outbound address policy: which IP addresses Beffroi may connect to (the SSRF guard's rules).

Pure functions, no I/O. `beffroi.http` resolves host names and asks `blocked_reason` about
every resolved address right before it connects, so the policy lives here and the
enforcement lives at the socket level there.

Anything that is not ordinary public unicast is refused: loopback, private, link-local
(including cloud metadata at 169.254.169.254), unspecified, multicast, reserved,
shared/CGNAT space, documentation ranges, and IPv6 addresses that embed one of those
IPv4 addresses (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64). Operators can open
specific networks with `allowed_networks` (BEFFROI_ALLOWED_NETWORKS).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import NamedTuple

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Spelled out (rather than relying on `is_global` alone) so the policy is readable and does
# not shift with stdlib patch releases; `is_global` is still applied as a catch-all.
_FORBIDDEN: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), label)
    for cidr, label in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata)"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved (IETF)"),
        ("192.0.2.0/24", "documentation"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved (benchmarking)"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("100::/64", "reserved (discard)"),
        ("2001:db8::/32", "documentation"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
_IPV4_COMPAT = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse CIDR strings (a bare IP means a single host); raise ValueError on anything invalid."""
    if isinstance(cidrs, str):  # a lone string would otherwise be split into characters
        cidrs = [cidrs]
    networks = []
    for cidr in cidrs:
        try:
            # strict: "10.0.0.5/8" is almost certainly a typo, so do not silently widen it
            networks.append(ipaddress.ip_network(str(cidr).strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"invalid network in allowed_networks: {cidr!r} ({exc})") from None
    return tuple(networks)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address tunnels or translates to (each could reach an internal host)."""
    found = []
    if ip in _IPV4_COMPAT and int(ip) > 1:  # deprecated ::a.b.c.d; skip :: and ::1
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def _forbidden_label(ip: IPAddress) -> str | None:
    for network, label in _FORBIDDEN:
        if ip.version == network.version and ip in network:
            return label
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback:
        return "reserved"
    if ip.is_private or ip.is_link_local or not ip.is_global:
        return "non-public"
    return None


class Refusal(NamedTuple):
    """Why an address is refused, and the address an operator would have to allow."""

    reason: str  # e.g. "loopback", "private", "link-local (cloud metadata)"
    address: IPAddress  # for ::ffff:a.b.c.d or 6to4/NAT64 this is the embedded IPv4 address


def check_address(address: str | IPAddress, allowed: Sequence[IPNetwork] = ()) -> Refusal | None:
    """Return a Refusal if `address` may not be contacted, or None if it is permitted."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ip.ipv4_mapped or ip.__class__(int(ip))  # ::ffff:a.b.c.d *is* a.b.c.d; drop %scope
    candidates = [ip, *(_embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else [])]
    for candidate in candidates:
        label = _forbidden_label(candidate)
        if label and not any(candidate.version == n.version and candidate in n for n in allowed):
            return Refusal(label if candidate is ip else f"{label} (embedded {candidate})", candidate)
    return None


def blocked_reason(address: str | IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why `address` may not be contacted (e.g. "loopback"), or None if it is permitted."""
    refusal = check_address(address, allowed)
    return refusal.reason if refusal else None
