"""Approvals: what waits for a decision (`/approvals`), and one request (`/approvals/<id>`): each channel's message
as it will go out, a text box per editable text (checked on the server against the channel's limit), a private
note, approve or reject with a reason. The same service as the API: engine.decide_approval."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from beffroi import ApprovalConflict, ApprovalInvalid, ApprovalNotFound, ApprovalRefused, editable, may_decide

from . import i18n, previews
from .routes import FieldProblem, _form
from .web import FLASHES, N_, Refused, Visitor, person, redirect, render

router = APIRouter(include_in_schema=False)
FLASHES.update({
    "approval-approved": N_("Your approval is recorded. The run goes on with the approved texts."),
    "approval-rejected": N_("Your rejection is recorded. The run stops with your reason."),
    "approval-unchanged": N_("This decision was already recorded: nothing changed."),
})
STATUS_NAMES = {"pending": N_("waiting for a decision"), "approved": N_("approved"), "rejected": N_("rejected"),
                "expired": N_("expired"), "cancelled": N_("cancelled")}
PAGE_SIZE = 50
_OVER = re.compile(r"(\d+) (\w+), over the limit of (\d+)")


def _when(seen: Visitor, value: datetime | None) -> str:
    return i18n.when(value, seen.language, seen.engine.settings.timezone)


def refusal(seen: Visitor, request: dict[str, Any]) -> str | None:
    """Why the signed-in person may not decide this request, in their language; None when they may."""
    assert seen.user is not None
    if may_decide(request, seen.user.email, seen.user.role) is None:
        return None
    if not seen.user.can("approver"):
        return seen.gettext("Only people with the approver role (or admin) decide approvals; you can read this "
                            "request.")
    if seen.user.email.lower() in (e.lower() for e in request["excluded"]):
        return seen.gettext("You started this run or wrote the version of the recipe it runs: someone else must "
                            "approve it (no self-approval).")
    return seen.gettext("This approval is for %(people)s only.", people=", ".join(request["approvers"]))


@router.get("/approvals")
def approvals_page(before: str | None = None, seen: Visitor = Depends(person)):
    """The requests waiting for a decision, newest first: those for me, then the others (read only)."""
    cursor = None
    if before:
        at, _, approval_id = before.rpartition("|")
        try:
            cursor = (datetime.fromisoformat(at), approval_id)
        except ValueError:
            raise Refused(404, seen.gettext("There is nothing at this address. Check it, or start again from the "
                                            "home page.")) from None
    found = seen.engine.approvals.page(status="pending", limit=PAGE_SIZE + 1, before=cursor)
    older = found[PAGE_SIZE:]
    found = found[:PAGE_SIZE]
    rows = [{"id": r["id"], "recipe": r["recipe"], "run_id": r["run_id"], "created": _when(seen, r["created_at"]),
             "expires": _when(seen, r["expires_at"]), "approvers": ", ".join(r["approvers"]),
             "mine": refusal(seen, r) is None} for r in found]
    mine = [r for r in rows if r["mine"]]
    return render(seen, "approvals_list.html", mine=mine, others=[r for r in rows if not r["mine"]],
                  older=f"/approvals?before={found[-1]['created_at'].isoformat()}|{found[-1]['id']}" if older
                  else None, number=lambda n: format_decimal(n, locale=seen.language))


def _request(seen: Visitor, approval_id: str) -> dict[str, Any]:
    try:
        return seen.engine.approvals.get(approval_id)
    except ApprovalNotFound:
        raise Refused(404, seen.gettext("There is no approval request at this address.")) from None


def _fields(request: dict[str, Any], values: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The editable texts as the form shows them: `text-<n>` in the order of the steps."""
    current = request["texts"]
    shown = []
    for index, field in enumerate(editable(request["previews"])):
        name = f"text-{index}"
        text = (values or {}).get(name, current.get(field.step_id, {}).get(field.key, field.text))
        shown.append({"name": name, "step_id": field.step_id, "key": field.key, "label": field.label,
                      "account": field.key[len("texts."):] if field.key.startswith("texts.") else None,
                      "text": text, "limit": field.limit, "unit": field.unit, "count": field.count})
    return shown


def _show(seen: Visitor, request: dict[str, Any], status: int = 200, errors: list[FieldProblem] | None = None,
          values: dict[str, str] | None = None):
    assert seen.user is not None
    steps = [previews.StepPreview(id=e["id"], position=0, uses=e["uses"], title=e["id"], status=e["status"],
                                  input=e.get("input"), output=e.get("output"), error=e.get("error"))
             for e in request["previews"]]
    for step in steps:
        if step.status == "succeeded":
            step.kind, step.view = previews.render_output(step.uses, step.output)
            step.parts = [(step.kind, step.view)]
    why = refusal(seen, request)
    notes = seen.user.can("approver")
    try:  # the recipe as people know it: its title
        title = seen.engine.recipes.get_row(request["recipe"])["definition"].get("title") or request["recipe"]
    except LookupError:  # deleted since
        title = request["recipe"]
    decisions = [{"by": d["by"], "decision": d["decision"], "at": _when(seen, datetime.fromisoformat(d["at"])),
                  "edited": d.get("edited", []), "reason": d.get("reason"), "note": d.get("note") if notes else None}
                 for d in request["decisions"]]
    return render(seen, "approvals_request.html", status, request=request, title=title, steps=steps, why=why,
                  can_decide=why is None and request["status"] == "pending", fields=_fields(request, values),
                  decisions=decisions, status_name=seen.gettext(STATUS_NAMES.get(request["status"], request["status"])),
                  created=_when(seen, request["created_at"]), expires=_when(seen, request["expires_at"]),
                  errors=errors or [], values=values or {}, number=previews.numbers(seen.language))


@router.get("/approvals/{approval_id}")
def approval_page(approval_id: str, seen: Visitor = Depends(person)):
    """One request: what each channel will publish, the texts to edit, the decision form (for those who decide)."""
    return _show(seen, _request(seen, approval_id))


def _problems(seen: Visitor, request: dict[str, Any], found: ApprovalInvalid) -> list[FieldProblem]:
    """The engine's located problems as the form's fields and messages, in the visitor's language."""
    names = {f"texts.{f['step_id']}.{f['key']}": f["name"] for f in _fields(request)}
    shown = []
    for problem in found.problems:
        over = _OVER.search(problem.message)
        if problem.loc == "reason":
            shown.append(FieldProblem("reason", seen.gettext("Say why the content is rejected: the run stops with "
                                                             "your reason.")))
        elif problem.loc in names and over:
            shown.append(FieldProblem(names[problem.loc], seen.gettext(
                "This text has %(count)s characters, over the limit of %(limit)s: shorten it.",
                count=format_decimal(int(over.group(1)), locale=seen.language),
                limit=format_decimal(int(over.group(3)), locale=seen.language))))
        elif problem.loc in names and "empty" in problem.message:
            shown.append(FieldProblem(names[problem.loc], seen.gettext("Write the text, or reject the content.")))
        elif problem.loc == "note":
            shown.append(FieldProblem("note", seen.gettext("The note is too long (2,000 characters at most).")))
        else:
            shown.append(FieldProblem(names.get(problem.loc, "decision"), problem.message))
    return shown


@router.post("/approvals/{approval_id}")
async def decide(approval_id: str, request: Request, seen: Visitor = Depends(person)):
    """Approve (with the texts as edited) or reject (with a reason); mistakes are shown beside their field."""
    form = await _form(request, seen)
    wanted = await run_in_threadpool(_request, seen, approval_id)
    why = refusal(seen, wanted)
    if why is not None:
        raise Refused(403, why)
    assert seen.user is not None
    decision = form.get("decision", "")
    texts: dict[str, dict[str, str]] = {}
    if decision == "approve":
        for field in _fields(wanted):
            if field["name"] in form:
                texts.setdefault(field["step_id"], {})[field["key"]] = form[field["name"]]
    user = seen.user
    try:
        _, changed = await run_in_threadpool(lambda: seen.engine.decide_approval(
            approval_id, by=user.email, role=user.role, decision=decision, texts=texts, reason=form.get("reason"),
            note=form.get("note")))
    except ApprovalRefused as exc:
        raise Refused(403, str(exc)) from None
    except ApprovalConflict:
        current = await run_in_threadpool(_request, seen, approval_id)
        problem = FieldProblem("decision", seen.gettext("This request is already %(status)s: nothing changed.",
                                                        status=seen.gettext(STATUS_NAMES[current["status"]])))
        return _show(seen, current, 409, [problem])
    except ApprovalInvalid as exc:
        return _show(seen, wanted, 400, _problems(seen, wanted, exc), form)
    if not changed:
        return redirect(seen, f"/approvals/{approval_id}", "approval-unchanged")
    return redirect(seen, f"/approvals/{approval_id}",
                    "approval-approved" if decision == "approve" else "approval-rejected")
