"""`ecm.upload`: write a document — from text, or a copy of another document — at most once per step.

Unless overwrite is chosen the write is exclusive (`If-None-Match: *` on WebDAV), so an existing document is never
replaced by surprise. The delivery journal (key: the step's idempotency key; target: the connection and path) keeps
the result, so a retried or resumed step returns it; an attempt that died after writing left a `pending` mark, and
the next one that finds the document already there adopts it when its bytes are the ones it meant to write.
"""
from __future__ import annotations

import hashlib
import mimetypes
import tempfile
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from beffroi import ActionError, ActionSpec, delivered, delivery_pending, record_delivery

from .connectors import connect, same_store
from .documents import MAX_BYTES, MAX_BYTES_LIMIT, AlreadyExists, DocumentHandle, DocumentStore, clean_path, split
from .get import DocumentFile
from .handles import fetched, warnings

PURPOSE = "ecm.upload"


class UploadInput(BaseModel):
    """A document to write: where, and its content as text or as a copy of another document."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, description="where to write it, folder and file name, e.g. Publié/annonce.md")
    content: str | None = Field(None, description="its content, as text (written in UTF-8)")
    document: DocumentHandle | None = Field(None, description="or a document to copy, e.g. {{ trigger.document }}")
    content_type: str | None = Field(None, description="its media type (guessed from the file name when left out)")
    overwrite: bool = Field(False, description="replace a document already there (otherwise the step fails "
                                               "rather than replace it)")
    max_bytes: int = Field(MAX_BYTES, ge=1, le=MAX_BYTES_LIMIT,
                           description="the largest document accepted, in bytes (20 MiB unless set)")

    @model_validator(mode="after")
    def _not_both(self) -> UploadInput:
        # neither is checked when the step runs: a templated value ({{ steps.text.html }}) is unknown before
        if self.content is not None and self.document is not None:
            raise PydanticCustomError("ecm_upload", "give either content (text) or document (a handle to copy), "
                                                    "not both")
        return self


def _bytes(payload: UploadInput, store: DocumentStore) -> bytes:
    """The bytes to write: the text in UTF-8, or the copied document's (read through a temporary file)."""
    if payload.content is not None:
        data = payload.content.encode("utf-8")
    else:
        assert payload.document is not None  # _destination checked there is one
        same_store(payload.document, store, PURPOSE)
        with fetched(store, payload.document, payload.max_bytes) as got:
            data = got.file.read_bytes()
    if len(data) > payload.max_bytes:
        raise ActionError(f"the document for {payload.path!r} is {len(data)} bytes, more than the {payload.max_bytes} "
                          "allowed", retryable=False)
    return data


def _destination(payload: UploadInput) -> tuple[str, str, str | None]:
    if payload.content is None and payload.document is None:
        raise ActionError(f"{PURPOSE} needs what to write: give content (text) or document (a handle to copy)",
                          retryable=False)
    path = clean_path(payload.path)
    name = split(path)[1]
    if not name:
        raise ActionError(f"the path {payload.path!r} names no file", retryable=False)
    return path, name, payload.content_type or mimetypes.guess_type(name)[0]


def run(payload: UploadInput, ctx: Any) -> DocumentFile:
    """Write the document, unless this step already did (journal) or an interrupted attempt did (same bytes there)."""
    store = connect(ctx, PURPOSE)
    path, name, content_type = _destination(payload)
    key, target = ctx.idempotency_key, f"{store.name or ''}:{path}"
    recorded = delivered(ctx.db, key, target)
    if recorded is not None:
        return DocumentFile.model_validate(recorded)
    data = _bytes(payload, store)
    sha256 = hashlib.sha256(data).hexdigest()
    if delivery_pending(ctx.db, key, target) is None:
        record_delivery(ctx, key, target, status="pending", result={"sha256": sha256})
        etag = store.upload(path, data, content_type, payload.overwrite).etag
    else:
        try:
            etag = store.upload(path, data, content_type, payload.overwrite).etag
        except AlreadyExists:
            if _sha256_of(store, path, payload.max_bytes) != sha256:
                raise
            etag = None  # an earlier attempt of this step wrote it: adopted
    written = DocumentFile(document=DocumentHandle(connection=store.name, path=path, etag=etag, sha256=sha256),
                           name=name, size=len(data), sha256=sha256, content_type=content_type)
    record_delivery(ctx, key, target, result=written.model_dump(mode="json"))
    return written


def _sha256_of(store: DocumentStore, path: str, max_bytes: int) -> str:
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as sink:
        store.download(path, sink, max_bytes)
        sink.seek(0)
        while chunk := sink.read(1 << 16):
            digest.update(chunk)
    return digest.hexdigest()


def preview(payload: UploadInput, ctx: Any) -> dict[str, Any]:
    """The document that would be written (size and hash of a text; a copy is not read) and where; nothing sent."""
    store = connect(ctx, PURPOSE)
    path, name, content_type = _destination(payload)
    data = payload.content.encode("utf-8") if payload.content is not None else b""
    sha256 = hashlib.sha256(data).hexdigest() if payload.content is not None else ""
    placeholder = DocumentFile(document=DocumentHandle(connection=store.name, path=path, sha256=sha256 or None),
                               name=name, size=len(data), sha256=sha256, content_type=content_type)
    return {**placeholder.model_dump(mode="json"),
            "would_upload": {"connection": store.name, "path": path, "overwrite": payload.overwrite,
                             "copy_of": payload.document.path if payload.document else None, "size": len(data)},
            **warnings(payload, store, PURPOSE)}


SPEC = ActionSpec(
    key="ecm.upload", title="Upload a document", input_model=UploadInput, output_model=DocumentFile,
    connection_type="ecm", run=run, preview=preview,
    description="Writes a document (from text, or a copy of another document) into a folder; an existing document is "
                "replaced only if you choose to, and a retried step never writes it twice.")
