"""`ecm.document_added` and `ecm.document_changed`: a document that appeared in, or changed in, a watched folder.

Each poll lists the folder (PROPFIND Depth 1 with ETags on WebDAV; time of change and size on a local folder). A
file is taken only once it is stable: the same version at two polls in a row, and not locked, so a file still
being uploaded or written is picked up once, complete. The cursor keeps what the last poll saw (`seen`) and the
version each stable file was last reported at (`known`): a path new to `known` is added, a known path with another
version changed. Items are keyed by path and version, so the engine's seen keys stop a repeat after a crash; the
first poll reports everything there, which only seeds those keys.
"""
from __future__ import annotations

import fnmatch
import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from beffroi import PolledItem, PollResult, TriggerSpec

from .connectors import connect
from .documents import DocumentEvent, DocumentHandle, Entry, clean_path, split

MAX_FILES = 1000  # files of a folder looked at per poll (the most recently changed)
SKIPPED = (".", "~")  # hidden files, editors' lock and temporary files (~$x.docx, .~lock.x.odt#)


class WatchConfig(BaseModel):
    """Which folder to watch, and which of its files."""

    model_config = ConfigDict(extra="forbid")
    folder: str = Field("", description="the folder to watch, e.g. Communiqués (empty: the connection's own folder)")
    pattern: str = Field("*", min_length=1, description="the files to take: a name pattern such as *.docx, or "
                                                        "several separated by commas (*.docx, *.odt, *.pdf)")

    def matches(self, name: str) -> bool:
        """The name fits one of the patterns (case ignored) and is not a hidden, lock or temporary file."""
        patterns = [p.strip().lower() for p in self.pattern.split(",") if p.strip()]
        return not name.startswith(SKIPPED) and any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns)


def version(entry: Entry) -> str:
    """A file's version: its ETag, else its size and time of change."""
    return entry.etag or f"{entry.size}-{entry.modified_at}"


def item_key(path: str, at: str) -> str:
    """The polled item's key: path and version (hashed when too long for the seen-keys column)."""
    key = f"{path}@{at}"
    return key if len(key) <= 300 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def event(entry: Entry, connection: str | None) -> DocumentEvent:
    """The event a run receives for a listed file."""
    folder, name = split(entry.path)
    return DocumentEvent(path=entry.path, name=name, folder=folder, size=entry.size, content_type=entry.content_type,
                         modified_at=entry.modified_at, author=entry.author,
                         document=DocumentHandle(connection=connection, path=entry.path, etag=version(entry)))


def poll_changes(config: WatchConfig, cursor: Any, ctx: Any, *, changed: bool) -> PollResult:
    """The folder's stable files new (changed=False) or changed (changed=True) since they were last reported."""
    store = connect(ctx, "ecm.document_changed" if changed else "ecm.document_added")
    listed = [e for e in store.list(clean_path(config.folder)) if config.matches(split(e.path)[1])]
    listed = sorted(listed, key=lambda e: (e.modified_at or "", e.path), reverse=True)[:MAX_FILES][::-1]
    first = not isinstance(cursor, dict)
    seen_before = {} if first else dict(cursor.get("seen") or {})
    known_before = {} if first else dict(cursor.get("known") or {})
    seen = {e.path: version(e) for e in listed}
    known = {path: at for path, at in known_before.items() if path in seen}  # a removed file is forgotten
    items = []
    for entry in listed:
        at = seen[entry.path]
        if not first and (seen_before.get(entry.path) != at or entry.locked):
            continue  # still being written (or locked): taken at a later poll, once it stays the same
        new = entry.path not in known
        if first or (not new and known[entry.path] != at if changed else new):
            items.append(PolledItem(key=item_key(entry.path, at),
                                    event=event(entry, store.name).model_dump(mode="json")))
        known[entry.path] = at
    return PollResult(items=items, cursor={"seen": seen, "known": known})


def poll_added(config: WatchConfig, cursor: Any, ctx: Any) -> PollResult:
    """TriggerSpec.poll of ecm.document_added."""
    return poll_changes(config, cursor, ctx, changed=False)


def poll_changed(config: WatchConfig, cursor: Any, ctx: Any) -> PollResult:
    """TriggerSpec.poll of ecm.document_changed."""
    return poll_changes(config, cursor, ctx, changed=True)


SAMPLE = DocumentEvent(
    path="Communiqués/2026-12-03 Marché de Noël.docx", name="2026-12-03 Marché de Noël.docx", folder="Communiqués",
    size=48213, content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    modified_at="2026-12-03T08:42:00+00:00", author="Service communication",
    document=DocumentHandle(connection=None, path="Communiqués/2026-12-03 Marché de Noël.docx",
                            etag='"5f3a-62c1e0a4b7d80"'))

ADDED = TriggerSpec(
    key="ecm.document_added", title="New document in a folder", kind="poll", config_model=WatchConfig,
    event_model=DocumentEvent, connection_type="ecm", poll=poll_added, sample_event=SAMPLE,
    description="Starts a run for each new document in a folder (a local folder or a WebDAV server such as "
                "Nextcloud or SharePoint), once it is completely written. The first poll only notes the documents "
                "already there.")

CHANGED = TriggerSpec(
    key="ecm.document_changed", title="Document changed in a folder", kind="poll", config_model=WatchConfig,
    event_model=DocumentEvent, connection_type="ecm", poll=poll_changed, sample_event=SAMPLE,
    description="Starts a run each time a document of a folder is replaced or edited (a new version under the same "
                "name), once the new version is completely written.")
