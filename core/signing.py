"""Signed tokens for public links (unsubscribe): HMAC-SHA256 over a small JSON payload, no login needed."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class BadSignature(ValueError):
    """A token that was altered, truncated or signed with another key."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks tokens with a key derived from the engine's secret key and a purpose."""

    def __init__(self, secret: str, purpose: str = "link"):
        self._key = hashlib.sha256(f"beffroi:{purpose}:".encode() + secret.encode()).digest()

    def sign(self, payload: dict[str, Any]) -> str:
        """A URL-safe token carrying the payload (readable, not secret; only its integrity is protected)."""
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{_b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())}"

    def verify(self, token: str) -> dict[str, Any]:
        """The payload of a valid token; BadSignature otherwise."""
        body, _, signature = token.partition(".")
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not signature or not hmac.compare_digest(signature, expected):
            raise BadSignature("this link is not valid (altered or incomplete)")
        try:
            return json.loads(_unb64(body))
        except ValueError:
            raise BadSignature("this link is not valid") from None


class LazySigner:
    """A Signer made on first use (its key file is only created when a link is actually signed)."""

    def __init__(self, factory):
        self._factory = factory

    def sign(self, payload: dict[str, Any]) -> str:
        """See Signer.sign."""
        return self._factory().sign(payload)

    def verify(self, token: str) -> dict[str, Any]:
        """See Signer.verify."""
        return self._factory().verify(token)
