"""Documents as media: any plugin reads a document by its handle, without importing the plugin that stores it.

A document handle (`DocumentHandle`: connection, path, version, SHA-256) is what a document trigger or step
gives later steps — never the bytes. A plugin that attaches a document (an image to a post, a file to an
e-mail) names it with a `DocumentRef` (a handle, or a path in Beffroi's own documents folder) and reads it with
`Documents(ctx).open(ref, max_bytes=…, field=…)`: the bytes arrive as a temporary file, removed when the `with`
ends, with their name, media type, size and SHA-256. The journal keeps the handle and the hash.

The reading is done by whichever plugin provides the `DocumentSource` service (the ecm plugin, for its
`folder` and `webdav` connection types); errors name the input field (`images[1]: the document … is larger …`).
"""
from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from .errors import ActionError


class DocumentTooLarge(ActionError):
    """A document is larger than the size cap it was read with (never retried: it will not shrink)."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class DocumentHandle(BaseModel):
    """Where a document is — its connection, path and version — never its bytes: what later steps are given."""

    model_config = ConfigDict(extra="forbid", title="Document")
    connection: str | None = Field(None, description="the ecm connection it is on (none: Beffroi's own folder)")
    path: str = Field(min_length=1, description="its path in that connection, e.g. Communiqués/budget.docx")
    etag: str | None = Field(None, title="Version", description="its version when it was seen (an ETag, or size and "
                                                                 "time of change)")
    sha256: str | None = Field(None, title="SHA-256", description="the SHA-256 of its bytes, once a step has read them")


class DocumentRef(BaseModel):
    """A document to attach: a handle from a trigger or an earlier step, or a path in Beffroi's documents folder."""

    model_config = ConfigDict(extra="forbid")
    document: DocumentHandle | None = Field(
        None, description="the document's handle, e.g. {{ trigger.document }} (or a path instead)")
    path: str | None = Field(None, min_length=1, description="the document's path in Beffroi's documents folder, "
                                                             "e.g. images/affiche.png (or a handle instead)")

    @model_validator(mode="after")
    def _one_of(self) -> DocumentRef:
        if self.document is not None and self.path is not None:
            raise PydanticCustomError("document_ref", "give either document (a handle) or path, not both")
        if self.document is None and self.path is None:
            raise PydanticCustomError("document_ref", "give the document: document (a handle) or path")
        return self

    def handle(self) -> DocumentHandle:
        """The handle this reference names (a path: in Beffroi's own documents folder, no version known)."""
        return self.document if self.document is not None else DocumentHandle(path=self.path or "")


class ImageRef(DocumentRef):
    """An image to attach, and its alt text: what it shows, for people who cannot see it."""

    alt: str = Field("", max_length=1500, description="what the image shows, for people who cannot see it "
                                                      "(required by screen-reader users; a preview warns without)")


@dataclass(frozen=True)
class OpenedDocument:
    """A document's bytes in a temporary file (removed when its `with` ends) and what they are."""

    file: Path
    name: str
    content_type: str
    size: int
    sha256: str
    handle: DocumentHandle

    def read(self) -> bytes:
        """The bytes (for a request that needs them whole; the caller capped their size when opening)."""
        return self.file.read_bytes()

    def facts(self) -> dict[str, Any]:
        """Name, media type, size, SHA-256 and handle, for an output or the outbox — never the bytes."""
        return {"name": self.name, "content_type": self.content_type, "size": self.size, "sha256": self.sha256,
                "document": self.handle.model_dump(mode="json")}


@dataclass(frozen=True)
class DocumentInfo:
    """What a preview says of a document without reading it: its name, and its size and type where known."""

    name: str
    size: int | None = None
    content_type: str | None = None


@runtime_checkable
class DocumentSource(Protocol):
    """Reads documents by their handle (the ecm plugin provides it)."""

    def open(self, handle: DocumentHandle, ctx: Any, max_bytes: int) -> AbstractContextManager[OpenedDocument]:
        """The document streamed to a temporary file, at most max_bytes; ActionError naming the document else."""

    def info(self, handle: DocumentHandle, ctx: Any) -> DocumentInfo:
        """Its name, size and type, reading no bytes (for previews); ActionError when it cannot be found."""


def name_of(handle: DocumentHandle) -> str:
    """The file name of a handle's path."""
    return posixpath.basename(handle.path.rstrip("/")) or handle.path


def guess_type(name: str) -> str:
    """The media type of a file name (application/octet-stream when unknown)."""
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def size_text(size: int) -> str:
    """A size for a person: 850 bytes, 12.3 KB, 4.5 MB."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.1f} MB"


class Documents:
    """The documents a step attaches, read through the `DocumentSource` service: `Documents(ctx).open(ref, …)`."""

    def __init__(self, ctx: Any):
        self.ctx = ctx

    def _source(self, field: str) -> DocumentSource:
        try:
            return self.ctx.services.get(DocumentSource)
        except ActionError as exc:
            raise ActionError(f"{field}: {exc}", retryable=False) from None

    @contextmanager
    def open(self, ref: DocumentRef | DocumentHandle, *, max_bytes: int, field: str) -> Iterator[OpenedDocument]:
        """The document as a temporary file, at most max_bytes; errors start with `field` (e.g. `images[0]`)."""
        handle = ref.handle() if isinstance(ref, DocumentRef) else ref
        with ExitStack() as stack:
            try:
                opened = stack.enter_context(self._source(field).open(handle, self.ctx, max_bytes))
            except DocumentTooLarge as exc:
                raise DocumentTooLarge(f"{field}: {exc}") from None
            except ActionError as exc:
                raise ActionError(f"{field}: {exc}", retryable=exc.retryable) from None
            yield opened

    @contextmanager
    def open_all(self, refs: Sequence[DocumentRef], *, max_bytes: int, total_bytes: int | None = None,
                 field: str) -> Iterator[list[OpenedDocument]]:
        """Several documents (`field[0]`, `field[1]`…), each at most max_bytes and together at most total_bytes."""
        with ExitStack() as stack:
            opened: list[OpenedDocument] = []
            for index, ref in enumerate(refs):
                left = max_bytes if total_bytes is None else min(max_bytes, total_bytes - sum(o.size for o in opened))
                if left <= 0:
                    raise ActionError(f"{field}: the files before {field}[{index}] already reach the "
                                      f"{size_text(total_bytes or 0)} allowed in all", retryable=False)
                try:
                    opened.append(stack.enter_context(self.open(ref, max_bytes=left, field=f"{field}[{index}]")))
                except DocumentTooLarge as exc:
                    if left < max_bytes:  # the cap that was passed is what is left of the total
                        raise DocumentTooLarge(f"{exc} (what is left of the {size_text(total_bytes or 0)} allowed "
                                               f"for all of {field} together)") from None
                    raise
            yield opened

    def info(self, ref: DocumentRef | DocumentHandle, *, field: str) -> DocumentInfo:
        """Name, size and type without reading (previews); ActionError starting with `field` when not found."""
        handle = ref.handle() if isinstance(ref, DocumentRef) else ref
        try:
            return self._source(field).info(handle, self.ctx)
        except ActionError as exc:
            raise ActionError(f"{field}: {exc}", retryable=exc.retryable) from None

    @staticmethod
    def require_alt(refs: Sequence[DocumentRef], *, field: str | Sequence[str]) -> None:
        """ActionError (not retried) naming each image without alt text: nothing goes out without one."""
        fields = _fields(field, len(refs))
        missing = [where for ref, where in zip(refs, fields) if isinstance(ref, ImageRef) and not ref.alt.strip()]
        if missing:
            raise ActionError(f"{', '.join(missing)}: alt text required — describe what the image shows, for "
                              "people who cannot see it", retryable=False)

    def preview(self, refs: Sequence[DocumentRef], *, field: str | Sequence[str]) -> tuple[list[dict[str, Any]],
                                                                                           list[str]]:
        """For a dry run: each document's name, size (None when unknown) and alt text, and what is wrong with them.

        `field` names the list (`images`: `images[0]`, `images[1]`…) or gives each document's own field. A document
        that cannot be found is a warning, not a failure: a sample event names none that exists.
        """
        items: list[dict[str, Any]] = []
        warnings: list[str] = []
        for ref, where in zip(refs, _fields(field, len(refs))):
            handle = ref.handle()
            try:
                info = self.info(ref, field=where)
            except ActionError as exc:
                warnings.append(str(exc))
                info = DocumentInfo(name_of(handle), None, None)
            item: dict[str, Any] = {"name": info.name, "size": info.size,
                                    "content_type": info.content_type or guess_type(info.name),
                                    "document": handle.model_dump(mode="json")}
            if isinstance(ref, ImageRef):
                item["alt"] = ref.alt
                if not ref.alt.strip():
                    warnings.append(f"{where}: alt text required — describe what the image {info.name} shows, "
                                    "for people who cannot see it")
            items.append(item)
        return items, warnings


def _fields(field: str | Sequence[str], count: int) -> list[str]:
    """The field of each of `count` documents: a list's items (`images[0]`…), or the fields given."""
    return [f"{field}[{i}]" for i in range(count)] if isinstance(field, str) else list(field)
