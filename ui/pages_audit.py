"""The audit log's page: who changed what (recipes, connections, people, tokens, contacts) and who decided what.

Admins and approvers read it (an approver answers for what was published: they see who changed a recipe before
approving it). Filters: who (an e-mail, `token:<name>`, `cli`, `system`), what (a family of changes), the target's
name, a range of days; newest first, a page at a time (keyset on the entry's id).
"""
from __future__ import annotations

from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends

from . import i18n
from .date_range import DateRange
from .web import N_, Visitor, render, role

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
FAMILIES = {"recipe": N_("Recipes"), "connection": N_("Connections"), "user": N_("People"), "token": N_("API tokens"),
            "contact": N_("Contacts"), "list": N_("Lists"), "approval": N_("Approvals")}
ACTIONS = {
    "recipe.saved": N_("Recipe saved"), "recipe.enabled": N_("Recipe enabled"),
    "recipe.disabled": N_("Recipe disabled"), "recipe.duplicated": N_("Recipe duplicated"),
    "recipe.restored": N_("Earlier version restored"), "recipe.deleted": N_("Recipe deleted"),
    "connection.created": N_("Connection created"), "connection.changed": N_("Connection changed"),
    "connection.deleted": N_("Connection deleted"),
    "user.created": N_("Account created"), "user.role_changed": N_("Role changed"),
    "user.deleted": N_("Account deleted"), "user.password_reset": N_("Password replaced by an admin"),
    "user.password_link": N_("Password link made"),
    "token.created": N_("API token created"), "token.revoked": N_("API token revoked"),
    "approval.requested": N_("Approval requested"), "approval.reminded": N_("Approval reminder sent"),
    "approval.approved": N_("Approved"), "approval.rejected": N_("Rejected"),
    "approval.expired": N_("Approval expired"),
}
DETAIL_NAMES = {"version": N_("version"), "type": N_("type"), "role": N_("role"), "from": N_("former role"),
                "id": N_("id"), "by": N_("by"), "reason": N_("reason"), "step": N_("step")}
SHOWN_VALUE = 200  # characters of one detail's value on the page


def _entry(seen: Visitor, entry: Any) -> dict[str, Any]:
    """An entry as the table shows it: its time in the visitor's language, its action and details in words."""
    label = ACTIONS.get(entry.action)
    details = [(seen.gettext(DETAIL_NAMES[key]) if key in DETAIL_NAMES else key, str(value)[:SHOWN_VALUE])
               for key, value in sorted(entry.detail.items())]
    return {"id": entry.id, "when": i18n.when(entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC),
                                              seen.language, seen.engine.settings.timezone),
            "actor": entry.actor, "action": entry.action, "label": seen.gettext(label) if label else entry.action,
            "target_type": entry.target_type, "target": entry.target, "details": details}


@router.get("/audit")
def audit_page(seen: Visitor = Depends(role("approver"))):
    """The audit log, newest first, filtered by who, what, target and days."""
    query = seen.request.query_params
    actor, target = query.get("who", "").strip(), query.get("target", "").strip()
    family = query.get("what", "") if query.get("what", "") in FAMILIES else ""
    days = DateRange.read(seen, query.get("from", ""), query.get("to", ""))
    before = query.get("before", "")
    cursor = int(before) if before.isdigit() and len(before) < 19 else None
    entries = seen.engine.audit.page(
        limit=PAGE_SIZE + 1, before=cursor, actor=actor or None, action=family or None, target=target or None,
        since=days.start.astimezone(UTC) if days.start else None,
        until=days.end.astimezone(UTC) if days.end else None)
    pairs = [(k, v) for k, v in (("who", actor), ("what", family), ("target", target)) if v] + days.pairs()
    older = None
    if len(entries) > PAGE_SIZE:
        entries = entries[:PAGE_SIZE]
        older = "/audit?" + urlencode([*pairs, ("before", str(entries[-1].id))])
    return render(seen, "audit_log.html", 400 if days.problems else 200, errors=days.problems,
                  entries=[_entry(seen, entry) for entry in entries], families=FAMILIES, family=family,
                  actor=actor, target=target, days=days, older=older,
                  first=("/audit?" + urlencode(pairs) if pairs else "/audit") if cursor is not None else None,
                  active=bool(pairs), zone=seen.engine.settings.timezone)
