"""The generic ecm records — a document handle, a listed file, the trigger's event — and the stores' Protocol."""
from __future__ import annotations

import posixpath
from typing import Protocol

from pydantic import BaseModel, Field

from beffroi import ActionError
from beffroi import DocumentHandle as DocumentHandle  # the facade's, named here for the plugin's modules

MAX_BYTES = 20 * 2**20  # the default size cap of a document read or written (20 MiB)
MAX_BYTES_LIMIT = 200 * 2**20  # the highest cap a step may ask for


class AlreadyExists(ActionError):
    """The target of a write or a move exists, and overwriting was not chosen."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class NotFound(ActionError):
    """No document at that path."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class Entry(BaseModel):
    """One file of a folder listing, as a store reports it."""

    path: str
    size: int
    etag: str
    content_type: str | None = None
    modified_at: str | None = None
    author: str | None = None
    locked: bool = False


class StoredFile(BaseModel):
    """What a store says about a file it wrote or moved."""

    path: str
    etag: str | None = None


class DocumentEvent(BaseModel):
    """A document that appeared or changed in a watched folder (the event of `ecm.document_added` / `_changed`)."""

    path: str = Field(description="its path in the connection, e.g. Communiqués/budget.docx")
    name: str = Field(description="its file name, e.g. budget.docx")
    folder: str = Field(description="the folder it is in, e.g. Communiqués")
    size: int = Field(description="its size in bytes")
    content_type: str | None = Field(None, description="its media type, e.g. application/pdf")
    modified_at: str | None = Field(None, description="when it last changed (ISO 8601, UTC)")
    author: str | None = Field(None, description="who created or owns it, where the server says")
    document: DocumentHandle = Field(description="the document's handle, for ecm.get, ecm.extract_text, ecm.move…")


class Sink(Protocol):
    """Where a store writes a document's bytes: an open binary file, or anything that writes and counts."""

    def write(self, chunk: bytes, /) -> int:
        """Write one chunk."""

    def tell(self) -> int:
        """How many bytes were written."""


class DocumentStore(Protocol):
    """What an ecm connection type (a local folder, a WebDAV server) implements for the trigger and actions.

    Paths are relative to the connection's root, with `/` between parts; errors are ActionErrors naming the path.
    """

    name: str | None

    def list(self, folder: str) -> list[Entry]:
        """The files (not sub-folders) directly in `folder`."""

    def download(self, path: str, sink: Sink, max_bytes: int) -> Entry:
        """Write the file's bytes to `sink` (at most max_bytes); what is known of the file."""

    def upload(self, path: str, data: bytes, content_type: str | None, overwrite: bool) -> StoredFile:
        """Write a file; refused when one exists and overwrite is False. Creates missing folders."""

    def move(self, path: str, target: str, overwrite: bool) -> StoredFile:
        """Move a file; refused when the target exists and overwrite is False. Creates missing folders."""

    def check(self) -> str:
        """Reach the root (the connection test); a short line saying what was found."""


def clean_path(path: str, *, what: str = "path") -> str:
    """A relative path inside a connection: `/`-separated, no `..`, no leading `/`; ActionError otherwise."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or any("\x00" in p for p in parts):
        raise ActionError(f"the {what} {path!r} leaves the connection's folder (.. is not allowed)", retryable=False)
    return "/".join(parts)


def join(folder: str, name: str) -> str:
    """A folder and a name as one clean path."""
    return clean_path(posixpath.join(folder, name))


def split(path: str) -> tuple[str, str]:
    """(folder, name) of a clean path."""
    folder, _, name = path.rpartition("/")
    return folder, name
