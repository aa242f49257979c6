"""Bluesky sessions kept for the life of the process: one sign-in per connection, shared by every thread.

A PDS allows an account 30 `createSession` calls per 5 minutes (300 a day), so signing in for every post
would lock out a busy account. A session is kept per connection, keyed by its name and a hash of its
config (a changed app password or handle starts a new one), and renewed with its refresh token when the
access token expires. The first thread to need a session signs in while the others wait for it.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SESSIONS", "Session", "SessionCache", "fingerprint"]


@dataclass(frozen=True)
class Session:
    """One signed-in session: the two tokens, and the account they are for."""

    access: str
    refresh: str
    did: str
    handle: str


def fingerprint(*parts: str) -> str:
    """A hash of what a session depends on (service, handle, app password); the secret itself is not kept."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class _Slot:
    """The session of one connection, and the lock that lets one thread sign in or renew at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.session: Session | None = None


class SessionCache:
    """Sessions by connection name and config fingerprint; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, str], _Slot] = {}

    def _slot(self, name: str, key: str) -> _Slot:
        with self._lock:
            slot = self._slots.get((name, key))
            if slot is None:
                # A new config for this connection: the old session will never be used again.
                for old in [k for k in self._slots if k[0] == name]:
                    del self._slots[old]
                slot = self._slots[(name, key)] = _Slot()
            return slot

    def get(self, name: str, key: str, sign_in: Callable[[], Session]) -> Session:
        """The connection's session, signing in (once, whichever thread comes first) when there is none."""
        slot = self._slot(name, key)
        with slot.lock:
            if slot.session is None:
                slot.session = sign_in()
            return slot.session

    def renew(self, name: str, key: str, stale: Session, refresh: Callable[[Session], Session | None],
              sign_in: Callable[[], Session]) -> Session:
        """Replace an expired session: refresh it, or sign in when the refresh is refused.

        Threads that found the same session expired get the one the first of them made.
        """
        slot = self._slot(name, key)
        with slot.lock:
            if slot.session is not None and slot.session != stale:
                return slot.session
            slot.session = None  # if both fail, the next call signs in afresh
            slot.session = refresh(stale) or sign_in()
            return slot.session


# Per process on purpose: the PDS limits sign-ins per account, whichever engine or runner thread asks.
SESSIONS = SessionCache()
