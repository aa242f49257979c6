"""Public unsubscribe links: signed tokens, the `GET/POST /u/{token}` pages (French and English), no login.

GET only asks (mail scanners prefetch links: a GET must change nothing); POST unsubscribes, from the
page's button or from a mail client's RFC 8058 one-click request (`List-Unsubscribe=One-Click`).
"""
from __future__ import annotations

import html
import logging
from urllib.parse import parse_qs

from beffroi.signing import BadSignature
from beffroi.store.builtin_tables import ContactRow
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from .lists import unsubscribe
from .records import CrmError, NotFound, normalise_list_name, reading

log = logging.getLogger("beffroi.crm")
BODY_LIMIT = 4096
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                      "frame-ancestors 'none'"}
STYLE = ("body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5;"
         "color:#1a1a1a;background:#fff}section{margin-bottom:2rem}button{font:inherit;font-size:1.1rem;"
         "padding:.6rem 1.2rem;border:2px solid #0b4f8a;background:#0b4f8a;color:#fff;border-radius:.3rem;"
         "cursor:pointer}button:focus{outline:3px solid #f2b705;outline-offset:2px}hr{margin:2rem 0}")


def unsubscribe_url(signer, public_url: str, contact_id: str, list_name: str) -> str:
    """The link that unsubscribes one contact from one list (for messages and the List-Unsubscribe header)."""
    token = signer.sign({"c": contact_id, "l": normalise_list_name(list_name)})
    return f"{public_url.rstrip('/')}/u/{token}"


def read_token(signer, token: str) -> tuple[str, str]:
    """(contact id, list name) from a link's token; BadSignature when it was altered or is not ours."""
    payload = signer.verify(token)
    contact_id, list_name = (payload.get("c"), payload.get("l")) if isinstance(payload, dict) else (None, None)
    if not isinstance(contact_id, str) or not isinstance(list_name, str):
        raise BadSignature("this link is not valid")
    return contact_id, list_name


def page(title: str, french: str, english: str, status: int = 200) -> HTMLResponse:
    """A small accessible bilingual page (French first, then English)."""
    body = (f'<!doctype html><html lang="fr"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{title}</title><style>{STYLE}</style></head>'
            f'<body><main><section lang="fr">{french}</section><hr><section lang="en">{english}</section>'
            f'</main></body></html>')
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def invalid_page() -> HTMLResponse:
    """400: the link was altered, truncated or does not come from us."""
    return page("Lien non valide / Link not valid",
                "<h1>Ce lien n’est pas valide</h1><p>Il a peut-être été coupé ou modifié. Utilisez le lien complet "
                "du message reçu, ou répondez à ce message pour vous désinscrire.</p>",
                "<h1>This link is not valid</h1><p>It may have been cut or altered. Use the complete link from "
                "the message you received, or reply to that message to unsubscribe.</p>", status=400)


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
        contact_id, list_name = read_token(engine.signer, token)
    except BadSignature:
        return invalid_page()
    name = html.escape(list_name)
    address = html.escape(await run_in_threadpool(_address, engine, contact_id))
    who_fr = f"<p>Adresse : <strong>{address}</strong></p>" if address else ""
    who_en = f"<p>Address: <strong>{address}</strong></p>" if address else ""
    return page(f"Se désinscrire / Unsubscribe — {name}",
                f"<h1>Se désinscrire de la liste « {name} » ?</h1>{who_fr}<p>Vous ne recevrez plus les messages "
                f"de cette liste.</p><form method=\"post\"><button type=\"submit\">Me désinscrire</button></form>",
                f"<h1>Unsubscribe from the list ‘{name}’?</h1>{who_en}<p>You will no longer receive the messages "
                f"of this list.</p><form method=\"post\"><button type=\"submit\">Unsubscribe</button></form>")


async def confirm(token: str, request: Request) -> HTMLResponse:
    """POST: withdraw consent for the list (the page's button or a one-click request); safe to repeat."""
    engine = request.app.state.engine
    try:
        contact_id, list_name = read_token(engine.signer, token)
    except BadSignature:
        return invalid_page()
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
        return invalid_page()
    name = html.escape(list_name)
    return page(f"Désinscription confirmée / Unsubscribed — {name}",
                f"<h1>Vous êtes désinscrit·e</h1><p>Vous ne recevrez plus les messages de la liste « {name} ».</p>",
                f"<h1>You are unsubscribed</h1><p>You will no longer receive the messages of the list ‘{name}’.</p>")


def router() -> APIRouter:
    """The public unsubscribe pages (no token needed: the link's signature is the proof)."""
    public = APIRouter(tags=["crm"], include_in_schema=False)
    public.add_api_route("/u/{token}", ask, methods=["GET"], response_class=HTMLResponse)
    public.add_api_route("/u/{token}", confirm, methods=["POST"], response_class=HTMLResponse)
    return public
