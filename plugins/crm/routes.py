"""HTTP API of the contact base under /api/crm: contacts (CRUD, search, CSV import) and lists.

A contact's personal data (addresses, names, organisation, custom fields, consent, lists) needs an editor
token, to read as to write; a viewer token sees the lists with their member counts only. Errors are problem
details: 404 unknown contact or list, 409 email address taken, 422 bad value (naming the field), 413 file
too large, 415 unreadable upload.
"""
from __future__ import annotations

from email import policy
from email.parser import BytesParser
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from beffroi import Editor, EngineDep, FieldError, JSONRoute, Offset, Viewer, problem_responses

from . import contacts, csv_import, lists
from .actions import Email, Tags
from .book import BuiltinBook
from .outputs import AddedOutput, ContactOutput, RemovedOutput
from .records import CrmError, Duplicate, NotFound

UPLOAD_LIMIT = 20 * 1024 * 1024
CSV_TYPES = {"text/csv", "text/plain", "application/csv", "application/octet-stream", "application/vnd.ms-excel", ""}
router = APIRouter(prefix="/api/crm", tags=["crm"], route_class=JSONRoute, responses=problem_responses(401, 403))
BODY_ERRORS = problem_responses(400, 415, 422)
BOOK = BuiltinBook()
MEMBER_BODY = Body(None, examples=[{"email": "someone@example.org"}])


class ContactCreate(BaseModel):
    """A new contact (PUT takes the same fields and replaces every one of them)."""

    model_config = ConfigDict(extra="forbid")
    email: Email = Field(description="email address (trimmed and lowercased); unique")
    first_name: str | None = Field(None, max_length=200)
    last_name: str | None = Field(None, max_length=200)
    organisation: str | None = Field(None, max_length=300)
    tags: Tags = Field([], description="tags (a list, or text separated by ; , or |)")
    consent: bool = Field(False, description="the person agreed to receive messages (recorded with date and source)")
    consent_source: str | None = Field(None, max_length=200, description="where consent was given")
    consent_text: str | None = Field(None, max_length=5000, description="the text the person agreed to (kept in the "
                                                                        "consent history when consent changes)")
    custom: dict[str, Any] = Field({}, description="other fields")


class ContactPatch(BaseModel):
    """The fields to change; tags and custom given here replace the stored ones."""

    model_config = ConfigDict(extra="forbid")
    email: Email | None = None
    first_name: str | None = Field(None, max_length=200)
    last_name: str | None = Field(None, max_length=200)
    organisation: str | None = Field(None, max_length=300)
    tags: Tags = None
    consent: bool | None = None
    consent_source: str | None = Field(None, max_length=200)
    consent_text: str | None = Field(None, max_length=5000)
    custom: dict[str, Any] | None = None


class ListCreate(BaseModel):
    """A new mailing list."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="lowercase letters, digits, - _ . (e.g. press)")
    title: str | None = Field(None, description="a human title, e.g. Journalists")


class MemberAdd(BaseModel):
    """A contact to subscribe, by email address or id."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(description="the contact's email address (or its id)")
    source: str | None = Field(None, max_length=200, description="where the subscription comes from")
    resubscribe: bool = Field(False, description="subscribe again someone who unsubscribed (their own request only)")


class Membership(BaseModel):
    """A contact's membership of a list, current or past."""

    list: Annotated[str, Field(description="the list's name")]  # Annotated: binds no class attribute `list`
    subscribed: bool
    source: str | None = Field(description="where the subscription came from")
    subscribed_at: str | None = Field(description="ISO 8601")
    unsubscribed_at: str | None = Field(description="ISO 8601")


class Contact(BaseModel):
    """A contact of the built-in base."""

    id: str
    email: str
    first_name: str | None
    last_name: str | None
    organisation: str | None
    tags: list[str]
    consent: bool
    consent_at: str | None = Field(description="when consent was recorded (ISO 8601)")
    consent_source: str | None
    custom: dict[str, Any]
    created_at: str | None = Field(description="ISO 8601")
    updated_at: str | None = Field(description="ISO 8601")


class Consent(BaseModel):
    """One change of a contact's consent."""

    given: bool = Field(description="true: consent given; false: withdrawn")
    at: str | None = Field(description="ISO 8601")
    source: str | None = Field(description="where it was given or withdrawn")
    text: str | None = Field(description="the text the person agreed to, when known")


class ContactWithLists(Contact):
    lists: list[Membership] = Field(description="every list the contact is or was on")
    consents: list[Consent] = Field(description="the consent history, oldest first")


class Delivery(BaseModel):
    """A message or change recorded for the contact in the delivery journal."""

    idempotency_key: str
    target: str
    status: str
    created_at: str | None = Field(description="ISO 8601")
    result: Any
    error: str | None


class ContactExport(BaseModel):
    """Everything kept about one contact (GDPR right of access)."""

    exported_at: str = Field(description="ISO 8601")
    contact: Contact
    lists: list[Membership]
    consents: list[Consent]
    deliveries: list[Delivery] = Field(description="messages sent to them and changes made for them by recipes")


class ContactPage(BaseModel):
    items: list[Contact]
    total: int
    limit: int
    offset: int


class Members(BaseModel):
    subscribed: int
    unsubscribed: int
    recipients: int = Field(description="subscribed with consent: who a campaign reaches")


class MailingList(BaseModel):
    """A mailing list with its member counts."""

    name: str
    title: str | None
    created_at: str | None = Field(description="ISO 8601")
    members: Members


class RejectedRow(BaseModel):
    line: int = Field(description="its line in the file (the header is line 1)")
    email: str | None
    reason: str


class ImportReport(BaseModel):
    """What a CSV import did."""

    imported: int = Field(description="contacts created")
    updated: int = Field(description="contacts that existed, updated")
    rejected: list[RejectedRow] = Field(description="rows skipped, by line")
    rows: int = Field(description="data rows in the file")
    encoding: str
    delimiter: str
    custom_columns: list[str] = Field(description="columns kept as custom fields")


class MemberRef(BaseModel):
    """Which contact to take off a list (other keys are ignored)."""

    email: str | None = Field(None, description="the contact's email address (or its id)")


def _http(exc: CrmError) -> HTTPException:
    """The HTTP error for a refusal of the contact base."""
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Duplicate) else 422
    field = f"{exc.field}: " if exc.field and status == 422 else ""
    return HTTPException(status, f"{field}{exc}")


def _call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except CrmError as exc:
        raise _http(exc) from None


@router.get("/contacts", response_model=ContactPage, responses=problem_responses(422))
def list_contacts(engine: EngineDep, _: Editor, q: str | None = Query(None, description="words in email, names, "
                                                                                       "organisation"),
                  list_name: str | None = Query(None, alias="list", description="subscribed to this list"),
                  tag: str | None = None, consent: bool | None = None,
                  limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> dict:
    """Contacts by email address, searched and filtered, with the total count."""
    items, total = _call(contacts.search_contacts, engine.db, q=q, list_name=list_name, tag=tag, consent=consent,
                         limit=limit, offset=offset)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.post("/contacts", status_code=201, response_model=ContactOutput,
             responses={**BODY_ERRORS, **problem_responses(409)})
def create_contact(body: ContactCreate, engine: EngineDep, _: Editor) -> dict:
    """Add a contact (409 when the email address is taken)."""
    fields = body.model_dump(exclude={"email"})
    if fields["consent"] and not fields["consent_source"]:
        fields["consent_source"] = "API"
    return _call(contacts.create_contact, engine.db, body.email, **fields)


def _found(engine, contact_id: str) -> dict:
    found = BOOK.contact(engine.db, contact_id)
    if found is None:
        raise HTTPException(404, f"no contact with id {contact_id!r}")
    return found


@router.get("/contacts/{contact_id}", response_model=ContactWithLists, responses=problem_responses(404))
def get_contact(contact_id: str, engine: EngineDep, _: Editor) -> dict:
    """One contact with its lists (subscribed or not, with dates and sources)."""
    return _found(engine, contact_id)


@router.put("/contacts/{contact_id}", response_model=ContactWithLists,
            responses={**BODY_ERRORS, **problem_responses(404, 409)})
def replace_contact(contact_id: str, body: ContactCreate, engine: EngineDep, token: Editor) -> dict:
    """Replace every field of a contact (consent keeps its date unless its value changes)."""
    _audit_change(engine, token, contact_id, _call(contacts.update_contact, engine.db, contact_id, body.model_dump()))
    return _found(engine, contact_id)


def _audit_change(engine, token, contact_id: str, saved: dict) -> None:
    """The audit log's entry of an edit: the names of the fields changed, never their values."""
    if saved["changed"]:
        engine.audit.record(f"token:{token.name}", "contact.changed", "contact", contact_id,
                            {"fields": saved["changed"]})


@router.patch("/contacts/{contact_id}", response_model=ContactWithLists,
              responses={**BODY_ERRORS, **problem_responses(404, 409)})
def patch_contact(contact_id: str, body: ContactPatch, engine: EngineDep, token: Editor) -> dict:
    """Change some fields of a contact."""
    changes = body.model_dump(exclude_unset=True)
    if changes.get("email", "") is None:
        raise HTTPException(422, "email: a contact keeps an email address")
    _audit_change(engine, token, contact_id, _call(contacts.update_contact, engine.db, contact_id, changes))
    return _found(engine, contact_id)


@router.delete("/contacts/{contact_id}", status_code=204, responses=problem_responses(404))
def delete_contact(contact_id: str, engine: EngineDep, token: Editor) -> Response:
    """Erase a contact and their personal data (GDPR erasure): the contact, their consent history and list
    memberships; the delivery journal keeps its rows (campaign counts stay right) without their address or data.
    The audit log records `contact.erased` with the contact's id only."""
    if not BOOK.erase(engine.db, contact_id):
        raise HTTPException(404, f"no contact with id {contact_id!r}")
    engine.audit.record(f"token:{token.name}", "contact.erased", "contact", contact_id, {})
    return Response(status_code=204)


@router.get("/contacts/{contact_id}/export", response_model=ContactExport, responses=problem_responses(404))
def export_contact(contact_id: str, engine: EngineDep, token: Editor) -> dict:
    """Everything kept about one contact (GDPR access): the contact, their lists, consent history and deliveries."""
    found = BOOK.export(engine.db, contact_id)
    if found is None:
        raise HTTPException(404, f"no contact with id {contact_id!r}")
    engine.audit.record(f"token:{token.name}", "contact.exported", "contact", contact_id, {})
    return found


async def _read_body(request: Request) -> bytes:
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > UPLOAD_LIMIT:
        raise HTTPException(413, f"the file is larger than {UPLOAD_LIMIT // 2**20} MB; split it")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > UPLOAD_LIMIT:
            raise HTTPException(413, f"the file is larger than {UPLOAD_LIMIT // 2**20} MB; split it")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_upload(content_type: str, body: bytes) -> tuple[bytes, str | None, dict[str, str]]:
    """(file bytes, file name, other form fields) from a multipart form (field `file`) or a raw CSV body."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in CSV_TYPES:
        return body, None, {}
    if kind != "multipart/form-data":
        raise HTTPException(415, f"send the CSV as multipart/form-data (field 'file') or as a text/csv body, "
                                 f"not {kind}")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body)
    upload, fields = None, {}
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):  # None for a nested multipart
            payload = b""
        if upload is None and (filename is not None or name == "file"):
            upload = (payload, str(filename).encode("utf-8", "replace").decode() if filename else None)
        elif name:
            fields[str(name)] = payload.decode("utf-8", "replace").strip()
    if upload is None:
        raise HTTPException(422, "file: the form has no file; send the CSV in a field named 'file'")
    return upload[0], upload[1], fields


@router.post("/contacts/import", response_model=ImportReport, responses=problem_responses(404, 413, 415, 422),
             openapi_extra={"requestBody": {"content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}, "list": {"type": "string"},
        "consent_source": {"type": "string"}}}}}}})
async def import_contacts(request: Request, engine: EngineDep, token: Editor,
                          list_name: str | None = Query(None, alias="list", description="add every row to this list"),
                          consent_source: str | None = Query(None, description="source of consent given in the file")
                          ) -> dict:
    """Import a CSV file (header row; email required): a report of rows imported, updated and skipped (line, why).

    Send it as multipart/form-data (field `file`; optional fields `list`, `consent_source`) or as the raw
    body (text/csv). UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252 text; separated by , ; or tab.
    A bad row is skipped and reported with its line; the others are imported. A file refused as a whole
    stores nothing: 415 not readable text, 413 over 20 MB or 100,000 rows, 422 empty, header only, no
    email column, or a column name that looks like a typo of a known one.
    """
    data, filename, form = parse_upload(request.headers.get("content-type", ""), await _read_body(request))
    try:
        report = await run_in_threadpool(csv_import.import_csv, engine.db, data,
                                         list_name=list_name or form.get("list") or None,
                                         consent_source=consent_source or form.get("consent_source") or None,
                                         filename=filename)
        engine.audit.record(f"token:{token.name}", "contact.imported", "import", filename or "body", {
            "rows": report["rows"], "created": report["imported"], "updated": report["updated"],
            "skipped": len(report["rejected"])})
        return report
    except csv_import.BadFile as exc:
        raise FieldError("file", str(exc), exc.status) from None
    except CrmError as exc:
        raise _http(exc) from None


@router.get("/lists", response_model=list[MailingList])
def get_lists(engine: EngineDep, _: Viewer) -> list[dict]:
    """Every list with its member counts (subscribed, unsubscribed, recipients with consent)."""
    return lists.all_lists(engine.db)


@router.post("/lists", status_code=201, response_model=MailingList,
             responses={**BODY_ERRORS, **problem_responses(409)})
def create_list(body: ListCreate, engine: EngineDep, _: Editor) -> dict:
    """Create a list (409 when the name is taken)."""
    return _call(lists.create_list, engine.db, body.name, body.title)


@router.post("/lists/{name}/members", response_model=AddedOutput,
             responses={**BODY_ERRORS, **problem_responses(404)})
def add_member(name: str, body: MemberAdd, engine: EngineDep, _: Editor) -> dict:
    """Subscribe a contact (the list is created when missing); `status` says what happened."""
    return _call(lists.add_to_list, engine.db, body.email, name, body.source or "API", resubscribe=body.resubscribe)


@router.delete("/lists/{name}/members", response_model=RemovedOutput,
               responses={**BODY_ERRORS, **problem_responses(404)})
def remove_member(name: str, engine: EngineDep, _: Editor,
                  email: str | None = Query(None, description="the contact's email address (or id)"),
                  body: MemberRef | None = MEMBER_BODY) -> dict:
    """Take a contact off a list (`?email=` or a JSON body {"email": …}); an unsubscription stays recorded."""
    who = email or (body.email if body else None)
    if not who:
        raise HTTPException(422, "email: say which contact to remove (?email=…)")
    return _call(lists.remove_from_list, engine.db, who, name)
