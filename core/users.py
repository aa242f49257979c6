"""People who sign in to the web UI: accounts with a role, argon2 password hashes, sessions, sign-in throttling.

API tokens (tokens.py) stay for machines. A session is a random id kept by the browser in a cookie; the database
holds only its SHA-256, with the session's CSRF token and its expiry.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, delete, func, select, update

from .store import Database
from .store.models import InstallationRow, PasswordLinkRow, SignInFailureRow, UserRow, UserSessionRow, utcnow

USER_ROLES = ("viewer", "editor", "approver", "admin")
MIN_PASSWORD = 12
SESSION_LIFETIME = timedelta(hours=12)
SETUP_LINK = "users.setup_link"  # the installation value holding the first-account link: "<sha256> <expiry>"
SETUP_LIFETIME = timedelta(hours=1)
PASSWORD_LINK_LIFETIME = timedelta(days=7)
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("an account that does not exist")  # unknown accounts cost the same time to check


class PasswordTooShort(ValueError):
    """A new password shorter than `PasswordTooShort.minimum` characters (12)."""

    minimum = MIN_PASSWORD

    def __init__(self) -> None:
        super().__init__(f"the password must have at least {MIN_PASSWORD} characters")


class LastAdmin(ValueError):
    """Refused: deleting or demoting this account would leave no admin to manage the others."""

    def __init__(self, email: str):
        super().__init__(f"{email} is the last admin; make another account admin first")


@dataclass(frozen=True)
class UserInfo:
    """A signed-in person: id, e-mail address, display name and role (viewer ⊂ editor ⊂ approver ⊂ admin)."""

    id: str
    email: str
    name: str
    role: str

    def can(self, role: str) -> bool:
        """True when this person's role includes `role`."""
        return USER_ROLES.index(self.role) >= USER_ROLES.index(role)


@dataclass(frozen=True)
class SignedIn:
    """A live session: who it belongs to, its CSRF token and when it expires."""

    user: UserInfo
    csrf: str
    expires_at: Any


def _digest(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()


def _info(row: UserRow) -> UserInfo:
    return UserInfo(row.id, row.email, row.name, row.role)


def _public(row: UserRow) -> dict[str, Any]:
    return {"id": row.id, "email": row.email, "name": row.name, "role": row.role,
            "created_at": row.created_at.isoformat(),
            "last_login_at": row.last_login_at.isoformat() if row.last_login_at else None}


def _keep_an_admin(session: Any, row: UserRow) -> None:
    """LastAdmin when `row` is the only admin (the other admins' rows are locked while the change is made)."""
    if row.role != "admin":
        return
    others = session.scalars(select(UserRow.id).where(UserRow.role == "admin", UserRow.id != row.id)
                             .with_for_update()).all()
    if not others:
        raise LastAdmin(row.email)


def normal_email(email: str) -> str:
    """An address as stored and looked up: trimmed, lower case."""
    return email.strip().lower()


class UserStore:
    """Creates, checks, lists and deletes accounts; starts, reads and ends their sessions."""

    def __init__(self, db: Database):
        self.db = db

    def create(self, email: str, password: str | None, *, role: str = "editor", name: str | None = None) -> UserInfo:
        """A new account (ValueError: unknown role, address taken or not an address, PasswordTooShort).

        Without a password, no one can sign in to it until its person chooses one with a `password_link`.
        """
        with self.db.session() as session:
            return self._add(session, email, secrets.token_urlsafe(32) if password is None else password, role, name)

    @staticmethod
    def _add(session: Any, email: str, password: str, role: str, name: str | None) -> UserInfo:
        email = normal_email(email)
        if role not in USER_ROLES:
            raise ValueError(f"the role must be one of {', '.join(USER_ROLES)}")
        if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
            raise ValueError(f"{email!r} is not an e-mail address")
        if len(password) < MIN_PASSWORD:
            raise PasswordTooShort()
        if session.scalar(select(UserRow.id).where(UserRow.email == email)) is not None:
            raise ValueError(f"there is already an account for {email}")
        row = UserRow(id=uuid.uuid4().hex, email=email, name=(name or email.split("@")[0]).strip()[:200],
                      role=role, password_hash=_hasher.hash(password))
        session.add(row)
        return _info(row)

    def get(self, email: str) -> UserInfo | None:
        """The account of an address, or None."""
        with self.db.session() as session:
            row = session.scalar(select(UserRow).where(UserRow.email == normal_email(email)))
            return _info(row) if row else None

    def count(self) -> int:
        """How many accounts exist."""
        with self.db.session() as session:
            return session.execute(select(func.count()).select_from(UserRow)).scalar_one()

    def list(self) -> list[dict[str, Any]]:
        """Every account, by address, without its hash."""
        with self.db.session() as session:
            return [_public(r) for r in session.scalars(select(UserRow).order_by(UserRow.email))]

    def find(self, user_id: str) -> dict[str, Any] | None:
        """One account by id, as in `list()`, or None."""
        with self.db.session() as session:
            row = session.get(UserRow, user_id)
            return _public(row) if row is not None else None

    def delete(self, email: str) -> bool:
        """Delete an account and its sessions; False when there is none (LastAdmin: the last admin stays)."""
        with self.db.session() as session:
            row = session.scalar(select(UserRow).where(UserRow.email == normal_email(email)))
            if row is None:
                return False
            _keep_an_admin(session, row)
            session.execute(delete(UserSessionRow).where(UserSessionRow.user_id == row.id))
            session.delete(row)
            return True

    def set_language(self, email: str, language: str) -> bool:
        """The language of the e-mails this person gets (the UI's they chose); False when there is no such account."""
        with self.db.session() as session:
            row = session.scalar(select(UserRow).where(UserRow.email == normal_email(email)))
            if row is None:
                return False
            row.language = language
            return True

    def languages(self) -> dict[str, str]:
        """The language each account chose, by address (accounts that chose none are left out)."""
        with self.db.session() as session:
            rows = session.execute(select(UserRow.email, UserRow.language).where(UserRow.language.is_not(None)))
            return {email: language for email, language in rows if language}

    def set_role(self, email: str, role: str) -> bool:
        """Give an account another role and end its sessions; False when there is none (ValueError: unknown role,
        LastAdmin: the last admin would be demoted)."""
        if role not in USER_ROLES:
            raise ValueError(f"the role must be one of {', '.join(USER_ROLES)}")
        with self.db.session() as session:
            row = session.scalar(select(UserRow).where(UserRow.email == normal_email(email)))
            if row is None:
                return False
            if row.role != role:
                if role != "admin":
                    _keep_an_admin(session, row)
                row.role = role
                session.execute(delete(UserSessionRow).where(UserSessionRow.user_id == row.id))
            return True

    def password_link(self, email: str, lifetime: timedelta = PASSWORD_LINK_LIFETIME) -> str | None:
        """A one-time secret for a person to choose their password (stored hashed; their former links stop working);
        None when there is no such account."""
        clear = secrets.token_urlsafe(32)
        with self.db.session() as session:
            user_id = session.scalar(select(UserRow.id).where(UserRow.email == normal_email(email)))
            if user_id is None:
                return None
            session.execute(delete(PasswordLinkRow).where((PasswordLinkRow.user_id == user_id)
                                                          | (PasswordLinkRow.expires_at <= utcnow())))
            session.add(PasswordLinkRow(id_hash=_digest(clear), user_id=user_id, expires_at=utcnow() + lifetime))
        return clear

    def password_link_owner(self, clear: str) -> UserInfo | None:
        """The account a password link is for while it is unused and unexpired, else None."""
        with self.db.session() as session:
            found = self._link(session, clear)
            return _info(found[1]) if found else None

    def use_password_link(self, clear: str, password: str) -> UserInfo:
        """Set the password of a link's account and use the link up; the account's sessions end.

        LookupError: the link is unknown, used or expired; PasswordTooShort (the link still works then).
        """
        if len(password) < MIN_PASSWORD:
            raise PasswordTooShort()
        with self.db.session() as session:
            found = self._link(session, clear)
            if found is None:
                raise LookupError("this link is not valid")
            used = session.execute(delete(PasswordLinkRow).where(PasswordLinkRow.user_id == found[1].id))
            if not cast("CursorResult[Any]", used).rowcount:  # used by another request just now
                raise LookupError("this link is not valid")
            found[1].password_hash = _hasher.hash(password)
            session.execute(delete(UserSessionRow).where(UserSessionRow.user_id == found[1].id))
            return _info(found[1])

    @staticmethod
    def _link(session: Any, clear: str) -> Any:
        return session.execute(select(PasswordLinkRow, UserRow).join(UserRow, UserRow.id == PasswordLinkRow.user_id)
                               .where(PasswordLinkRow.id_hash == _digest(clear),
                                      PasswordLinkRow.expires_at > utcnow())).first()

    def setup_link(self, lifetime: timedelta = SETUP_LIFETIME) -> str:
        """A new one-time secret to create the first admin account (a former one stops working); stored hashed."""
        clear = secrets.token_urlsafe(32)
        value = f"{_digest(clear)} {(utcnow() + lifetime).isoformat()}"
        with self.db.session() as session:
            row = session.get(InstallationRow, SETUP_LINK)
            if row is None:
                session.add(InstallationRow(name=SETUP_LINK, value=value))
            else:
                row.value = value
        return clear

    def setup_link_valid(self, clear: str) -> bool:
        """True while a setup link's secret may still create the first account (unused, unexpired, no account)."""
        with self.db.session() as session:
            return self._setup_row(session, clear) is not None

    def first_admin(self, clear: str, email: str, password: str, *, name: str | None = None) -> UserInfo:
        """Create the first account, an admin, with a setup link's secret, which is then used up.

        LookupError: the link is unknown, used, expired, or an account exists; ValueError, PasswordTooShort: as
        `create` (the link still works then).
        """
        with self.db.session() as session:
            row = self._setup_row(session, clear)
            if row is None:
                raise LookupError("this setup link is not valid")
            user = self._add(session, email, password, "admin", name)
            session.execute(update(UserRow).where(UserRow.id == user.id).values(last_login_at=utcnow()))  # signed in
            used = session.execute(delete(InstallationRow).where(InstallationRow.name == SETUP_LINK,
                                                                 InstallationRow.value == row.value))
            if cast("CursorResult[Any]", used).rowcount != 1:  # another request used it just now: undo
                raise LookupError("this setup link is not valid")
            return user

    @staticmethod
    def _setup_row(session: Any, clear: str) -> InstallationRow | None:
        row = session.get(InstallationRow, SETUP_LINK)
        if row is None or not clear:
            return None
        digest, _, expiry = row.value.partition(" ")
        if not same(digest, _digest(clear)) or datetime.fromisoformat(expiry) <= utcnow():
            return None
        if session.execute(select(func.count()).select_from(UserRow)).scalar_one():
            return None  # someone made an account another way: the link has no use left
        return row

    def verify(self, email: str, password: str) -> UserInfo | None:
        """The account when the password is right, else None (the same time whether or not the account exists)."""
        with self.db.session() as session:
            row = session.scalar(select(UserRow).where(UserRow.email == normal_email(email)))
            try:
                _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                return None
            if row is None:
                return None
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = _hasher.hash(password)
            row.last_login_at = utcnow()
            return _info(row)

    def set_password(self, email: str, password: str, *, keep_session: str | None = None) -> bool:
        """Replace a password and end the account's sessions (but `keep_session`); False when there is no account."""
        if len(password) < MIN_PASSWORD:
            raise PasswordTooShort()
        with self.db.session() as session:
            row = session.scalar(select(UserRow).where(UserRow.email == normal_email(email)))
            if row is None:
                return False
            row.password_hash = _hasher.hash(password)
            session.execute(delete(PasswordLinkRow).where(PasswordLinkRow.user_id == row.id))
            ending = delete(UserSessionRow).where(UserSessionRow.user_id == row.id)
            if keep_session:
                ending = ending.where(UserSessionRow.id_hash != _digest(keep_session))
            session.execute(ending)
            return True

    def start_session(self, user: UserInfo, lifetime: timedelta = SESSION_LIFETIME) -> str:
        """A new session for a signed-in person; returns the random id for the cookie (stored only as a hash)."""
        clear = secrets.token_urlsafe(32)
        with self.db.session() as session:
            session.execute(delete(UserSessionRow).where(UserSessionRow.expires_at < utcnow()))  # tidy up
            session.add(UserSessionRow(id_hash=_digest(clear), user_id=user.id, csrf=secrets.token_urlsafe(32),
                                       expires_at=utcnow() + lifetime))
        return clear

    def session(self, clear: str) -> SignedIn | None:
        """The live session of a cookie's id, or None (unknown, ended or expired)."""
        with self.db.session() as session:
            found = session.execute(select(UserSessionRow, UserRow).join(UserRow, UserRow.id == UserSessionRow.user_id)
                                    .where(UserSessionRow.id_hash == _digest(clear))).first()
            if found is None or found[0].expires_at <= utcnow():
                return None
            return SignedIn(_info(found[1]), found[0].csrf, found[0].expires_at)

    def end_session(self, clear: str) -> bool:
        """Sign out: the session is deleted; False when there was none."""
        with self.db.session() as session:
            result = session.execute(delete(UserSessionRow).where(UserSessionRow.id_hash == _digest(clear)))
            return cast("CursorResult[Any]", result).rowcount == 1

    def expire_sessions(self, email: str) -> None:
        """End every session of an account now (tests, and an admin removing access)."""
        with self.db.session() as session:
            user_id = select(UserRow.id).where(UserRow.email == normal_email(email)).scalar_subquery()
            session.execute(update(UserSessionRow).where(UserSessionRow.user_id == user_id)
                            .values(expires_at=utcnow() - timedelta(seconds=1)))


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(a.encode(), b.encode())


class SignInThrottle:
    """At most `limit` failed sign-ins per key (an account, a client address) in `window` seconds.

    The failures are rows of the database (the key's SHA-256 and the time), so every process and machine serving
    the UI counts the same ones; rows older than the window are pruned as new failures come in. `clock` gives
    seconds since the epoch (a wall clock: the processes must agree on it).
    """

    def __init__(self, db: Database, limit: int = 5, window: float = 15 * 60, clock=time.time):
        self.db, self.limit, self.window, self.clock = db, limit, window, clock

    def wait(self, *keys: str) -> float:
        """Seconds before another attempt is allowed for these keys (0: now)."""
        now = self.clock()
        longest = 0.0
        with self.db.session() as session:
            for key in keys:
                # the limit-th most recent failure in the window: the attempt waits until it leaves the window
                oldest = session.scalar(select(SignInFailureRow.at)
                                        .where(SignInFailureRow.key_hash == _digest(key),
                                               SignInFailureRow.at > now - self.window)
                                        .order_by(SignInFailureRow.at.desc()).offset(self.limit - 1).limit(1))
                if oldest is not None:
                    longest = max(longest, oldest + self.window - now)
        return longest

    def failed(self, *keys: str) -> None:
        """Count a failed attempt against each key (and forget the failures older than the window)."""
        now = self.clock()
        with self.db.session() as session:
            session.execute(delete(SignInFailureRow).where(SignInFailureRow.at <= now - self.window))
            session.add_all([SignInFailureRow(key_hash=_digest(key), at=now) for key in keys])

    def succeeded(self, key: str) -> None:
        """Forget the failures of a key (the account, after a successful sign-in)."""
        with self.db.session() as session:
            session.execute(delete(SignInFailureRow).where(SignInFailureRow.key_hash == _digest(key)))
