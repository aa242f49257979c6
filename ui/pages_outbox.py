"""The outbox's page: everything outbox connections recorded instead of publishing or sending, as it would have gone
out (a post's text per account with its length on each network; an e-mail's subject, recipient count and text).

Editors and admins read it (the recorded messages were rendered for real recipients); filters: channel, connection,
run; newest first, a page at a time (keyset on the item's id). The API's `GET /api/outbox` lists the same items.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends

from beffroi import outbox_page

from . import i18n
from .web import N_, Visitor, render, role

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
CHANNELS = {"smms": N_("Social media"), "email": N_("E-mail")}
SHOWN_TEXT = 20_000  # characters of one message's text on the page


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _post(payload: dict[str, Any]) -> dict[str, Any]:
    """A recorded post: its account, text, image and how it measures on each network."""
    networks = _dict(payload.get("networks"))
    return {"account": payload.get("account"), "text": str(payload.get("text") or "")[:SHOWN_TEXT],
            "image_url": payload.get("image_url"), "image_alt": payload.get("image_alt"),
            "networks": [{"name": name, **values} for name, values in sorted(networks.items())
                         if isinstance(values, dict)]}


def _mail(payload: dict[str, Any]) -> dict[str, Any]:
    """A recorded e-mail: its subject, sender, how many recipients (not who: they are people) and its text."""
    headers = _dict(payload.get("headers"))
    envelope = payload.get("envelope_to")
    envelope = envelope if isinstance(envelope, list) else []
    return {"subject": headers.get("Subject", ""), "sender": headers.get("From", ""), "recipients": len(envelope),
            "text": str(payload.get("text") or "")[:SHOWN_TEXT], "has_html": bool(payload.get("html"))}


def _shown(seen: Visitor, item: dict[str, Any]) -> dict[str, Any]:
    payload = item["payload"] if isinstance(item["payload"], dict) else {}
    return {**item, "when": i18n.when(item["created_at"], seen.language, seen.engine.settings.timezone),
            "post": _post(payload) if item["channel"] == "smms" else None,
            "mail": _mail(payload) if item["channel"] == "email" else None}


@router.get("/outbox")
def outbox(seen: Visitor = Depends(role("editor"))):
    """What was recorded instead of sent, newest first, filtered by channel, connection and run."""
    query = seen.request.query_params
    channel = query.get("channel", "") if query.get("channel", "") in CHANNELS else ""
    connection, run_id = query.get("connection", "").strip()[:100], query.get("run", "").strip()[:32]
    before = query.get("before", "")
    cursor = int(before) if before.isdigit() and len(before) < 19 else None
    items = outbox_page(seen.engine.db, channel=channel or None, connection=connection or None,
                        run_id=run_id or None, before=cursor, limit=PAGE_SIZE + 1)
    pairs = [(k, v) for k, v in (("channel", channel), ("connection", connection), ("run", run_id)) if v]
    older = None
    if len(items) > PAGE_SIZE:
        items = items[:PAGE_SIZE]
        older = "/outbox?" + urlencode([*pairs, ("before", str(items[-1]["id"]))])
    first = ("/outbox?" + urlencode(pairs) if pairs else "/outbox") if cursor is not None else None
    return render(seen, "outbox.html", items=[_shown(seen, item) for item in items], channels=CHANNELS,
                  channel=channel, connection=connection, run_id=run_id, older=older, first=first,
                  active=bool(pairs))
