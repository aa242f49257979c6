"""`ecm.extract_text`: the title and body (text and HTML) of a .docx, .odt, .pdf or .md document.

So a press release can prefill a post: `{{ steps.text.title }}`, `{{ steps.text.html|safe }}`. The document is read
into a temporary file (removed at once); the journal keeps the text, capped in length, and the handle.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from beffroi import ActionError, ActionSpec

from .documents import DocumentHandle, split
from .formats import MEDIA_TYPES, READERS
from .handles import DocumentInput, fetched, target, warnings

PURPOSE = "ecm.extract_text"
MAX_CHARS = 200_000  # text and HTML kept in the run, each


class ExtractedText(BaseModel):
    """A document's title and body."""

    title: str = Field(description="its title (from its properties, else its first heading or line)")
    text: str = Field(description="its body as plain text, paragraphs separated by a blank line")
    html: str = Field(description="its body as simple HTML (headings, paragraphs, lists, bold, italic, links)")
    format: Literal["docx", "odt", "pdf", "md"] = Field(description="the format it was read as")
    truncated: bool = Field(description=f"true when the text or HTML was cut at {MAX_CHARS} characters")
    document: DocumentHandle = Field(description="the document's handle (with its SHA-256), for later steps")


def format_of(name: str, content_type: str | None) -> Literal["docx", "odt", "pdf", "md"]:
    """The format by file extension, else by media type; ActionError for any other."""
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    extension = {"markdown": "md"}.get(extension, extension)
    found = extension if extension in READERS else MEDIA_TYPES.get((content_type or "").split(";")[0].strip())
    if found is None:
        raise ActionError(f"the document {name!r} is not a .docx, .odt, .pdf or .md file: its text cannot be "
                          "extracted", retryable=False)
    return found  # type: ignore[return-value]


def run(payload: DocumentInput, ctx: Any) -> ExtractedText:
    """Read the document and extract its title and body."""
    store, handle = target(payload, ctx, PURPOSE)
    with fetched(store, handle, payload.max_bytes) as got:
        kind = format_of(got.name, got.entry.content_type)
        try:
            found = READERS[kind](got.file)
        except ActionError as exc:
            raise ActionError(f"{handle.path!r}: {exc}", retryable=False) from None
    truncated = len(found.text) > MAX_CHARS or len(found.html) > MAX_CHARS
    return ExtractedText(title=found.title[:1000], text=found.text[:MAX_CHARS], html=found.html[:MAX_CHARS],
                         format=kind, truncated=truncated, document=got.handle)


def preview(payload: DocumentInput, ctx: Any) -> dict[str, Any]:
    """Placeholders of the title and body (the document is not read in a dry run), marked as such."""
    store, handle = target(payload, ctx, PURPOSE)
    name = split(handle.path)[1]
    kind = format_of(name, None)
    placeholder = ExtractedText(title=f"(title of {name})", text=f"(text of {name})",
                                html=f"<p>(text of {name})</p>", format=kind, truncated=False, document=handle)
    return {**placeholder.model_dump(mode="json"),
            "would_extract": {"connection": store.name, "path": handle.path, "format": kind},
            **warnings(payload, store, PURPOSE)}


SPEC = ActionSpec(
    key="ecm.extract_text", title="Extract a document's text", input_model=DocumentInput, output_model=ExtractedText,
    connection_type="ecm", run=run, preview=preview,
    description="Reads the title and body (as text and as HTML) of a Word (.docx), OpenDocument (.odt), PDF or "
                "Markdown document, for example to prefill a post from a press release.")
