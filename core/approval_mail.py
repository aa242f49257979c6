"""The e-mails of an approval request: to each approver, a link to the page where they decide; a reminder later.

They are recorded in the outbox (channel `email`, connection `outbox`), the zero-setup e-mail of an installation,
where `GET /api/outbox?channel=email` and the outbox show them; nothing is sent through the network.
"""
from __future__ import annotations

from typing import Any

from .outbox import record
from .store import Database
from .users import USER_ROLES, UserStore

SENDER = "beffroi@localhost"


def recipients(db: Database, request: dict[str, Any]) -> list[str]:
    """Who is told: the listed approvers, else every account with the approver role or above; never the excluded."""
    excluded = {e.lower() for e in request["excluded"]}
    if request["approvers"]:
        found = list(request["approvers"])
    else:
        found = [user["email"] for user in UserStore(db).list()
                 if USER_ROLES.index(user["role"]) >= USER_ROLES.index("approver")]
    return [email for email in found if email.lower() not in excluded]


def notify(db: Database, request: dict[str, Any], public_url: str, *, reminder: bool = False) -> list[str]:
    """Record the request's e-mail (or its reminder) for each recipient, once; returns the addresses."""
    link = f"{public_url.rstrip('/')}/approvals/{request['id']}"
    kind = "reminder" if reminder else "request"
    subject = (("Reminder: " if reminder else "") + f"Approval needed: {request['recipe']}")
    lines = [f"A run of the recipe {request['recipe']} waits for your approval before it publishes.", ""]
    if request.get("message"):
        lines += [request["message"], ""]
    lines += [f"See each message as it will go out, edit its text if needed, then approve or reject: {link}"]
    if request.get("expires_at") is not None:
        lines += ["", f"Without a decision, the request expires at {request['expires_at']:%Y-%m-%d %H:%M} UTC."]
    sent = recipients(db, request)
    for email in sent:
        payload = {"outbox": True, "note": "recorded in the outbox: nothing was sent",
                   "headers": {"From": SENDER, "To": email, "Subject": subject}, "envelope_to": [email],
                   "text": "\n".join(lines), "html": None, "link": link}
        record(db, channel="email", connection="outbox", key=f"approval:{request['id']}:{kind}:{email.lower()}"[:300],
               payload=payload, run_id=request["run_id"])
    return sent
