"""What every page shares: templates per language, the visitor (session, CSRF token, language), refusals as pages,
and the security headers of HTML answers."""
from __future__ import annotations

import functools
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from beffroi import Engine, UserInfo

from . import i18n

SESSION_COOKIE = "beffroi_session"
CSRF_COOKIE = "beffroi_csrf"  # the CSRF token of a visitor not signed in (double-submit: cookie and form field)
LANGUAGE_COOKIE = "beffroi_lang"
FLASH_COOKIE = "beffroi_flash"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
       "form-action 'self'; base-uri 'none'")
TEMPLATES = Path(__file__).parent / "templates"


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


ROLE_NAMES = (N_("viewer"), N_("editor"), N_("approver"), N_("admin"))  # in the catalogs: shown translated

# the one-line messages shown after a redirect, by key (a cookie carries the key, never text)
FLASHES = {
    "signed-out": N_("You are signed out."),
    "password-changed": N_("Your password was changed. Your other sessions were ended."),
    "enabled": N_("The recipe is enabled."),
    "disabled": N_("The recipe is disabled."),
}


@functools.cache
def environment(language: str) -> Environment:
    """The templates in one language (autoescaped; an undefined name is an error, not an empty string)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


@dataclass
class Visitor:
    """Who asks for a page: the engine, the person signed in (if any), the form token and the language."""

    request: Request
    engine: Engine
    user: UserInfo | None
    session_id: str | None
    csrf: str
    language: str
    new_csrf_cookie: bool = False
    cookies_to_drop: list[str] = field(default_factory=list)

    def gettext(self, message: str, **values: Any) -> str:
        """A message of the catalog in the visitor's language, with %(name)s values filled in."""
        text = i18n.translations(self.language).gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        """The singular or plural form of a message in the visitor's language (`num` is n)."""
        return i18n.translations(self.language).ngettext(singular, plural, n) % {"num": n, **values}


class SignInRequired(Exception):
    """The page needs a signed-in person: they are sent to the sign-in page, then back."""


class Refused(Exception):
    """A request refused with a page that says why (403 for a role or a form token, 404 for nothing there)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def visitor(request: Request) -> Visitor:
    """The visitor of this request (a sync dependency: FastAPI runs it in its thread pool, the session is SQL)."""
    engine: Engine = request.app.state.engine
    language = i18n.choose(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))
    clear = request.cookies.get(SESSION_COOKIE)
    signed = engine.users.session(clear) if clear else None
    if signed is not None:
        return Visitor(request, engine, signed.user, clear, signed.csrf, language)
    anonymous = request.cookies.get(CSRF_COOKIE) or ""
    fresh = len(anonymous) < 32
    seen = Visitor(request, engine, None, None, secrets.token_urlsafe(32) if fresh else anonymous, language,
                   new_csrf_cookie=fresh)
    if clear:
        seen.cookies_to_drop.append(SESSION_COOKIE)  # an ended or expired session: forget its cookie
    return seen


def person(seen: Visitor = Depends(visitor)) -> Visitor:
    """A signed-in visitor, or a redirect to the sign-in page that comes back here."""
    if seen.user is None:
        raise SignInRequired()
    return seen


def role(needed: str):
    """A dependency that lets through people whose role includes `needed` (a 403 page for the others)."""

    def check(seen: Visitor = Depends(person)) -> Visitor:
        assert seen.user is not None
        if not seen.user.can(needed):
            raise Refused(403, seen.gettext("This needs the %(role)s role; your account has the %(yours)s role.",
                                            role=seen.gettext(needed), yours=seen.gettext(seen.user.role)))
        return seen

    return check


def check_form(seen: Visitor, form: Any) -> None:
    """Refuse a form whose CSRF token is not this visitor's (sent from another site, or from an old session)."""
    sent = form.get("csrf")
    if seen.new_csrf_cookie or not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), seen.csrf.encode()):
        raise Refused(403, seen.gettext("This form was refused: it was not sent from this page of Beffroi, or it has "
                                        "expired. Go back, reload the page and send it again."))


def local(target: str | None) -> str:
    """A redirection target limited to this site's own paths (`/x?y`); anything else is the home page."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 32 or c == "\\" for c in target):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def sign_in_address(request: Request) -> str:
    """/login with the current page as `next`."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login" if here == "/" else f"/login?next={quote(here, safe='')}"


def secure_headers(response: Response) -> Response:
    """The headers of every page: the content security policy, the referrer policy, no caching of private pages."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    """A cookie as the UI sets them: HttpOnly, SameSite=Lax, Secure when the page came over HTTPS."""
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


def render(seen: Visitor, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from a template, in the visitor's language, with its flash message (shown once) and headers."""
    flash_key = seen.request.cookies.get(FLASH_COOKIE)
    page = {"user": seen.user, "csrf": seen.csrf, "language": seen.language, "languages": i18n.NAMES,
            "here": local(seen.request.url.path + (f"?{seen.request.url.query}" if seen.request.url.query else "")),
            "flash": FLASHES.get(flash_key or ""), "errors": [], "values": {},
            "simulated_now": i18n.when(seen.engine.clock(), seen.language, seen.engine.settings.timezone)
            if seen.engine.simulated_clock else None, **context}
    html = environment(seen.language).get_template(template).render(page)
    response = HTMLResponse(html, status_code=status)
    if seen.new_csrf_cookie:
        set_cookie(seen.request, response, CSRF_COOKIE, seen.csrf, None)
    for name in [*seen.cookies_to_drop, *([FLASH_COOKIE] if flash_key else [])]:
        response.delete_cookie(name, path="/")
    secure_headers(response)
    return response


def redirect(seen: Visitor, target: str, flash: str | None = None) -> RedirectResponse:
    """POST → redirect → GET, with an optional flash message key for the next page."""
    response = RedirectResponse(target, status_code=303)
    if flash:
        set_cookie(seen.request, response, FLASH_COOKIE, flash, 60)
    return response
