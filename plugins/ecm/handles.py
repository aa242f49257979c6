"""Which document a step means (a handle or a path), and its bytes as a temporary file that is never journaled."""
from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from beffroi import ActionError

from .connectors import connect, mismatch, same_store
from .documents import MAX_BYTES, MAX_BYTES_LIMIT, DocumentHandle, DocumentStore, Entry, clean_path, split


class DocumentRef(BaseModel):
    """The document a step works on: a handle from an earlier step or the trigger, or a path."""

    model_config = ConfigDict(extra="forbid")
    document: DocumentHandle | None = Field(
        None, description="the document's handle, e.g. {{ trigger.document }} (or a path instead)")
    path: str | None = Field(None, min_length=1, description="the document's path in the step's connection, "
                                                             "e.g. Communiqués/budget.docx (or a handle instead)")

    @model_validator(mode="after")
    def _not_both(self) -> DocumentRef:
        # neither is checked when the step runs: a templated value ({{ trigger.document }}) is unknown before
        if self.document is not None and self.path is not None:
            raise PydanticCustomError("ecm_document", "give either document (a handle) or path, not both")
        return self


class DocumentInput(DocumentRef):
    """A document to read: a handle or a path, and the largest size accepted."""

    max_bytes: int = Field(MAX_BYTES, ge=1, le=MAX_BYTES_LIMIT,
                           description="the largest document accepted, in bytes (20 MiB unless set)")


def target(payload: DocumentRef, ctx: Any, purpose: str) -> tuple[DocumentStore, DocumentHandle]:
    """The step's store and the handle of the document it names (a path becomes a handle without a version)."""
    store = connect(ctx, purpose)
    if payload.document is None and payload.path is None:
        raise ActionError(f"{purpose} needs the document: give document (a handle) or path", retryable=False)
    if payload.document is not None:
        if not ctx.dry_run:  # a preview says it as a warning: a sample event's handle names no real connection
            same_store(payload.document, store, purpose)
        return store, payload.document
    return store, DocumentHandle(connection=store.name, path=clean_path(payload.path or "", what="path"))


def warnings(payload: Any, store: DocumentStore, purpose: str) -> dict[str, list[str]]:
    """`{"warnings": [...]}` for a preview whose handle is on another connection than the step's, else {}."""
    document = getattr(payload, "document", None)
    problem = mismatch(document, store, purpose) if document is not None else None
    return {"warnings": [problem]} if problem else {}


class _Hashing:
    """A file sink that hashes and counts what is written to it."""

    def __init__(self, file: Any):
        self.file, self.digest, self.size = file, hashlib.sha256(), 0

    def write(self, chunk: bytes) -> int:
        self.digest.update(chunk)
        self.size += len(chunk)
        return self.file.write(chunk)

    def tell(self) -> int:
        return self.size


@dataclass
class Fetched:
    """A document's bytes in a temporary file (removed when the `with` ends), what the store said, and their hash."""

    file: Path
    entry: Entry
    size: int
    sha256: str
    handle: DocumentHandle

    @property
    def name(self) -> str:
        """The document's file name."""
        return split(self.handle.path)[1]


@contextmanager
def fetched(store: DocumentStore, handle: DocumentHandle, max_bytes: int) -> Iterator[Fetched]:
    """Stream the document to a temporary file, hashing it; refuses bytes other than a handle's known hash."""
    with tempfile.TemporaryDirectory(prefix="beffroi-ecm-") as folder:
        file = Path(folder) / "document"
        with file.open("wb") as raw:
            sink = _Hashing(raw)
            entry = store.download(handle.path, sink, max_bytes)
        sha256 = sink.digest.hexdigest()
        if handle.sha256 and handle.sha256 != sha256:
            raise ActionError(f"the document {handle.path!r} changed since an earlier step read it (its bytes are not "
                              "the same any more)", retryable=False)
        current = handle.model_copy(update={"etag": entry.etag or handle.etag, "sha256": sha256})
        yield Fetched(file=file, entry=entry, size=sink.size, sha256=sha256, handle=current)
