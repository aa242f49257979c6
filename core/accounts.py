"""Changes to people and API tokens, each with its audit entry: the web UI, the API and the command line call these.

`actor` is who asks: a person's e-mail, `token:<name>` for the API, `cli` for the command line. The audit entry
holds the target (an account's address, a token's name) and facts (a role), never a password, a link or a token.
"""
from __future__ import annotations

from .audit import AuditLog
from .tokens import TokenInfo, TokenStore
from .users import UserInfo, UserStore, normal_email


class Accounts:
    """Create, change and delete accounts and tokens through their stores, and record each change."""

    def __init__(self, users: UserStore, tokens: TokenStore, audit: AuditLog):
        self.users, self.tokens, self.audit = users, tokens, audit

    def create_user(self, email: str, password: str | None, *, role: str = "editor", name: str | None = None,
                    actor: str | None = None) -> UserInfo:
        """`UserStore.create`, recorded as `user.created` with the role."""
        user = self.users.create(email, password, role=role, name=name)
        self.audit.record(actor, "user.created", "user", user.email, {"role": user.role})
        return user

    def set_role(self, email: str, role: str, *, actor: str | None = None) -> bool:
        """`UserStore.set_role`, recorded as `user.role_changed` (from, to) when the role did change."""
        before = self.users.get(email)
        changed = self.users.set_role(email, role)
        if changed and before is not None and before.role != role:
            self.audit.record(actor, "user.role_changed", "user", before.email, {"from": before.role, "role": role})
        return changed

    def delete_user(self, email: str, *, actor: str | None = None) -> bool:
        """`UserStore.delete`, recorded as `user.deleted`."""
        deleted = self.users.delete(email)
        if deleted:
            self.audit.record(actor, "user.deleted", "user", normal_email(email))
        return deleted

    def set_password(self, email: str, password: str, *, actor: str | None = None) -> bool:
        """Someone else's password replaced (`UserStore.set_password`), recorded as `user.password_reset`."""
        done = self.users.set_password(email, password)
        if done:
            self.audit.record(actor, "user.password_reset", "user", normal_email(email), {"by": "password"})
        return done

    def password_link(self, email: str, *, actor: str | None = None) -> str | None:
        """A one-time password link (`UserStore.password_link`), recorded as `user.password_link` (not the link)."""
        secret = self.users.password_link(email)
        if secret is not None:
            self.audit.record(actor, "user.password_link", "user", normal_email(email), {"by": "link"})
        return secret

    def create_token(self, name: str, role: str = "editor", *, actor: str | None = None) -> tuple[TokenInfo, str]:
        """`TokenStore.create`, recorded as `token.created` with its role and id (never its secret)."""
        info, clear = self.tokens.create(name, role)
        self.audit.record(actor, "token.created", "token", info.name, {"role": info.role, "id": info.id})
        return info, clear

    def revoke_token(self, token_id: str, *, actor: str | None = None) -> bool:
        """`TokenStore.revoke`, recorded as `token.revoked` under the token's name."""
        names = {token["id"]: token["name"] for token in self.tokens.list()}
        revoked = self.tokens.revoke(token_id)
        if revoked:
            self.audit.record(actor, "token.revoked", "token", names.get(token_id, token_id), {"id": token_id})
        return revoked
