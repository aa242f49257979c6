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


MIN_PASSPHRASE = 32  # characters: scrypt makes each guess costly, a long passphrase makes guesses many

# scrypt's cost: about 32 MiB and a tenth of a second, paid once per process (the box is kept)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


def _raw_key(text: str) -> bytes | None:
    """The 32 bytes of a base64 key, or None for any other text."""
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


def derived_keys(text: str, salt: bytes | None) -> list[bytes]:
    """The 32-byte keys a configured key text stands for, the one that seals first.

    A base64 key is used as is. A passphrase is stretched with scrypt and the installation's salt; its plain
    SHA-256 (how installs before scrypt derived it) follows, so what they encrypted still opens until
    `beffroi secrets rotate` moves it.
    """
    raw = _raw_key(text)
    if raw is not None:
        return [raw]
    if salt is None:
        raise ValueError("a passphrase key needs the installation's salt")
    stretched = hashlib.scrypt(text.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                               maxmem=4 * 128 * SCRYPT_N * SCRYPT_R * SCRYPT_P, dklen=32)
    return [stretched, hashlib.sha256(text.encode()).digest()]


def is_passphrase(text: str) -> bool:
    """True when a key text is a passphrase (stretched with scrypt), not 32 base64 bytes."""
    return _raw_key(text) is None


def key_problem(text: str, variable: str) -> str | None:
    """Why a configured key is too weak to protect secrets, or None (the message never shows the key)."""
    if _raw_key(text) is not None or len(text.strip()) >= MIN_PASSPHRASE:
        return None
    return (f"{variable} is too weak: give 32 random bytes in base64 (`beffroi secrets new-key` prints one) "
            f"or a passphrase of at least {MIN_PASSPHRASE} characters")


def new_key_text() -> str:
    """A fresh random key, as base64 text."""
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


KEY_FILE = "secret.key"
NEXT_KEY_FILE = "secret.key.next"  # exists only while a rotation is under way


def write_key_file(path: Path, text: str) -> None:
    """Create a key file readable by its owner only (fails if it exists)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def load_or_create_key(data_dir: Path, name: str = KEY_FILE) -> str:
    """An embedded-mode key file (created once, readable by its owner only), outside the database."""
    path = Path(data_dir) / name
    if not path.exists():
        # written aside then linked into place: atomic, and a concurrent first start keeps the winner's key
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        write_key_file(tmp, new_key_text())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def embedded_keys(data_dir: Path) -> list[str]:
    """The current key, then the next key when a rotation was interrupted."""
    keys = [load_or_create_key(data_dir)]
    pending = Path(data_dir) / NEXT_KEY_FILE
    if pending.exists():
        keys.append(pending.read_text().strip())
    return keys


def fingerprint(key: bytes) -> str:
    """A short public fingerprint of a key (stored beside each ciphertext to pick the key)."""
    return hashlib.sha256(key).hexdigest()[:12]


class SecretBox:
    """Encrypts a dict of secrets for one connection id; a ciphertext only opens for that id.

    The first key seals; every key opens (during a rotation both the old and the new key are loaded, and a
    passphrase's pre-scrypt derivation too). `salt` is the installation's (beffroi.installation), needed when a
    key is a passphrase.
    """

    def __init__(self, key_texts: str | list[str], salt: bytes | None = None):
        texts = [key_texts] if isinstance(key_texts, str) else list(key_texts)
        keys = [derived_keys(t, salt) for t in texts]
        self._keys = {fingerprint(k): AESGCM(k) for derived in keys for k in derived}
        self.key_id = fingerprint(keys[0][0])

    def seal(self, connection_id: str, secrets: dict[str, str]) -> bytes:
        """Encrypt secrets with a fresh nonce; the connection id is authenticated, not stored."""
        nonce = os.urandom(12)
        return nonce + self._keys[self.key_id].encrypt(nonce, json.dumps(secrets).encode(), connection_id.encode())

    def open(self, connection_id: str, blob: bytes, key: str | None = None) -> dict[str, str]:
        """Decrypt with the key of that id (or any); SecretsError on a wrong key or another connection's data."""
        candidates = [self._keys[key]] if key in self._keys else list(self._keys.values())
        for aead in candidates:
            try:
                return json.loads(aead.decrypt(blob[:12], blob[12:], connection_id.encode()))
            except (InvalidTag, ValueError):
                continue
        raise SecretsError("the connection's secrets cannot be decrypted with the configured key")
