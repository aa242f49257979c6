"""The `DocumentSource` service: other plugins read a document by its handle (an image for a post, an attachment).

A handle names its ecm connection (none: Beffroi's own documents folder); that connection is resolved by name
through the engine, whatever connections the reading step itself uses, so an `smms.publish` step reads an
image from the WebDAV folder a trigger watched.
"""
from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from beffroi import ActionError, DocumentHandle, DocumentInfo, OpenedDocument, redact

from .connectors import CONNECTORS
from .documents import DocumentStore, split
from .folder import LocalFolder, default_root
from .handles import fetched


def store_of(handle: DocumentHandle, ctx: Any) -> tuple[DocumentStore, list[str]]:
    """The store a handle's document is on (its named ecm connection, or Beffroi's documents folder) and that
    connection's secrets, which no message may carry (the step's redaction knows only its own connections')."""
    if handle.connection is None:
        return LocalFolder(None, default_root(ctx), ctx), []
    resolve = getattr(ctx, "resolve_connections", None)
    if resolve is None:
        raise ActionError(f"the document {handle.path!r} is on the connection {handle.connection!r}, which cannot "
                          "be opened here", retryable=False)
    try:
        [connection] = resolve([handle.connection], "ecm")
    except ActionError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unknown or wrong connection: its own message
        raise ActionError(f"the document {handle.path!r}: {exc}", retryable=False) from None
    make = CONNECTORS.get(connection.type)
    if make is None:
        raise ActionError(f"the document {handle.path!r} is on {connection.name!r}, a {connection.type} connection "
                          "no document store reads", retryable=False)
    return make(connection.name, connection.config, ctx), list(connection.secret_values)


@contextmanager
def secrets_kept(secrets: list[str]) -> Iterator[None]:
    """An ActionError raised inside has the connection's secrets masked in its message (same class kept)."""
    try:
        yield
    except ActionError as exc:
        if secrets:
            exc.args = (redact(str(exc), secrets),)
        raise


class EcmDocuments:
    """Documents of the ecm connections (and of Beffroi's own folder), read by handle for other plugins."""

    @contextmanager
    def open(self, handle: DocumentHandle, ctx: Any, max_bytes: int) -> Iterator[OpenedDocument]:
        """Stream the document to a temporary file (at most max_bytes), hashed; removed when the `with` ends."""
        store, secrets = store_of(handle, ctx)
        with secrets_kept(secrets), fetched(store, handle, max_bytes) as got:
            yield OpenedDocument(file=Path(got.file), name=got.name, size=got.size, sha256=got.sha256,
                                 content_type=_type(got.name, got.entry.content_type), handle=got.handle)

    def info(self, handle: DocumentHandle, ctx: Any) -> DocumentInfo:
        """The document's name, size and type from its folder's listing (no bytes read)."""
        store, secrets = store_of(handle, ctx)
        folder, name = split(handle.path)
        with secrets_kept(secrets):
            listed = store.list(folder)
        for entry in listed:
            if entry.path == handle.path or split(entry.path)[1] == name:
                return DocumentInfo(name=name, size=entry.size, content_type=_type(name, entry.content_type))
        raise ActionError(f"no document {handle.path!r} (yet)", retryable=False)


def _type(name: str, given: str | None) -> str:
    """The media type the store gave, else the one its name suggests."""
    if given and given != "application/octet-stream":
        return given
    return mimetypes.guess_type(name)[0] or given or "application/octet-stream"
