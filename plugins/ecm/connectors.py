"""Which store serves a step or a trigger: its ecm connection's type, or Beffroi's own documents folder."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from beffroi import ActionError

from .documents import DocumentHandle, DocumentStore
from .folder import CONNECTION as FOLDER
from .folder import LocalFolder, default_root
from .webdav import CONNECTION as WEBDAV
from .webdav import WebDavFolder

CONNECTION_TYPES = [FOLDER, WEBDAV]
CONNECTORS: dict[str, Callable[[str, Any, Any], DocumentStore]] = {
    "folder": lambda name, config, ctx: LocalFolder(name, Path(config.root), ctx),
    "webdav": WebDavFolder,
}


def connect(ctx: Any, purpose: str) -> DocumentStore:
    """The store of the step's (or trigger's) ecm connection; without one, Beffroi's own documents folder."""
    connection = ctx.connection
    if connection is None:
        return LocalFolder(None, default_root(ctx), ctx)
    make = CONNECTORS.get(connection.type)
    if make is None:
        raise ActionError(f"connection {connection.name!r} is a {connection.type} connection; {purpose} works with "
                          f"{', '.join(sorted(CONNECTORS))}", retryable=False)
    return make(connection.name, connection.config, ctx)


def where(store: DocumentStore) -> str:
    """How a message names a store: its connection, or the built-in folder."""
    return f"connection {store.name!r}" if store.name else "Beffroi's documents folder"


def mismatch(handle: DocumentHandle, store: DocumentStore, purpose: str) -> str | None:
    """Why a handle cannot be read by this step (it is on another connection), or None."""
    if handle.connection == store.name:
        return None
    on = f"the connection {handle.connection!r}" if handle.connection else "Beffroi's documents folder"
    give = f"give the step the connection {handle.connection!r}" if handle.connection else \
        "give the step no connection"
    return f"{purpose}: the document {handle.path!r} is on {on}, the step uses {where(store)}; {give}"


def same_store(handle: DocumentHandle, store: DocumentStore, purpose: str) -> None:
    """A handle is read through the connection it came from: the step must use that connection."""
    problem = mismatch(handle, store, purpose)
    if problem:
        raise ActionError(problem, retryable=False)
