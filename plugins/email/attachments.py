"""Attachments: documents (handles or paths) read as temporary files within a total size cap, added to the MIME
message; previews and the outbox list their names and sizes, the journal their handles and hashes — never bytes."""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from email.message import EmailMessage
from typing import Any

from pydantic import BaseModel, Field

from beffroi import DocumentRef, Documents, OpenedDocument

MAX_TOTAL = 15_000_000  # bytes for all attachments together: about 20 MB once encoded, what most servers take
MAX_FILES = 10


def attachments_field() -> Any:
    """The `attachments` input field of email.send and email.send_campaign."""
    return Field(default_factory=list, max_length=MAX_FILES,
                 description="documents to attach (up to 10, 15 MB in all): each a handle ({{ trigger.document }}) "
                             "or a path in Beffroi's documents folder")


class AttachmentFacts(BaseModel):
    """An attached document as the journal keeps it: name, type, size, hash and handle."""

    name: str = Field(description="its file name")
    content_type: str = Field(description="its media type, e.g. application/pdf")
    size: int = Field(description="its size in bytes")
    sha256: str = Field(description="the SHA-256 of its bytes")
    document: dict[str, Any] = Field(description="the document's handle")


class Attached:
    """The step's attachments, read once (each a temporary file until the step ends) and their bytes kept for the
    messages of a campaign."""

    def __init__(self, ctx: Any, refs: Sequence[DocumentRef], stack: ExitStack):
        self.documents: list[OpenedDocument] = []
        if refs:
            self.documents = stack.enter_context(Documents(ctx).open_all(
                refs, max_bytes=MAX_TOTAL, total_bytes=MAX_TOTAL, field="attachments"))
        self._data = [document.read() for document in self.documents]

    def add_to(self, message: EmailMessage) -> EmailMessage:
        """The message with every attachment added (multipart/mixed)."""
        for document, data in zip(self.documents, self._data):
            maintype, _, subtype = document.content_type.partition("/")
            message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                                   filename=document.name)
        return message

    def facts(self) -> list[dict[str, Any]]:
        """What the journal keeps of them."""
        return [AttachmentFacts.model_validate(document.facts()).model_dump() for document in self.documents]


def preview(ctx: Any, refs: Sequence[DocumentRef]) -> tuple[list[dict[str, Any]], list[str]]:
    """For a dry run: each attachment's name and size (None when unknown), and what is wrong (too large in all,
    not found); nothing is read."""
    items, warnings = Documents(ctx).preview(refs, field="attachments")
    total = sum(item["size"] or 0 for item in items)
    if total > MAX_TOTAL:
        warnings.append(f"attachments: {total / 1e6:.1f} MB in all, over the {MAX_TOTAL / 1e6:g} MB an e-mail may "
                        "carry")
    return items, warnings


def placeholders(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A preview's `attachments` output: what the run would give, but no hash (nothing was read)."""
    return [AttachmentFacts(name=item["name"], content_type=item["content_type"], size=item["size"] or 0,
                            sha256="", document=item["document"]).model_dump() for item in items]


def listed(message: EmailMessage) -> list[dict[str, Any]]:
    """The attachments of a built message: name, type and size (for previews and the outbox)."""
    found = []
    for part in message.iter_attachments():
        if not isinstance(part, EmailMessage):
            continue
        content = part.get_payload(decode=True)
        found.append({"name": part.get_filename(), "content_type": part.get_content_type(),
                      "size": len(content) if isinstance(content, bytes) else 0})
    return found
