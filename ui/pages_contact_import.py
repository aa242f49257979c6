"""CSV import of contacts in the UI: upload a file, check the preview of its columns and choose where each goes,
confirm, follow the lines done, read the report (created, updated, skipped with line and reason).

Works without JavaScript (the progress page has a link to look again); /static/contact-import.js follows the
progress by itself. The import is the crm plugin's (ContactBook.import_csv), recorded in the audit log by counts.
"""
from __future__ import annotations

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from beffroi import IMPORT_FIELDS, ContactError

from .contact_imports import ImportJob, Upload, imports_of
from .contacts_view import actor, book, problem
from .routes import FieldProblem, _form
from .web import N_, Refused, Visitor, check_form, redirect, render, role

router = APIRouter(include_in_schema=False)
UPLOAD_LIMIT = 20 * 1024 * 1024
CHECK_WAIT = 60.0  # seconds the confirmation waits for the file to pass its checks before showing the progress
FIELD_NAMES = {"email": N_("E-mail address"), "first_name": N_("First name"), "last_name": N_("Last name"),
               "organisation": N_("Organisation"), "tags": N_("Tags"), "consent": N_("Consent (yes or no)"),
               "consent_source": N_("Source of the consent"), "consent_text": N_("Text of the consent"),
               "list": N_("List"), "custom": N_("Other field (kept under the column's name)"),
               "": N_("Leave this column out")}
TOO_LARGE = N_("The file is larger than 20 MB: split it into smaller files.")
FILE_REFUSED = N_("This file cannot be imported: %(reason)s")


def _refused_file(seen: Visitor, exc: ContactError) -> FieldProblem:
    return FieldProblem("file", seen.gettext(FILE_REFUSED, reason=str(exc)))


@router.get("/contacts/import")
def upload_page(seen: Visitor = Depends(role("editor"))):
    """The form to choose a CSV file."""
    return render(seen, "contacts_import.html")


async def _upload(request: Request, seen: Visitor) -> tuple[bytes | None, str | None]:
    """The file sent (None when there is none), once the form's CSRF token is checked."""
    form = await request.form(max_files=1, max_fields=10)
    check_form(seen, form)
    sent = form.get("file")
    if not isinstance(sent, UploadFile) or not sent.filename:
        return None, None
    return await sent.read(UPLOAD_LIMIT + 1), sent.filename


@router.post("/contacts/import")
async def upload(request: Request, seen: Visitor = Depends(role("editor"))):
    """Read the file's columns; a file we cannot read is refused beside the field, otherwise on to its preview."""
    problems: list[FieldProblem] = []
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > UPLOAD_LIMIT + 65536:  # refused before reading it
        problems.append(FieldProblem("file", seen.gettext(TOO_LARGE)))
        return render(seen, "contacts_import.html", 413, errors=problems)
    data, filename = await _upload(request, seen)
    if data is None:
        problems.append(FieldProblem("file", seen.gettext("Choose a CSV file to import.")))
    elif len(data) > UPLOAD_LIMIT:
        problems.append(FieldProblem("file", seen.gettext(TOO_LARGE)))
    else:
        try:
            preview = await run_in_threadpool(book(seen).preview_import, data)
        except ContactError as exc:
            problems.append(_refused_file(seen, exc))
    if problems or data is None:
        return render(seen, "contacts_import.html", 400, errors=problems)
    upload_id = imports_of(request.app).keep(actor(seen), data, filename, preview)
    return redirect(seen, f"/contacts/import/{upload_id}")


def _kept(seen: Visitor, upload_id: str) -> Upload:
    found = imports_of(seen.request.app).upload(upload_id, actor(seen))
    if found is None:
        raise Refused(404, seen.gettext("This file is no longer here: it was imported already, or more than an hour "
                                        "ago. Upload it again."))
    return found


def _preview_page(seen: Visitor, upload: Upload, status: int = 200, errors=(), values=None):
    columns = upload.preview["columns"]
    values = values or {"mapping": {str(c["index"]): c["field"] for c in columns}, "list": "", "consent_source": "",
                        "consent_text": ""}
    return render(seen, "contacts_import_preview.html", status, upload=upload, columns=columns, errors=list(errors),
                  values=values, choices=[*IMPORT_FIELDS, "custom", ""], field_names=FIELD_NAMES,
                  rows=format_decimal(upload.preview["rows"], locale=seen.language), count=upload.preview["rows"])


@router.get("/contacts/import/{upload_id}")
def preview_page(upload_id: str, seen: Visitor = Depends(role("editor"))):
    """The file's columns, where each goes (changeable) and their first values; the options of the import."""
    return _preview_page(seen, _kept(seen, upload_id))


def _mapping_problems(seen: Visitor, mapping: dict[str, str]) -> list[FieldProblem]:
    emails = [k for k, v in mapping.items() if v == "email"]
    problems = []
    if not emails:
        problems.append(FieldProblem("map-0", seen.gettext("Choose the column that holds the e-mail addresses.")))
    for key in sorted({v for v in mapping.values() if v not in ("", "custom")}, key=IMPORT_FIELDS.index):
        chosen = sorted((k for k, v in mapping.items() if v == key), key=int)
        if len(chosen) > 1:
            problems.append(FieldProblem(f"map-{chosen[1]}", seen.gettext(
                "Two columns go to “%(field)s”: choose one column for each field.",
                field=seen.gettext(FIELD_NAMES[key]))))
    return problems


def _finished(seen: Visitor, job: ImportJob) -> None:
    """The audit log's entry of an import that ran: counts only."""
    if job.report is not None:
        report = job.report
        seen.engine.audit.record(job.owner, "contact.imported", "import", job.id, {
            "rows": report["rows"], "created": report["imported"], "updated": report["updated"],
            "skipped": len(report["rejected"])})


@router.post("/contacts/import/{upload_id}")
async def confirm(upload_id: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Start the import with the mapping chosen; a mapping or an option refused is shown beside its field."""
    form = await _form(request, seen)
    kept = _kept(seen, upload_id)
    columns = kept.preview["columns"]
    choices = {*IMPORT_FIELDS, "custom", ""}
    mapping = {str(c["index"]): form.get(f"map-{c['index']}", c["field"]) for c in columns}
    mapping = {k: (v if v in choices else "") for k, v in mapping.items()}
    options = {k: form.get(k, "").strip() for k in ("list", "consent_source", "consent_text")}
    values = {"mapping": mapping, **options}
    problems = _mapping_problems(seen, mapping)
    if problems:
        return await run_in_threadpool(lambda: _preview_page(seen, kept, 400, problems, values))
    contacts, db = book(seen), seen.engine.db

    def work(data: bytes, progress):
        return contacts.import_csv(db, data, mapping=mapping, list_name=options["list"] or None,
                                   consent_source=options["consent_source"] or None,
                                   consent_text=options["consent_text"] or None, filename=kept.filename,
                                   progress=progress)

    job = imports_of(request.app).start(kept, work, lambda ended: _finished(seen, ended))
    await run_in_threadpool(job.checked.wait, CHECK_WAIT)
    refusal = job.error
    if isinstance(refusal, ContactError) and refusal.kind != "file" and job.done == 0:
        imports_of(request.app).uploads[kept.id] = kept  # refused before any row was read: try again
        imports_of(request.app).jobs.pop(job.id, None)
        return await run_in_threadpool(lambda: _preview_page(seen, kept, 400, [problem(seen, refusal, "list")],
                                                             values))
    return redirect(seen, f"/contacts/import/{job.id}/progress")


def _job(seen: Visitor, job_id: str) -> ImportJob:
    found = imports_of(seen.request.app).job(job_id, actor(seen))
    if found is None:
        raise Refused(404, seen.gettext("There is no import with this number (imports are kept for an hour)."))
    return found


@router.get("/contacts/import/{job_id}/progress")
def progress_page(job_id: str, seen: Visitor = Depends(role("editor"))):
    """The lines done while the import runs; its report once it has ended."""
    job = _job(seen, job_id)
    number = lambda n: format_decimal(n, locale=seen.language)  # noqa: E731
    if not job.finished.is_set():
        return render(seen, "contacts_import_progress.html", job=job, number=number)
    refused = None
    if job.error is not None:
        refused = (seen.gettext(FILE_REFUSED, reason=str(job.error)) if isinstance(job.error, ContactError) else
                   seen.gettext("The import stopped on an error of the database. The rows stored before it are kept; "
                                "import the file again to finish (rows already imported are updated, not doubled)."))
    return render(seen, "contacts_import_report.html", job=job, report=job.report, refused=refused, number=number)


@router.get("/contacts/import/{job_id}/status")
def progress_status(job_id: str, seen: Visitor = Depends(role("editor"))):
    """The lines done, as JSON, for the progress page's script."""
    job = _job(seen, job_id)
    return JSONResponse({"done": job.done, "total": job.total, "finished": job.finished.is_set()},
                        headers={"Cache-Control": "no-store"})
