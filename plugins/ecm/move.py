"""`ecm.move`: move a document into another folder (e.g. "Publié"), at most once per step.

An existing document at the target is never replaced unless overwrite is chosen (`Overwrite: F` on WebDAV); the
target folder is created when missing (MKCOL). The delivery journal keeps the result of a move; an attempt that
died after moving left a `pending` mark, and the next one, finding the source gone and the target there, adopts it.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from beffroi import ActionError, ActionSpec, delivered, delivery_pending, record_delivery

from .documents import DocumentHandle, DocumentStore, NotFound, clean_path, join, split
from .handles import DocumentRef, target, warnings

PURPOSE = "ecm.move"


class MoveInput(DocumentRef):
    """A document to move, where to, and under which name."""

    to_folder: str = Field(description="the folder to move it into, e.g. Publié (created when missing; empty: the "
                                       "connection's own folder)")
    new_name: str | None = Field(None, min_length=1, description="a new file name (otherwise it keeps its name)")
    overwrite: bool = Field(False, description="replace a document of the same name already in that folder "
                                               "(otherwise the step fails rather than replace it)")


class MovedDocument(BaseModel):
    """A document after its move."""

    document: DocumentHandle = Field(description="its handle at its new place, for later steps")
    path: str = Field(description="its new path, e.g. Publié/budget.docx")
    from_path: str = Field(description="where it was before")


def _destination(payload: MoveInput, handle: DocumentHandle) -> str:
    name = payload.new_name or split(handle.path)[1]
    if "/" in name or "\\" in name:
        raise ActionError(f"the new name {name!r} must be a file name, without a folder", retryable=False)
    destination = join(clean_path(payload.to_folder, what="folder"), name)
    if destination == handle.path:
        raise ActionError(f"the document {handle.path!r} is already there", retryable=False)
    return destination


def _exists(store: DocumentStore, path: str) -> bool:
    try:
        return any(entry.path == path for entry in store.list(split(path)[0]))
    except NotFound:
        return False


def run(payload: MoveInput, ctx: Any) -> MovedDocument:
    """Move the document, unless this step already did (journal) or an interrupted attempt did (found moved)."""
    store, handle = target(payload, ctx, PURPOSE)
    destination = _destination(payload, handle)
    key, source = ctx.idempotency_key, f"{store.name or ''}:{handle.path}"
    recorded = delivered(ctx.db, key, source)
    if recorded is not None:
        return MovedDocument.model_validate(recorded)
    if delivery_pending(ctx.db, key, source) is None:
        record_delivery(ctx, key, source, status="pending", result={"to": destination})
        etag = store.move(handle.path, destination, payload.overwrite).etag
    else:
        try:
            etag = store.move(handle.path, destination, payload.overwrite).etag
        except NotFound:
            if not _exists(store, destination):
                raise
            etag = None  # an earlier attempt of this step moved it: adopted
    moved = MovedDocument(document=handle.model_copy(update={"path": destination, "etag": etag}),
                          path=destination, from_path=handle.path)
    record_delivery(ctx, key, source, result=moved.model_dump(mode="json"))
    return moved


def preview(payload: MoveInput, ctx: Any) -> dict[str, Any]:
    """Where the document would go; nothing is moved."""
    store, handle = target(payload, ctx, PURPOSE)
    destination = _destination(payload, handle)
    placeholder = MovedDocument(document=handle.model_copy(update={"path": destination}), path=destination,
                                from_path=handle.path)
    return {**placeholder.model_dump(mode="json"),
            "would_move": {"connection": store.name, "from": handle.path, "to": destination,
                           "overwrite": payload.overwrite}, **warnings(payload, store, PURPOSE)}


SPEC = ActionSpec(
    key="ecm.move", title="Move a document", input_model=MoveInput, output_model=MovedDocument,
    connection_type="ecm", run=run, preview=preview,
    description="Moves a document into another folder (created when missing), for example into “Publié” once it is "
                "published; a document already there is replaced only if you choose to.")
