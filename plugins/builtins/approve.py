"""`flow.approve`: hold the run until the content of its next steps is approved (or rejected, or the request expires).

The run does not sleep in a worker: the step parks it (`Parked`), journaled as `waiting`; a decision, or the
scheduler at the next reminder or the expiry, queues it again and the step is called anew to see where things stand.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from beffroi import (
    ActionContext,
    ActionError,
    ActionSpec,
    Approvals,
    AuditLog,
    Duration,
    Parked,
    notify_approvers,
    overrides,
    parse_duration,
)


class ApproveInput(BaseModel):
    """Who approves, how many of them, until when, and what to tell them."""

    model_config = ConfigDict(extra="forbid")
    approvers: list[str] = Field([], description="e-mail addresses of the people who may approve; empty: anyone "
                                                  "with the approver role")
    mode: Literal["any", "all"] = Field("any", description="any: one approval is enough; all: every listed "
                                                           "approver must approve")
    expires_after: Duration | None = Field(None, description="how long the approvers have (e.g. 2d, 4h); none: "
                                                             "no limit")
    on_expiry: Literal["fail", "publish"] = Field("fail", description="without a decision in time: fail the run, "
                                                                      "or go on with the texts as they are")
    remind_after: Duration | None = Field(None, description="when to remind the approvers by e-mail (optional)")
    message: str | None = Field(None, max_length=2000, description="a note for the approvers")

    @field_validator("approvers")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        found: list[str] = []
        for address in value:
            address = address.strip().lower()
            if "@" not in address or " " in address:
                raise ValueError(f"{address!r} is not an e-mail address")
            if address not in found:
                found.append(address)
        return found

    @model_validator(mode="after")
    def _all_needs_names(self) -> ApproveInput:
        if self.mode == "all" and not self.approvers:
            raise ValueError("mode all needs the list of approvers (every one of them must approve)")
        for name in ("expires_after", "remind_after"):
            if getattr(self, name) is not None:
                parse_duration(getattr(self, name))
        return self


class ApproveOutput(BaseModel):
    """The decision, and the texts approved for the next steps."""

    approval: str | None = Field(description="the approval request's id")
    status: str = Field(description="approved, or expired (when on_expiry is publish)")
    decided_by: list[str] = Field(description="who approved")
    approved: dict[str, dict[str, Any]] = Field(description="per later step, the approved values of its fields")
    url: str | None = Field(None, description="the request's page")


def _after(start: datetime, duration: str | None) -> datetime | None:
    return start + timedelta(seconds=parse_duration(duration)) if duration else None


def _done(request: dict, status: str, url: str) -> dict[str, Any]:
    return {"approval": request["id"], "status": status, "url": url, "approved": overrides(request["texts"]),
            "decided_by": [d["by"] for d in request["decisions"] if d["decision"] == "approve"]}


def run(payload: ApproveInput, ctx: ActionContext) -> dict[str, Any]:
    """Open the request (first call), then on each wake-up: go on, fail, remind or wait again."""
    approvals, audit = Approvals(ctx.db), AuditLog(ctx.db)
    now = ctx.clock()
    request = approvals.of_step(ctx.run_id, ctx.step_id)
    if request is None:
        start = ctx.started_at or now
        previews = [entry for entry in (ctx.later_previews() if ctx.later_previews else []) if entry["side_effects"]]
        request, created = approvals.open(
            run_id=ctx.run_id, step_id=ctx.step_id, recipe=ctx.recipe, mode=payload.mode, approvers=payload.approvers,
            excluded=approvals.excluded(ctx.run_id), message=payload.message, previews=previews,
            expires_at=_after(start, payload.expires_after), remind_at=_after(start, payload.remind_after))
        if created:
            sent = notify_approvers(ctx, request)
            audit.record("system", "approval.requested", "run", ctx.run_id,
                         {"approval": request["id"], "step": ctx.step_id, "recipe": ctx.recipe, "notified": len(sent)})
    elif request["status"] == "pending":  # called again (a wake-up, a retry, a crash before the e-mails went):
        notify_approvers(ctx, request)  # whoever was not told yet is told now; nobody twice
    url = f"{ctx.public_url.rstrip('/')}/approvals/{request['id']}"
    status, expires = request["status"], request["expires_at"]
    if status == "pending" and expires is not None and now >= expires:
        if approvals.close(request["id"], "expired"):
            audit.record("system", "approval.expired", "run", ctx.run_id,
                         {"approval": request["id"], "on_expiry": payload.on_expiry})
        request, status = approvals.get(request["id"]), "expired"
    if status == "approved":
        return _done(request, "approved", url)
    if status == "expired":
        if payload.on_expiry == "publish":
            return _done(request, "expired", url)
        raise ActionError(f"the approval request expired at {expires:%Y-%m-%d %H:%M} UTC without a decision",
                          retryable=False)
    if status == "rejected":
        who = next((d["by"] for d in reversed(request["decisions"]) if d["decision"] == "reject"), "an approver")
        raise ActionError(f"rejected by {who}: {request['reason']}", retryable=False)
    if status != "pending":
        raise ActionError(f"the approval request was {status}", retryable=False)
    remind = request["remind_at"]
    if remind is not None and not request["reminded"] and now >= remind:
        sent = notify_approvers(ctx, request, reminder=True)
        approvals.reminded(request["id"])
        audit.record("system", "approval.reminded", "run", ctx.run_id,
                     {"approval": request["id"], "notified": len(sent)})
        remind = None
    wake = [at for at in (remind if not request["reminded"] else None, expires) if at is not None and at > now]
    raise Parked(wake_at=min(wake) if wake else None,
                 output={"approval": request["id"], "status": "pending", "url": url})


def preview(payload: ApproveInput, ctx: ActionContext) -> dict[str, Any]:
    """A dry run does not wait: it goes on as if the content were approved as it is."""
    return {"approval": None, "status": "approved", "decided_by": [], "approved": {}, "url": None,
            "would_ask": payload.approvers or ["anyone with the approver role"]}


SPEC = ActionSpec(key="flow.approve", title="Ask for approval", input_model=ApproveInput, output_model=ApproveOutput,
                  run=run, preview=preview, side_effects=False, approves=True,
                  description="Holds the run until an approver has seen and approved what the next steps will "
                              "publish (each text editable within its limit), or rejected it.")
