"""Encryption of connection secrets at rest: AES-GCM, bound to the connection id."""
from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class SecretsError(Exception):
    """A secret could not be decrypted (wrong key, or a ciphertext that belongs to another connection)."""


def _decode_key(text: str) -> bytes:
    """A 32-byte key from base64 text; any other text is stretched with SHA-256 (kept for passphrases)."""
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
        if len(raw) == 32:
            return raw
    except ValueError:
        pass
    return hashlib.sha256(text.encode()).digest()


def new_key_text() -> str:
    """A fresh random key, as base64 text."""
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


def load_or_create_key(data_dir: Path) -> str:
    """The embedded-mode key file (created once, readable by its owner only), outside the database."""
    path = Path(data_dir) / "secret.key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = new_key_text()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    return text


class SecretBox:
    """Encrypts a dict of secrets for one connection id; a ciphertext only opens for that id."""

    def __init__(self, key_text: str):
        self.key = _decode_key(key_text)
        self.key_id = hashlib.sha256(self.key).hexdigest()[:12]
        self._aead = AESGCM(self.key)

    def seal(self, connection_id: str, secrets: dict[str, str]) -> bytes:
        """Encrypt secrets with a fresh nonce; the connection id is authenticated, not stored."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, json.dumps(secrets).encode(), connection_id.encode())

    def open(self, connection_id: str, blob: bytes) -> dict[str, str]:
        """Decrypt; raises SecretsError on a wrong key or a ciphertext of another connection."""
        try:
            plain = self._aead.decrypt(blob[:12], blob[12:], connection_id.encode())
        except (InvalidTag, ValueError):
            raise SecretsError("the connection's secrets cannot be decrypted with this key") from None
        return json.loads(plain)
