"""`ecm.get`: read a document (within a size cap) and give its handle, size and SHA-256 — never its bytes.

The bytes stream to a temporary file that is removed at once: the journal keeps the handle and the hash, and a
later step that reads the document again through the handle is refused if its bytes are not the same any more.
"""
from __future__ import annotations

import mimetypes
from typing import Any

from pydantic import BaseModel, Field

from beffroi import ActionSpec

from .documents import DocumentHandle, split
from .handles import DocumentInput, fetched, target, warnings

PURPOSE = "ecm.get"


class DocumentFile(BaseModel):
    """A document that was read or written: its handle and what its bytes are."""

    document: DocumentHandle = Field(description="its handle (with its version and SHA-256) for later steps")
    name: str = Field(description="its file name")
    size: int = Field(description="its size in bytes (0 in a dry run: nothing was read)")
    sha256: str = Field(description="the SHA-256 of its bytes, in hexadecimal (empty in a dry run)")
    content_type: str | None = Field(None, description="its media type, e.g. application/pdf")


def run(payload: DocumentInput, ctx: Any) -> DocumentFile:
    """Stream the document to a temporary file, hash it, and forget the bytes."""
    store, handle = target(payload, ctx, PURPOSE)
    with fetched(store, handle, payload.max_bytes) as got:
        return DocumentFile(document=got.handle, name=got.name, size=got.size, sha256=got.sha256,
                            content_type=got.entry.content_type or mimetypes.guess_type(got.name)[0])


def preview(payload: DocumentInput, ctx: Any) -> dict[str, Any]:
    """The handle of the document that would be read (nothing is read: size 0, no hash)."""
    store, handle = target(payload, ctx, PURPOSE)
    name = split(handle.path)[1]
    placeholder = DocumentFile(document=handle, name=name, size=0, sha256="",
                               content_type=mimetypes.guess_type(name)[0])
    return {**placeholder.model_dump(mode="json"),
            "would_get": {"connection": store.name, "path": handle.path, "max_bytes": payload.max_bytes},
            **warnings(payload, store, PURPOSE)}


SPEC = ActionSpec(
    key="ecm.get", title="Get a document", input_model=DocumentInput, output_model=DocumentFile,
    connection_type="ecm", run=run, preview=preview,
    description="Reads a document (up to a size limit) and gives its handle, size and fingerprint (SHA-256) to the "
                "next steps; its content is never stored in the run.")
