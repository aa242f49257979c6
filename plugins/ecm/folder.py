"""The `folder` connection type: documents in a local directory — and, with no connection, the built-in default.

The built-in default is `<data dir>/documents` (BEFFROI_DATA_DIR), created on first use: zero set-up. A `folder`
connection names another directory, which must be inside it or inside a folder an administrator allows
(BEFFROI_ALLOWED_FOLDERS): a recipe must not turn any file the server can read into published content. Paths
never leave the root: `..` is refused, and so is a symbolic link leading out of it.
"""
from __future__ import annotations

import mimetypes
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from beffroi import ActionError, ConnectionSpec, DocumentTooLarge

from .documents import AlreadyExists, Entry, NotFound, Sink, StoredFile, clean_path

CHUNK = 1 << 16


class FolderConfig(BaseModel):
    """A directory on the Beffroi server."""

    model_config = ConfigDict(extra="forbid")
    root: str = Field(min_length=1, description="the directory's full path on the Beffroi server, inside "
                                                "Beffroi's documents folder or a folder listed in "
                                                "BEFFROI_ALLOWED_FOLDERS")


def default_root(ctx: Any) -> Path:
    """The built-in documents folder: `<data dir>/documents`."""
    return Path(getattr(ctx, "data_dir", ".beffroi")).expanduser().resolve() / "documents"


def signature(stat: os.stat_result) -> str:
    """A local file's version: its time of change and size (what an ETag is on a WebDAV server)."""
    return f"{stat.st_mtime_ns:x}-{stat.st_size:x}"


class LocalFolder:
    """A directory used as a document store (the DocumentStore Protocol)."""

    def __init__(self, name: str | None, root: Path, ctx: Any):
        self.name = name
        builtin = default_root(ctx)
        allowed = [builtin, *(Path(a).expanduser().resolve() for a in getattr(ctx, "allowed_folders", None) or ())]
        self.root = root.expanduser().resolve()
        if not any(self.root == a or a in self.root.parents for a in allowed):
            raise ActionError(f"the folder {root} is not one Beffroi may use; it must be inside {builtin} or a "
                              "folder an administrator lists in BEFFROI_ALLOWED_FOLDERS", retryable=False)
        self.builtin = self.root == builtin
        if self.builtin:
            self.root.mkdir(parents=True, exist_ok=True)
        if not self.root.is_dir():
            raise ActionError(f"the folder {root} does not exist (or is not a folder)", retryable=False)

    def _local(self, path: str) -> Path:
        """The local path of a relative one, refused when it would lead out of the root (`..`, a symbolic link)."""
        local = (self.root / clean_path(path)).resolve()
        if local != self.root and self.root not in local.parents:
            raise ActionError(f"the path {path!r} leads out of the folder {self.root}", retryable=False)
        return local

    def _entry(self, path: str, local: Path) -> Entry:
        stat = local.stat()
        return Entry(path=clean_path(path), size=stat.st_size, etag=signature(stat),
                     content_type=mimetypes.guess_type(local.name)[0],
                     modified_at=datetime.fromtimestamp(stat.st_mtime, UTC).isoformat())

    def list(self, folder: str) -> list[Entry]:
        """The regular files directly in `folder` (symbolic links skipped)."""
        local = self._local(folder)
        if self.builtin and not local.exists():  # Beffroi's own folder: a watched folder is made, ready to drop into
            local.mkdir(parents=True)
        if not local.is_dir():
            raise ActionError(f"the folder {folder or '/'!r} does not exist in {self.root}", retryable=False)
        prefix = clean_path(folder)
        found = []
        for child in sorted(local.iterdir()):
            if child.is_symlink() or not child.is_file():
                continue
            try:
                found.append(self._entry(f"{prefix}/{child.name}" if prefix else child.name, child))
            except FileNotFoundError:  # removed while listing
                continue
        return found

    def download(self, path: str, sink: Sink, max_bytes: int) -> Entry:
        """Copy the file to `sink`, refusing one larger than max_bytes."""
        local = self._local(path)
        if not local.is_file():
            raise NotFound(f"no document {path!r} in {self.root}")
        entry = self._entry(path, local)
        if entry.size > max_bytes:
            raise DocumentTooLarge(f"the document {path!r} is {entry.size} bytes, more than the {max_bytes} allowed")
        with local.open("rb") as source:
            copied = 0
            while chunk := source.read(CHUNK):
                copied += len(chunk)
                if copied > max_bytes:  # it grew while being read
                    raise DocumentTooLarge(f"the document {path!r} exceeds the {max_bytes} bytes allowed")
                sink.write(chunk)
        return entry

    def upload(self, path: str, data: bytes, content_type: str | None, overwrite: bool) -> StoredFile:
        """Write through a hidden temporary file, so a poll never reads half a file; exclusive unless overwrite."""
        local = self._local(path)
        local.parent.mkdir(parents=True, exist_ok=True)
        temporary = local.parent / f".~beffroi-{uuid.uuid4().hex}"
        temporary.write_bytes(data)
        try:
            self._place(temporary, local, path, overwrite)
        finally:
            temporary.unlink(missing_ok=True)
        return StoredFile(path=clean_path(path), etag=signature(local.stat()))

    def move(self, path: str, target: str, overwrite: bool) -> StoredFile:
        """Rename the file (creating the target's folder), refusing an existing target unless overwrite."""
        source, local = self._local(path), self._local(target)
        if not source.is_file():
            raise NotFound(f"no document {path!r} in {self.root}")
        local.parent.mkdir(parents=True, exist_ok=True)
        self._place(source, local, target, overwrite)
        source.unlink(missing_ok=True)
        return StoredFile(path=clean_path(target), etag=signature(local.stat()))

    @staticmethod
    def _place(source: Path, local: Path, target: str, overwrite: bool) -> None:
        if overwrite:
            os.replace(source, local)
            return
        try:
            os.link(source, local)  # atomic, and fails when the target exists
        except FileExistsError:
            raise AlreadyExists(f"a document {target!r} already exists (choose overwrite to replace it)") from None

    def check(self) -> str:
        """The folder is there and readable."""
        count = sum(1 for child in self.root.iterdir() if child.is_file())
        return f"the folder {self.root} holds {count} file(s)"


def test_connection(config: FolderConfig, ctx: Any) -> str:
    """ConnectionSpec.test: the folder exists, may be used and can be read."""
    return LocalFolder(None, Path(config.root), ctx).check()


CONNECTION = ConnectionSpec(
    key="folder", tool_type="ecm", title="Folder on the server", config_model=FolderConfig, test=test_connection,
    description="Documents in a directory of the Beffroi server (a shared drive mounted there, for instance).")
