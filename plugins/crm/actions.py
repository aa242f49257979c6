"""Actions `crm.upsert_contact`, `crm.add_to_list`, `crm.remove_from_list` and their side-effect-free previews
(each preview gives the output its run would give, plus `would`: what the step would do).

Each run is done once per idempotency key: its result is recorded in the delivery journal in the same
transaction as the change, so a retried or resumed step returns the first answer (`created: true`
stays true) instead of redoing the work.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from beffroi import ActionError, ActionSpec, deliver_once, utcnow

from .contacts import apply_changes, upsert_in
from .lists import add_in, find_list, remove_in, resolve_contact
from .outputs import PREVIEW_ID, AddedOutput, ContactOutput, RemovedOutput
from .records import CrmError, NotFound, clean_tags, contact_dict, normalise_email, normalise_list_name, reading, write
from .tables import ContactRow, MembershipRow

Email = Annotated[str, AfterValidator(normalise_email)]
ListName = Annotated[str, AfterValidator(normalise_list_name)]
Tags = Annotated[list[str] | None, BeforeValidator(lambda v: clean_tags(v) if isinstance(v, str) else v)]


class UpsertContactInput(BaseModel):
    """A contact to create, or to update when the email address is known."""

    model_config = ConfigDict(extra="forbid")
    email: Email = Field(description="email address; the contact's key (trimmed and lowercased)")
    first_name: str | None = Field(None, max_length=200, description="first name; empty leaves the known one")
    last_name: str | None = Field(None, max_length=200, description="last name; empty leaves the known one")
    organisation: str | None = Field(None, max_length=300, description="organisation (newsroom, association…)")
    tags: Tags = Field(None, description="tags added to the contact's tags (a list, or text separated by ; , or |)")
    consent: bool | None = Field(None, description="true when the person agreed to receive messages, false when they "
                                                   "withdrew; recorded with its date and source when it changes")
    consent_source: str | None = Field(None, max_length=200,
                                       description="where the consent was given, e.g. 'website form /newsletter'")
    consent_text: str | None = Field(None, max_length=5000, description="the text the person agreed to, kept in "
                                                                        "the consent history with its date")
    custom: dict[str, Any] | None = Field(None, description="other fields, merged into the known ones "
                                                            "(a null value removes that field)")


class ListInput(BaseModel):
    """A contact and a list."""

    model_config = ConfigDict(extra="forbid")
    email: Email = Field(description="email address of a contact already in the base")
    list: ListName = Field(description="list name, e.g. press (created when missing)")


class AddToListInput(ListInput):
    """A contact to subscribe to a list."""

    source: str | None = Field(None, max_length=200, description="where the subscription comes from, e.g. 'website'")
    resubscribe: bool = Field(False, description="subscribe again a person who had unsubscribed from this list "
                                                 "(only on their own new request)")


def once(ctx, target: str, work: Callable[[Any], dict]) -> dict:
    """Run `work(session)` once per idempotency key; a retry gets the recorded result back."""
    if ctx.db is None:
        raise ActionError("the contact base is not available here (no database in the action context)",
                          retryable=False)

    def step(session):
        return deliver_once(session, ctx.idempotency_key, target, lambda: work(session))

    try:
        return write(ctx.db, step)
    except CrmError as exc:
        raise ActionError(str(exc), retryable=False) from None


def run_upsert(payload: UpsertContactInput, ctx) -> dict:
    """Create or update the contact; output: the contact with `id`, `created` and the `changed` fields."""
    fields = payload.model_dump(exclude={"email"}, exclude_none=True)
    return once(ctx, "crm.upsert_contact", lambda s: upsert_in(s, payload.email, fields))


def preview_upsert(payload: UpsertContactInput, ctx) -> dict:
    """The contact as it would be after the step, whether it would be created or updated, and each field that
    would change (nothing written)."""
    fields = {k: v for k, v in payload.model_dump(exclude={"email"}, exclude_none=True).items()
              if not (isinstance(v, str) and not v.strip())}
    now = utcnow()
    try:
        with reading(ctx.db) as session:
            row = session.execute(ContactRow.__table__.select().where(ContactRow.email == payload.email)).first()
            known = dict(row._mapping) if row is not None else None
        copy = ContactRow(**known) if known else ContactRow(id=PREVIEW_ID, email=payload.email, tags=[], custom={},
                                                            consent=False, created_at=now, updated_at=now)
        changes = apply_changes(copy, fields, merge=True, now=now)  # on a detached copy: nothing reaches the database
    except CrmError as exc:
        raise ActionError(str(exc), retryable=False) from None
    would = "create" if known is None else "update" if changes else "leave unchanged"
    return {**contact_dict(copy), "created": known is None, "changed": sorted(changes), "would": would,
            "changes": changes}


def run_add(payload: AddToListInput, ctx) -> dict:
    """Subscribe the contact; output: contact_id, email, list, status (added, already, resubscribed,
    unsubscribed = they had left and stay off), subscribed."""
    return once(ctx, f"crm.add_to_list:{payload.list}", lambda s: add_in(
        s, resolve_contact(s, payload.email), payload.list, payload.source, resubscribe=payload.resubscribe))


def _membership(ctx, payload: ListInput) -> tuple[Any, Any]:
    """(contact id or None, membership row values or None) as they are now, read only."""
    with reading(ctx.db) as session:
        try:
            contact = resolve_contact(session, payload.email)
        except NotFound:
            return None, None
        listed = find_list(session, payload.list)
        member = session.get(MembershipRow, (listed.id, contact.id)) if listed is not None else None
        return contact.id, (listed is not None, member.subscribed if member is not None else None)


def preview_add(payload: AddToListInput, ctx) -> dict:
    """What subscribing would do (nothing written)."""
    contact_id, state = _membership(ctx, payload)
    listed, subscribed = state or (False, None)
    if subscribed is None:
        status, would = "added", "add"
    elif subscribed:
        status, would = "already", "leave subscribed"
    elif payload.resubscribe:
        status, would = "resubscribed", "resubscribe"
    else:
        status, would = "unsubscribed", "leave unsubscribed (they left this list themselves)"
    answer = {"contact_id": contact_id or PREVIEW_ID, "email": payload.email, "list": payload.list, "status": status,
              "subscribed": status != "unsubscribed", "would": would, "creates_list": not listed}
    if contact_id is None:
        answer["note"] = "no such contact yet: an earlier step must create it, or the step will fail"
    return answer


def run_remove(payload: ListInput, ctx) -> dict:
    """Take the contact off the list; output: contact_id, email, list, removed."""
    return once(ctx, f"crm.remove_from_list:{payload.list}",
                lambda s: remove_in(s, resolve_contact(s, payload.email), payload.list))


def preview_remove(payload: ListInput, ctx) -> dict:
    """Whether removing would change anything (nothing written)."""
    contact_id, state = _membership(ctx, payload)
    subscribed = state[1] if state else None
    would = "remove" if subscribed else "nothing (not subscribed to this list)"
    answer = {"contact_id": contact_id or PREVIEW_ID, "email": payload.email, "list": payload.list,
              "removed": bool(subscribed), "would": would}
    if contact_id is None:
        answer["note"] = "no such contact yet: the step will fail unless an earlier step creates it"
    return answer


SPECS = [
    ActionSpec(key="crm.upsert_contact", title="Create or update a contact", input_model=UpsertContactInput,
               output_model=ContactOutput, run=run_upsert, preview=preview_upsert,
               description="Adds a person to the contact base, or updates them when the email address is known. "
                           "Consent is recorded with its date and source."),
    ActionSpec(key="crm.add_to_list", title="Add a contact to a list", input_model=AddToListInput,
               output_model=AddedOutput, run=run_add, preview=preview_add,
               description="Subscribes a contact to a mailing list (created when missing). A person who "
                           "unsubscribed stays off the list unless `resubscribe` is set."),
    ActionSpec(key="crm.remove_from_list", title="Remove a contact from a list", input_model=ListInput,
               output_model=RemovedOutput, run=run_remove, preview=preview_remove,
               description="Takes a contact off a mailing list (their own unsubscription stays recorded)."),
]
