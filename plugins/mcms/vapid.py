"""The installation's VAPID key pair (RFC 8292): made on first use, its private key sealed in the database.

The private key is sealed with AES-GCM under a key derived from the engine's link signer (BEFFROI_LINK_SECRET
or its key file), so a copy of the database alone does not let anyone push to the city's subscribers.
Signed `Authorization` headers are kept per push service for a while: signing one per message would cost
more than the encryption itself.
"""
from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from py_vapid import Vapid02
from sqlalchemy.exc import IntegrityError

from beffroi import ActionError

from .tables import KeyRow

NAME = "vapid"
HEADER_LIFETIME = 12 * 3600  # a push service accepts a JWT valid for 24 hours at most
_RENEW_BEFORE = 3600


def b64url(data: bytes) -> str:
    """Base64url without padding, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sealing_key(signer: Any) -> bytes:
    return hashlib.sha256(signer.sign({"purpose": "mcms.vapid"}).encode()).digest()


def _seal(signer: Any, pem: bytes) -> str:
    nonce = os.urandom(12)
    return b64url(nonce + AESGCM(_sealing_key(signer)).encrypt(nonce, pem, b"mcms.vapid"))


def _open(signer: Any, sealed: str) -> bytes:
    blob = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    return AESGCM(_sealing_key(signer)).decrypt(blob[:12], blob[12:], b"mcms.vapid")


def public_key_of(vapid: Vapid02) -> str:
    """The public key as a browser's `applicationServerKey` (uncompressed point, base64url)."""
    return b64url(vapid.public_key.public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint))


def load(db: Any, signer: Any) -> tuple[Vapid02, str]:
    """(the key pair, its public key), made and stored on first use (one pair per installation)."""
    with db.sessions() as session:
        row = session.get(KeyRow, NAME)
        stored = (row.public_key, row.private_sealed) if row is not None else None
    if stored is None:
        vapid = Vapid02()
        vapid.generate_keys()
        pem = vapid.private_pem()
        try:
            with db.write_lock, db.session() as session:
                session.add(KeyRow(name=NAME, public_key=public_key_of(vapid), private_sealed=_seal(signer, pem)))
        except IntegrityError:  # another process made the pair at the same moment: use theirs
            return load(db, signer)
        return vapid, public_key_of(vapid)
    try:
        pem = _open(signer, stored[1])
    except InvalidTag:
        raise ActionError("the Web Push key cannot be opened: the link secret (BEFFROI_LINK_SECRET or its key file) "
                          "changed since the key was made; restore it (browsers subscribed with that key)",
                          retryable=False) from None
    return Vapid02.from_pem(pem), stored[0]


class HeaderSigner:
    """Signed `Authorization: vapid t=…, k=…` headers, one per push service origin, renewed before they expire."""

    def __init__(self, vapid: Vapid02, subject: str) -> None:
        self.vapid, self.subject = vapid, subject
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def header(self, endpoint: str) -> str:
        """The Authorization header for a subscription's endpoint."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        with self._lock:
            cached = self._cache.get(audience)
            if cached is not None and cached[0] - _RENEW_BEFORE > now:
                return cached[1]
            expires = int(now) + HEADER_LIFETIME
            signed = self.vapid.sign({"aud": audience, "exp": expires, "sub": self.subject})
            self._cache[audience] = (expires, signed["Authorization"])
            return signed["Authorization"]
