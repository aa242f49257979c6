"""Approval requests: a run held at a `flow.approve` step until the people allowed to decide approve or reject it.

A request keeps what the approvers see — each later step with side effects previewed at the moment the run
reached the approval (`previews`, as a dry run's journal holds them) — and the texts they may edit (`texts`:
{step id: {field: text}}, the field `texts.<account>` for one social account's post, else a field of the step's
input such as `subject`). Approved texts reach the run as the approval step's output `approved`, which the
runner lays over those steps' input (`ActionSpec.approves`), so what goes out is what was approved.

Who may decide: a person with the `approver` role or above, listed in `approvers` (empty: any approver), never
the person who started the run nor the author of the recipe version it runs (`excluded`). `mode: any` — the first
approval decides; `mode: all` — every listed approver must approve. A reject by anyone ends it. A decision equal
to one already made by the same person changes nothing (double clicks); any other decision on a request no longer
pending is refused.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError

from .recipes import Problem
from .store import Database
from .store.models import ApprovalRow, utcnow
from .users import USER_ROLES

APPROVAL_STATUSES = ("pending", "approved", "rejected", "expired", "cancelled")
DECISIONS = ("approve", "reject")
# The editable fields of steps other than social posts, with their limit in characters (a subject line's is RFC 5322's)
FIELD_LIMITS = {"subject": 998, "title": 500, "text": 100_000, "body": 1000}  # body: a push notification's
MAX_REASON = 2000


class ApprovalNotFound(LookupError):
    """No approval request with that id."""


class ApprovalRefused(PermissionError):
    """This person may not decide this request (role, not listed, self-approval)."""


class ApprovalConflict(ValueError):
    """The request was already decided otherwise, or has ended."""


class ApprovalInvalid(ValueError):
    """The decision has mistakes, each with its place (`texts.<step>.<field>`, `reason`)."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(f"{p.loc}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Editable:
    """One text an approver may change: where it goes, what it says now, and its limit."""

    step_id: str
    key: str  # "texts.<account>" (a social account's post) or an input field such as "subject"
    label: str  # the account (network) or the field's name
    text: str
    limit: int | None
    unit: str  # "characters" or "graphemes"
    count: int | None = None  # as the network counts it (a social post), else None: the text's length


def editable(previews: list[dict]) -> list[Editable]:
    """The texts of the previewed steps that an approver may edit, in the order of the steps."""
    found: list[Editable] = []
    for entry in previews:
        if entry.get("status") != "succeeded" or entry.get("looped"):
            continue
        output, given = entry.get("output"), entry.get("input")
        if isinstance(output, dict) and isinstance(output.get("would_publish"), list):
            for item in output["would_publish"]:
                account = str(item.get("account", ""))
                found.append(Editable(entry["id"], f"texts.{account}", f"{account} ({item.get('network', '')})",
                                      str(item.get("text", "")), item.get("limit"),
                                      item.get("unit") or "characters", item.get("count")))
        elif isinstance(given, dict):
            for name, limit in FIELD_LIMITS.items():
                if isinstance(given.get(name), str):
                    found.append(Editable(entry["id"], name, name, given[name], limit, "characters", None))
    return found


def overrides(texts: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    """The approved texts as the values laid over each step's input: `texts.<account>` into a `texts` mapping."""
    found: dict[str, dict[str, Any]] = {}
    for step_id, fields in texts.items():
        values: dict[str, Any] = {}
        for key, text in fields.items():
            if key.startswith("texts."):
                values.setdefault("texts", {})[key[len("texts."):]] = text
            else:
                values[key] = text
        found[step_id] = values
    return found


def _public(row: ApprovalRow) -> dict[str, Any]:
    return {"id": row.id, "run_id": row.run_id, "step_id": row.step_id, "recipe": row.recipe_name,
            "status": row.status, "mode": row.mode, "approvers": list(row.approvers or []),
            "excluded": list(row.excluded or []), "message": row.message, "previews": row.previews or [],
            "texts": row.texts or {}, "decisions": list(row.decisions or []), "reason": row.reason,
            "expires_at": row.expires_at, "remind_at": row.remind_at, "reminded": row.reminded,
            "created_at": row.created_at, "decided_at": row.decided_at}


def may_decide(request: dict[str, Any], email: str, role: str) -> str | None:
    """Why this person may not decide this request (a sentence), or None when they may."""
    if role not in USER_ROLES or USER_ROLES.index(role) < USER_ROLES.index("approver"):
        return "only people with the approver role (or admin) decide approvals"
    email = email.lower()
    if email in (e.lower() for e in request["excluded"]):
        return ("you started this run or wrote the version of the recipe it runs: someone else must approve it "
                "(no self-approval)")
    listed = [e.lower() for e in request["approvers"]]
    if listed and email not in listed:
        return "this approval is for " + ", ".join(request["approvers"]) + " only"
    return None


class Approvals:
    """Stores approval requests and records decisions (each call commits before it returns)."""

    def __init__(self, db: Database):
        self.db = db

    def open(self, *, run_id: str, step_id: str, recipe: str, mode: str, approvers: list[str], excluded: list[str],
             message: str | None, previews: list[dict], expires_at: datetime | None,
             remind_at: datetime | None) -> tuple[dict[str, Any], bool]:
        """The request of this run's step: created now (True), or the one already there (False, a resumed step)."""
        existing = self.of_step(run_id, step_id)
        if existing is not None:
            return existing, False
        texts: dict[str, dict[str, str]] = {}
        for field in editable(previews):
            texts.setdefault(field.step_id, {})[field.key] = field.text
        row = ApprovalRow(id=uuid.uuid4().hex, run_id=run_id, step_id=step_id, recipe_name=recipe, status="pending",
                          mode=mode, approvers=approvers, excluded=[e for e in excluded if e], message=message,
                          previews=previews, texts=texts, decisions=[], expires_at=expires_at, remind_at=remind_at,
                          reminded=False, created_at=utcnow())
        try:
            with self.db.session() as session:
                session.add(row)
                session.flush()
                return _public(row), True
        except IntegrityError:  # opened meanwhile by another worker resuming the same step
            existing = self.of_step(run_id, step_id)
            assert existing is not None
            return existing, False

    def get(self, approval_id: str) -> dict[str, Any]:
        """One request; ApprovalNotFound when there is none."""
        with self.db.session() as session:
            row = session.get(ApprovalRow, approval_id)
            if row is None:
                raise ApprovalNotFound(f"no approval request {approval_id!r}")
            return _public(row)

    def of_step(self, run_id: str, step_id: str) -> dict[str, Any] | None:
        """The request a run's step opened, if any."""
        with self.db.session() as session:
            row = session.scalar(select(ApprovalRow).where(ApprovalRow.run_id == run_id,
                                                           ApprovalRow.step_id == step_id))
            return _public(row) if row is not None else None

    def of_run(self, run_id: str) -> list[dict[str, Any]]:
        """The requests of one run, oldest first (the run page links to them)."""
        with self.db.session() as session:
            rows = session.scalars(select(ApprovalRow).where(ApprovalRow.run_id == run_id)
                                   .order_by(ApprovalRow.created_at))
            return [_public(row) for row in rows]

    def page(self, *, status: str | None = "pending", limit: int = 50,
             before: tuple[datetime, str] | None = None) -> list[dict[str, Any]]:
        """Requests newest first (keyset pages on created_at, id), of one status unless None."""
        query = select(ApprovalRow).order_by(ApprovalRow.created_at.desc(), ApprovalRow.id.desc()).limit(limit)
        if status is not None:
            query = query.where(ApprovalRow.status == status)
        if before is not None:
            query = query.where(tuple_(ApprovalRow.created_at, ApprovalRow.id) < tuple_(*before))
        with self.db.session() as session:
            return [_public(row) for row in session.scalars(query)]

    def decide(self, approval_id: str, *, by: str, role: str, decision: str, texts: dict[str, dict[str, str]],
               reason: str | None, note: str | None, previews: list[dict] | None = None,
               now: datetime | None = None) -> tuple[dict[str, Any], bool]:
        """Record one person's decision; (the request, whether it changed). `texts` (the edited ones) and `previews`
        (previewed again with them) are already checked (approval_texts.checked). ApprovalRefused, ApprovalConflict
        as the module says."""
        now = now or utcnow()
        with self.db.write_lock, self.db.sessions() as session, session.begin():
            row = session.scalar(select(ApprovalRow).where(ApprovalRow.id == approval_id).with_for_update())
            if row is None:
                raise ApprovalNotFound(f"no approval request {approval_id!r}")
            request = _public(row)
            refused = may_decide(request, by, role)
            if refused:
                raise ApprovalRefused(refused)
            merged = {step: {**fields, **texts.get(step, {})} for step, fields in request["texts"].items()}
            mine = [d for d in request["decisions"] if d["by"].lower() == by.lower()]
            if mine and mine[-1]["decision"] == decision and (decision == "reject" or merged == request["texts"]):
                return request, False  # the same decision again (a double click): nothing changes
            if row.status != "pending":
                raise ApprovalConflict(f"this request is already {row.status}" + (
                    f" (by {request['decisions'][-1]['by']})" if request["decisions"] else "") + "; nothing changed")
            edited = sorted(f"{step}.{key}" for step, fields in merged.items() for key, text in fields.items()
                            if request["texts"].get(step, {}).get(key) != text)
            entry = {"by": by, "decision": decision, "at": now.isoformat(), "edited": edited}
            if reason:
                entry["reason"] = reason
            if note:
                entry["note"] = note
            row.decisions = [*request["decisions"], entry]
            row.texts = merged
            if previews is not None and edited:
                row.previews = previews
            if decision == "reject":
                row.status, row.reason, row.decided_at = "rejected", reason, now
            else:
                approved = {d["by"].lower() for d in row.decisions if d["decision"] == "approve"}
                if row.mode == "any" or all(e.lower() in approved for e in request["approvers"]):
                    row.status, row.decided_at = "approved", now
            session.flush()
            return _public(row), True

    def close(self, approval_id: str, status: str, reason: str | None = None) -> bool:
        """End a pending request as `expired` or `cancelled`; False when it was no longer pending."""
        with self.db.writing() as conn:
            table = ApprovalRow.__table__
            return conn.execute(update(table).where(table.c.id == approval_id, table.c.status == "pending")
                                .values(status=status, reason=reason, decided_at=utcnow())).rowcount == 1

    def close_run(self, run_id: str) -> None:
        """Cancel the pending requests of a run that was cancelled."""
        with self.db.writing() as conn:
            table = ApprovalRow.__table__
            conn.execute(update(table).where(table.c.run_id == run_id, table.c.status == "pending")
                         .values(status="cancelled", decided_at=utcnow()))

    def excluded(self, run_id: str) -> list[str]:
        """Who may not approve a run: who started it, and who wrote the recipe version it runs."""
        from .store.models import RecipeVersionRow, RunRow

        with self.db.session() as session:
            run = session.get(RunRow, run_id)
            if run is None:
                return []
            found = [run.started_by]
            if run.recipe_version is not None:
                found.append(session.scalar(select(RecipeVersionRow.author).where(
                    RecipeVersionRow.recipe_name == run.recipe_name, RecipeVersionRow.version == run.recipe_version)))
            return [who for who in found if who]

    def reminded(self, approval_id: str) -> None:
        """Note that the reminder went out."""
        with self.db.writing() as conn:
            table = ApprovalRow.__table__
            conn.execute(update(table).where(table.c.id == approval_id).values(reminded=True))
