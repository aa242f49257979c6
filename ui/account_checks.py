"""The words of a refused new account or password, shared by the admin's form and the first account's form."""
from __future__ import annotations

from beffroi import PasswordTooShort

from .routes import FieldProblem
from .web import Visitor


def password_problems(seen: Visitor, password: str, again: str) -> list[FieldProblem]:
    """The problems of a new password typed twice in the fields `password` and `password-again`."""
    if len(password) < PasswordTooShort.minimum:
        return [_too_short(seen)]
    if password != again:
        return [FieldProblem("password-again", seen.gettext("The two passwords are not the same."))]
    return []


def account_problem(seen: Visitor, exc: ValueError, email: str) -> FieldProblem:
    """The field and words of core's refusal of a new account (core says it in English, for the CLI)."""
    if isinstance(exc, PasswordTooShort):
        return _too_short(seen)
    if seen.engine.users.get(email) is not None:
        return FieldProblem("email", seen.gettext("There is already an account with this e-mail address."))
    return FieldProblem("email", seen.gettext("Enter an e-mail address like name@example.org."))


def _too_short(seen: Visitor) -> FieldProblem:
    return FieldProblem("password", seen.gettext("The password must have at least %(minimum)d characters.",
                                                 minimum=PasswordTooShort.minimum))
