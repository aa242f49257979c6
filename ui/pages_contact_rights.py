"""A person's rights over the contact base (GDPR) in the UI: download everything kept about a contact (JSON), and
erase them after a confirmation page. Both are recorded in the audit log, without personal data."""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from .contacts_view import actor, book, shown
from .routes import _form
from .web import Refused, Visitor, redirect, render, role, secure_headers

router = APIRouter(include_in_schema=False)


def _missing(seen: Visitor) -> Refused:
    return Refused(404, seen.gettext("There is no contact with this number. They may have been erased."))


@router.get("/contacts/{contact_id}/export")
def export_contact(contact_id: str, seen: Visitor = Depends(role("editor"))):
    """Everything kept about the contact as a JSON file: the contact, their lists, consent history, deliveries."""
    found = book(seen).export(seen.engine.db, contact_id)
    if found is None:
        raise _missing(seen)
    seen.engine.audit.record(actor(seen), "contact.exported", "contact", contact_id, {})
    body = json.dumps(found, ensure_ascii=False, indent=2, default=str)
    response = Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="contact-{contact_id}.json"'})
    return secure_headers(response)


@router.get("/contacts/{contact_id}/erase")
def erase_page(contact_id: str, seen: Visitor = Depends(role("editor"))):
    """Ask before erasing: what goes, what stays."""
    found = book(seen).contact(seen.engine.db, contact_id)
    if found is None:
        raise _missing(seen)
    return render(seen, "contacts_erase.html", contact=shown(seen, found), lists=len(found["lists"]),
                  consents=len(found["consents"]))


@router.post("/contacts/{contact_id}/erase")
async def erase_contact(contact_id: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Erase the contact and their personal data; the audit log keeps that a contact was erased, by whom."""
    await _form(request, seen)
    erased = await run_in_threadpool(book(seen).erase, seen.engine.db, contact_id)
    if not erased:
        raise _missing(seen)
    await run_in_threadpool(seen.engine.audit.record, actor(seen), "contact.erased", "contact", contact_id, {})
    return redirect(seen, "/contacts", "contact-erased")
