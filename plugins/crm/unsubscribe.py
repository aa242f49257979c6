"""Public unsubscribe links: signed tokens, the `GET/POST /u/{token}` pages in each language of `i18n`, no login.

GET only asks (mail scanners prefetch links: a GET must change nothing); POST unsubscribes, from the
page's button or from a mail client's RFC 8058 one-click request (`List-Unsubscribe=One-Click`).
"""
from __future__ import annotations

import html
import logging
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from beffroi import BadSignature

from . import i18n
from .lists import unsubscribe
from .records import CrmError, NotFound, normalise_list_name, reading
from .tables import ContactRow

log = logging.getLogger("beffroi.crm")
BODY_LIMIT = 4096
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                      "frame-ancestors 'none'"}
STYLE = ("body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5;"
         "color:#1a1a1a;background:#fff}button{font:inherit;font-size:1.1rem;"
         "padding:.6rem 1.2rem;border:2px solid #0b4f8a;background:#0b4f8a;color:#fff;border-radius:.3rem;"
         "cursor:pointer}button:focus,a:focus{outline:3px solid #f2b705;outline-offset:2px}"
         "nav ul{list-style:none;display:flex;gap:1.5rem;padding:0;margin-top:3rem}")


def unsubscribe_url(signer, public_url: str, contact_id: str, list_name: str, language: str | None = None) -> str:
    """The link that unsubscribes one contact from one list (for messages and the List-Unsubscribe header);
    `language`: the list's, shown when neither `?lang=` nor the browser asks for one of ours."""
    payload = {"c": contact_id, "l": normalise_list_name(list_name)}
    if language:
        payload["g"] = language
    return f"{public_url.rstrip('/')}/u/{signer.sign(payload)}"


def footer_texts(language: str) -> tuple[str, str]:
    """What a message's footer says in a language: the link's label, and the plain-text line (with %(url)s)."""
    catalog = i18n.translations(language)
    return catalog.pgettext("message footer", "Unsubscribe"), catalog.gettext("Unsubscribe: %(url)s")


def read_token(signer, token: str) -> tuple[str, str, str | None]:
    """(contact id, list name, list language) from a link's token; BadSignature when altered or not ours."""
    payload = signer.verify(token)
    if not isinstance(payload, dict) or not isinstance(payload.get("c"), str) or not isinstance(payload.get("l"), str):
        raise BadSignature("this link is not valid")
    language = payload.get("g")
    return payload["c"], payload["l"], language if isinstance(language, str) else None


def page_language(request: Request, default: str | None = None) -> str:
    """The page's language: `?lang=` (the footer's links), then Accept-Language, then the list's, then French."""
    return i18n.choose(request.query_params.get("lang"), request.headers.get("accept-language"), default)


def page(language: str, title: str, content: str, status: int = 200) -> HTMLResponse:
    """A small accessible page in one language, with links to the same page in the others."""
    _ = i18n.translations(language).gettext
    others = "".join(f'<li><a href="?lang={other}" lang="{other}" hreflang="{other}">'
                     f'{html.escape(i18n.language_name(other))}</a></li>'
                     for other in i18n.languages() if other != language)
    label = html.escape(_("Other languages"))
    nav = f'<nav aria-label="{label}"><ul>{others}</ul></nav>' if others else ""
    body = (f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{html.escape(title)}</title><style>{STYLE}</style></head>'
            f'<body><main>{content}</main>{nav}</body></html>')
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def text(language: str, message: str, **values: str) -> str:
    """One message of the catalog in a language, HTML-escaped, with `values` (already HTML) put in."""
    translated = html.escape(i18n.translations(language).gettext(message), quote=False)
    return translated % values if values else translated


def invalid_page(language: str) -> HTMLResponse:
    """400: the link was altered, truncated or does not come from us."""
    _ = i18n.translations(language).gettext
    heading = text(language, "This link is not valid")
    advice = text(language, "It may have been cut or altered. Use the complete link from the message you received, "
                            "or reply to that message to unsubscribe.")
    return page(language, _("Link not valid"), f"<h1>{heading}</h1><p>{advice}</p>", status=400)


def _masked(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


def _address(engine, contact_id: str) -> str:
    with reading(engine.db) as session:
        row = session.get(ContactRow, contact_id)
        return _masked(row.email) if row is not None else ""


async def ask(token: str, request: Request) -> HTMLResponse:
    """GET: ask for confirmation; changes nothing (link scanners and previews fetch it)."""
    engine = request.app.state.engine
    try:
        contact_id, list_name, list_language = read_token(engine.signer, token)
    except BadSignature:
        return invalid_page(page_language(request))
    language = page_language(request, list_language)
    _ = i18n.translations(language).gettext
    name = html.escape(list_name)
    address = html.escape(await run_in_threadpool(_address, engine, contact_id))
    heading = text(language, "Unsubscribe from the list ‘%(list)s’?", list=name)
    who = text(language, "Address: %(address)s", address="<strong>" + address + "</strong>")
    effect = text(language, "You will no longer receive messages from this list.")
    button = text(language, "Unsubscribe")
    return page(language, _("Unsubscribe — %(list)s") % {"list": list_name},
                f"<h1>{heading}</h1>{f'<p>{who}</p>' if address else ''}<p>{effect}</p>"
                f'<form method="post"><button type="submit">{button}</button></form>')


async def confirm(token: str, request: Request) -> HTMLResponse:
    """POST: withdraw consent for the list (the page's button or a one-click request); safe to repeat."""
    engine = request.app.state.engine
    try:
        contact_id, list_name, list_language = read_token(engine.signer, token)
    except BadSignature:
        return invalid_page(page_language(request))
    language = page_language(request, list_language)
    body = b""
    async for chunk in request.stream():  # only to tell one-click requests apart in the log; capped
        body += chunk
        if len(body) > BODY_LIMIT:
            break
    form = parse_qs(body[:BODY_LIMIT].decode("utf-8", "replace"))
    how = "one-click" if "One-Click" in form.get("List-Unsubscribe", []) else "page"
    try:
        done = await run_in_threadpool(unsubscribe, engine.db, contact_id, list_name)
        log.info("contact %s unsubscribed from %s (%s%s)", contact_id, done["list"], how,
                 ", again" if done["already"] else "")
    except NotFound:  # erased meanwhile: they receive nothing either way
        log.info("unsubscribe link for a contact no longer in the base (%s)", how)
    except CrmError:  # a list name no longer accepted: the link cannot be honoured by a list row
        return invalid_page(language)
    _ = i18n.translations(language).gettext
    heading = text(language, "You have been unsubscribed")
    effect = text(language, "You will no longer receive messages from the list ‘%(list)s’.",
                  list=html.escape(list_name))
    return page(language, _("Unsubscribed — %(list)s") % {"list": list_name}, f"<h1>{heading}</h1><p>{effect}</p>")


def router() -> APIRouter:
    """The public unsubscribe pages (no token needed: the link's signature is the proof)."""
    public = APIRouter(tags=["crm"], include_in_schema=False)
    public.add_api_route("/u/{token}", ask, methods=["GET"], response_class=HTMLResponse)
    public.add_api_route("/u/{token}", confirm, methods=["POST"], response_class=HTMLResponse)
    return public
