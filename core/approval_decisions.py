"""A decision on an approval request, as the API and the pages take it: checked, recorded, audited, and the run
queued again when the request has ended."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .approval_texts import checked
from .approvals import DECISIONS, MAX_REASON, ApprovalInvalid, ApprovalRefused, may_decide
from .recipes import Problem

if TYPE_CHECKING:
    from .engine import Engine

MAX_NOTE = 2000


def decide(engine: Engine, approval_id: str, *, by: str, role: str, decision: str,
           texts: dict[str, dict[str, str]] | None, reason: str | None,
           note: str | None) -> tuple[dict[str, Any], bool]:
    """See Engine.decide_approval."""
    request = engine.approvals.get(approval_id)
    refused = may_decide(request, by, role)
    if refused:
        raise ApprovalRefused(refused)
    reason, note = (reason or "").strip() or None, (note or "").strip() or None
    problems: list[Problem] = []
    if decision not in DECISIONS:
        problems.append(Problem("decision", f"{decision!r} is not a decision: approve or reject"))
    if decision == "reject" and not reason:
        problems.append(Problem("reason", "say why the content is rejected (the run's record shows it)"))
    if reason and len(reason) > MAX_REASON:
        problems.append(Problem("reason", f"{len(reason)} characters, over the limit of {MAX_REASON}"))
    if note and len(note) > MAX_NOTE:
        problems.append(Problem("note", f"{len(note)} characters, over the limit of {MAX_NOTE}"))
    changed: dict[str, dict[str, str]] = {}
    previews: list[dict] | None = None
    if decision == "approve" and request["status"] == "pending":
        try:
            changed, previews = checked(engine, request, texts or {})
        except ApprovalInvalid as exc:
            problems += exc.problems
    if problems:
        raise ApprovalInvalid(problems)
    if decision == "approve" and request["status"] != "pending":
        changed = {step: {k: v for k, v in fields.items() if request["texts"].get(step, {}).get(k) != v}
                   for step, fields in (texts or {}).items()}
        changed = {step: fields for step, fields in changed.items() if fields}
    result, made = engine.approvals.decide(approval_id, by=by, role=role, decision=decision, texts=changed,
                                           reason=reason, note=note, previews=previews,
                                           now=engine.clock())
    if made:
        last = result["decisions"][-1]
        engine.audit.record(by, "approval.approved" if decision == "approve" else "approval.rejected", "run",
                            result["run_id"], {"approval": result["id"], "step": result["step_id"],
                                               "edited": last.get("edited", []), "status": result["status"]})
        if result["status"] != "pending":
            engine.wake(result["run_id"])
    return result, made
