"""The contacts: a list searched and filtered (list, tag, consent) a page at a time, a contact's page (edit its
fields, tags and lists; read its consent history), the lists with their counts and a list's members.

A contact's personal data needs the editor role, as in the API: viewers see the lists and their counts only.
Everything is read and changed through the ContactBook service the crm plugin provides (never the plugin itself).
"""
from __future__ import annotations

import re
from typing import Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from beffroi import CONSENT_STATES, ContactError

from .contacts_view import CONSENT_NAMES, ContactSearch, actor, book, dated, problem, shown
from .routes import FieldProblem, _form
from .web import FLASHES, N_, Refused, Visitor, person, redirect, render, role

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
TEXT_FIELDS = ("email", "first_name", "last_name", "organisation")
FLASHES.update({
    "contact-saved": N_("The changes to the contact are saved."),
    "contact-erased": N_("The contact and their personal data are erased."),
})


def _number(seen: Visitor, value: int) -> str:
    return format_decimal(value, locale=seen.language)


def _pages(seen: Visitor, found, link) -> dict[str, Any]:
    """What a template needs to show a window of contacts: count, caption numbers and page links."""
    return {"total": _number(seen, found.total), "count": found.total, "capped": found.capped,
            "newer": link(before=found.newer) if found.newer else None,
            "older": link(after=found.older) if found.older else None}


@router.get("/contacts")
def contacts_page(seen: Visitor = Depends(role("editor"))):
    """The contacts by e-mail address: search by address or name, filter by list, tag and consent."""
    search = ContactSearch.read(seen)
    contacts = book(seen)
    lists = contacts.list_names(seen.engine.db)
    problems = list(search.problems)
    try:
        found = contacts.search(seen.engine.db, search.filters, before=search.before, after=search.after,
                                limit=PAGE_SIZE)
    except ContactError as exc:
        problems.append(problem(seen, exc, "list"))
        found = None
    titled = ((lst["name"], " – ".join(filter(None, (lst["name"], lst["title"])))) for lst in lists)
    list_options = [("", seen.gettext("Any list")), *titled]
    consent_options = [("", seen.gettext("Any")), *((s, seen.gettext(CONSENT_NAMES[s])) for s in CONSENT_STATES)]
    return render(seen, "contacts_list.html", 400 if problems else 200, errors=problems, search=search,
                  list_options=list_options, consent_options=consent_options, consent_names=CONSENT_NAMES,
                  contacts=[shown(seen, c) for c in found.items] if found else [],
                  **(_pages(seen, found, lambda **c: search.link("/contacts", **c)) if found else
                     {"total": "0", "count": 0, "capped": False, "newer": None, "older": None}))


def _contact(seen: Visitor, contact_id: str) -> dict[str, Any]:
    found = book(seen).contact(seen.engine.db, contact_id)
    if found is None:
        raise Refused(404, seen.gettext("There is no contact with this number. They may have been erased."))
    return found


def _contact_page(seen: Visitor, contact: dict[str, Any], status: int = 200, errors=(), values=None):
    lists = book(seen).list_names(seen.engine.db)
    subscribed = [m["list"] for m in contact["lists"] if m["subscribed"]]
    if values is None:
        values = {**{k: contact.get(k) or "" for k in TEXT_FIELDS}, "tags": ", ".join(contact["tags"]),
                  "lists": subscribed, "consent": "yes" if contact["consent"] else "no", "consent_source": "",
                  "consent_text": "", "custom": contact["custom"]}
    return render(seen, "contacts_contact.html", status, contact=shown(seen, contact), errors=list(errors),
                  consent_names=CONSENT_NAMES,
                  values=values, all_lists=[lst["name"] for lst in lists],
                  memberships=dated(seen, contact["lists"], "subscribed_at", "unsubscribed_at"),
                  consents=dated(seen, contact["consents"], "at"))


@router.get("/contacts/{contact_id}")
def contact_page(contact_id: str, seen: Visitor = Depends(role("editor"))):
    """A contact: their fields, tags and lists to edit, and their consent history (date, source, text)."""
    return _contact_page(seen, _contact(seen, contact_id))


def _changes(form: dict[str, str], lists: list[str], contact: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    """(the changes to ask the contact book for, the values to show again) from the posted form."""
    values: dict[str, Any] = {k: form.get(k, "").strip() for k in (*TEXT_FIELDS, "tags", "consent_source")}
    values["consent_text"] = form.get("consent_text", "").strip()
    values["consent"] = "yes" if form.get("consent") == "yes" else "no"
    values["lists"] = lists
    custom = {key: form.get(f"custom-{i}", "").strip() for i, key in enumerate(contact["custom"])}
    values["custom"] = custom
    changes: dict[str, Any] = {k: values[k] or None for k in TEXT_FIELDS}
    changes["email"] = values["email"]
    changes["tags"] = [t for t in re.split(r"[,;|]", values["tags"]) if t.strip()]
    changes["custom"] = {**{k: v for k, v in contact["custom"].items() if k not in custom},
                         **{k: v for k, v in custom.items() if v}}
    changes["consent"] = values["consent"] == "yes"
    if changes["consent"] != contact["consent"]:
        changes["consent_source"] = values["consent_source"] or None
        changes["consent_text"] = values["consent_text"] or None
    return changes, values


@router.post("/contacts/{contact_id}")
async def save_contact(contact_id: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Save the contact's fields, tags, consent and lists; a mistake is shown beside its field, the text kept."""
    raw = await request.form()
    form = await _form(request, seen)
    lists = [v for v in raw.getlist("lists") if isinstance(v, str)]
    contact = await run_in_threadpool(_contact, seen, contact_id)
    changes, values = _changes(form, lists, contact)
    problems: list[FieldProblem] = []
    if not values["email"]:
        problems.append(FieldProblem("email", seen.gettext("Enter the contact's e-mail address.")))
    if changes["consent"] and not contact["consent"] and not values["consent_source"]:
        problems.append(FieldProblem("consent_source", seen.gettext(
            "Say where the person gave their consent, for example “form at the town fair”.")))
    contacts = book(seen)
    if not problems:
        try:
            saved = await run_in_threadpool(contacts.update, seen.engine.db, contact_id, changes)
            moved = await run_in_threadpool(contacts.set_lists, seen.engine.db, contact_id, lists,
                                            f"web UI ({actor(seen)})")
        except ContactError as exc:
            problems.append(problem(seen, exc))
    if problems:
        return await run_in_threadpool(lambda: _contact_page(seen, contact, 400, problems, values))
    detail = {"fields": saved["changed"], "added_to": moved["added"], "removed_from": moved["removed"]}
    if any(detail.values()):
        await run_in_threadpool(seen.engine.audit.record, actor(seen), "contact.changed", "contact", contact_id,
                                detail)
    return redirect(seen, f"/contacts/{contact_id}", "contact-saved")


@router.get("/lists")
def lists_page(seen: Visitor = Depends(person)):
    """Every list with its member counts (anyone signed in); editors open a list to see its members."""
    assert seen.user is not None
    lists = book(seen).lists(seen.engine.db)
    return render(seen, "contacts_lists.html", lists=lists, number=lambda n: _number(seen, n),
                  can_edit=seen.user.can("editor"))


@router.get("/lists/{name}")
def list_members_page(name: str, seen: Visitor = Depends(role("editor"))):
    """The members of a list by e-mail address, subscribed or not, a page at a time."""
    query = seen.request.query_params
    try:
        found = book(seen).members(seen.engine.db, name, before=query.get("before") or None,
                                   after=query.get("after") or None, limit=PAGE_SIZE)
    except ContactError:
        raise Refused(404, seen.gettext("There is no list with this name.")) from None
    path = f"/lists/{found.extra['name']}"
    return render(seen, "contacts_members.html", listed=found.extra, members=[shown(seen, m) for m in found.items],
                  **_pages(seen, found, lambda **c: f"{path}?{'&'.join(f'{k}={v}' for k, v in c.items())}"))
