"""Approvals: the runs held at a `flow.approve` step; read what each channel would publish, approve (with edited
texts) or reject (with a reason).

Reading needs an editor token; deciding needs an admin token (API tokens have no approver role: admin includes it),
and the token must not be the one that started the run (no self-approval). A decision is recorded in the audit log
as `token:<name>`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ...approvals import (
    APPROVAL_STATUSES,
    ApprovalConflict,
    ApprovalInvalid,
    ApprovalNotFound,
    ApprovalRefused,
    editable,
)
from ..deps import Editor, EngineDep
from ..problems import FieldError, JSONRoute, problem, problem_responses

router = APIRouter(tags=["approvals"], route_class=JSONRoute, responses=problem_responses(401, 403))


class ApprovalSummary(BaseModel):
    """An approval request as lists show it."""

    id: str
    run_id: str
    step_id: str = Field(description="the flow.approve step that holds the run")
    recipe: str
    status: str = Field(description=f"one of {', '.join(APPROVAL_STATUSES)}")
    mode: str = Field(description="any: one approval is enough; all: every listed approver")
    approvers: list[str] = Field(description="who may approve; empty: anyone with the approver role")
    created_at: str
    expires_at: str | None
    decided_at: str | None
    page: str = Field(description="the web page where a person decides")


class Channel(BaseModel):
    """A later step with side effects, previewed when the run reached the approval (edited texts included)."""

    step_id: str
    uses: str
    status: str = Field(description="succeeded (previewed), skipped (its `if` is false), failed, or pending")
    input: Any = Field(description="its rendered input (secrets redacted)")
    output: Any = Field(description="what it would do: the action's preview")
    error: str | None


class EditableText(BaseModel):
    """A text the approver may change, with its limit."""

    step_id: str
    key: str = Field(description="`texts.<account>` for one social account's post, else the input field")
    label: str
    text: str
    limit: int | None
    unit: str
    count: int | None = Field(description="its length as the network counts it (social posts)")


class Decision(BaseModel):
    by: str
    decision: str = Field(description="approve or reject")
    at: str
    reason: str | None = None
    note: str | None = Field(None, description="a private note (shown to admin tokens only)")
    edited: list[str] = Field(description="the texts this decision changed, as `<step>.<key>`")


class ApprovalDetail(ApprovalSummary):
    """A request with what each channel would publish and the decisions made."""

    message: str | None = Field(description="the recipe's note for the approvers")
    reason: str | None = Field(description="why it was rejected")
    channels: list[Channel]
    texts: list[EditableText]
    decisions: list[Decision]


class ApprovalPage(BaseModel):
    items: list[ApprovalSummary]
    next: str | None = Field(description="the `before` value of the next page, when there is one")


class ApproveBody(BaseModel):
    """An approval, with the texts changed if any: {step id: {key: text}} (keys as `texts[].key`)."""

    model_config = ConfigDict(extra="forbid")
    texts: dict[str, dict[str, str]] = Field(default_factory=dict)
    note: str | None = Field(None, description="a private note, kept with the decision")


class RejectBody(BaseModel):
    """A rejection: the reason is required (the run fails with it)."""

    model_config = ConfigDict(extra="forbid")
    reason: str
    note: str | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def summary(request: dict[str, Any]) -> dict[str, Any]:
    return {"id": request["id"], "run_id": request["run_id"], "step_id": request["step_id"],
            "recipe": request["recipe"], "status": request["status"], "mode": request["mode"],
            "approvers": request["approvers"], "created_at": _iso(request["created_at"]),
            "expires_at": _iso(request["expires_at"]), "decided_at": _iso(request["decided_at"]),
            "page": f"/approvals/{request['id']}"}


def detail(request: dict[str, Any], *, notes: bool) -> dict[str, Any]:
    current = request["texts"]
    return {**summary(request), "message": request["message"], "reason": request["reason"],
            "channels": [{"step_id": e["id"], "uses": e["uses"], "status": e["status"], "input": e.get("input"),
                          "output": e.get("output"), "error": e.get("error")} for e in request["previews"]],
            "texts": [{"step_id": f.step_id, "key": f.key, "label": f.label,
                       "text": current.get(f.step_id, {}).get(f.key, f.text), "limit": f.limit, "unit": f.unit,
                       "count": f.count} for f in editable(request["previews"])],
            "decisions": [{**{k: v for k, v in d.items() if k != "note" or notes}, "edited": d.get("edited", [])}
                          for d in request["decisions"]]}


def _cursor(before: str | None) -> tuple[datetime, str] | None:
    if not before:
        return None
    at, _, approval_id = before.rpartition("|")
    try:
        return datetime.fromisoformat(at), approval_id
    except ValueError:
        raise FieldError("query.before", "give the `next` value of the previous page") from None


@router.get("/approvals", response_model=ApprovalPage, responses=problem_responses(422))
def list_approvals(engine: EngineDep, _: Editor, status: str = Query("pending", description=(
        f"one of {', '.join(APPROVAL_STATUSES)}, or all")), limit: int = Query(50, ge=1, le=200),
                   before: str | None = Query(None, description="the `next` value of the previous page")) -> dict:
    """Approval requests, newest first (pending ones unless `status` says otherwise)."""
    if status != "all" and status not in APPROVAL_STATUSES:
        raise FieldError("query.status", f"unknown status {status!r}; use one of {', '.join(APPROVAL_STATUSES)} "
                                         "or all")
    found = engine.approvals.page(status=None if status == "all" else status, limit=limit + 1,
                                  before=_cursor(before))
    more = found[limit:]
    found = found[:limit]
    return {"items": [summary(r) for r in found],
            "next": f"{found[-1]['created_at'].isoformat()}|{found[-1]['id']}" if more else None}


def _get(engine, approval_id: str) -> dict[str, Any]:
    try:
        return engine.approvals.get(approval_id)
    except ApprovalNotFound as exc:
        raise FieldError("path.approval_id", str(exc), 404) from None


@router.get("/approvals/{approval_id}", response_model=ApprovalDetail, responses=problem_responses(404))
def get_approval(approval_id: str, engine: EngineDep, token: Editor) -> dict:
    """One request: each channel's preview, the editable texts with their limits, the decisions."""
    return detail(_get(engine, approval_id), notes=token.can("admin"))


async def _decide(engine, token, approval_id: str, decision: str, **given: Any):
    request = await run_in_threadpool(_get, engine, approval_id)
    try:
        result, _ = await run_in_threadpool(lambda: engine.decide_approval(
            request["id"], by=f"token:{token.name}", role="admin" if token.can("admin") else token.role,
            decision=decision, **given))
    except ApprovalRefused as exc:
        return problem(403, str(exc))
    except ApprovalConflict as exc:
        return problem(409, str(exc))
    except ApprovalInvalid as exc:
        return problem(422, str(exc), [{"loc": p.loc, "message": p.message} for p in exc.problems])
    return JSONResponse(detail(result, notes=True))


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalDetail,
             responses=problem_responses(400, 404, 409, 415, 422))
async def approve(approval_id: str, body: ApproveBody, engine: EngineDep, token: Editor):
    """Approve (admin token), with edited texts if any; the run goes on with them. Approving again the same way
    changes nothing; a request already decided otherwise answers 409."""
    return await _decide(engine, token, approval_id, "approve", texts=body.texts, note=body.note)


@router.post("/approvals/{approval_id}/reject", response_model=ApprovalDetail,
             responses=problem_responses(400, 404, 409, 415, 422))
async def reject(approval_id: str, body: RejectBody, engine: EngineDep, token: Editor):
    """Reject (admin token) with a reason: the run fails with it."""
    return await _decide(engine, token, approval_id, "reject", reason=body.reason, note=body.note)
