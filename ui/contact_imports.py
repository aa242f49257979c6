"""CSV imports in progress in this web process: files kept between their preview and their import, and imports
running in a thread with the lines done so far (what the progress page shows).

Both live in the process's memory for an hour at most (an upload holds personal data: it is never written to
disk, and is dropped once imported). Each belongs to the person who uploaded it; nobody else sees it.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KEPT_FOR = 3600.0  # seconds an upload or a finished import stays readable
_LOCK = threading.Lock()


@dataclass
class Upload:
    """A CSV file uploaded and previewed, waiting for its mapping to be confirmed."""

    id: str
    owner: str
    data: bytes
    filename: str | None
    preview: dict[str, Any]
    created: float = field(default_factory=time.monotonic)


@dataclass
class ImportJob:
    """An import running (or run) in a thread: lines done of all, then the report or the refusal."""

    id: str
    owner: str
    filename: str | None
    total: int
    done: int = 0
    report: dict[str, Any] | None = None
    error: Exception | None = None
    checked: threading.Event = field(default_factory=threading.Event)  # the file passed its checks (or failed)
    finished: threading.Event = field(default_factory=threading.Event)
    created: float = field(default_factory=time.monotonic)

    def progress(self, done: int, total: int) -> None:
        """Called by the importer after each batch of rows."""
        self.done, self.total = done, total
        self.checked.set()


class ContactImports:
    """The uploads and imports of one web process."""

    def __init__(self) -> None:
        self.uploads: dict[str, Upload] = {}
        self.jobs: dict[str, ImportJob] = {}

    def _drop_old(self) -> None:
        now = time.monotonic()
        for kept in (self.uploads, self.jobs):
            for key in [k for k, v in kept.items() if now - v.created > KEPT_FOR and not (
                    isinstance(v, ImportJob) and not v.finished.is_set())]:
                del kept[key]

    def keep(self, owner: str, data: bytes, filename: str | None, preview: dict[str, Any]) -> str:
        """Keep an uploaded file for its import; returns its id."""
        with _LOCK:
            self._drop_old()
            upload = Upload(secrets.token_urlsafe(16), owner, data, filename, preview)
            self.uploads[upload.id] = upload
            return upload.id

    def upload(self, upload_id: str, owner: str) -> Upload | None:
        """The upload with this id when it is this person's."""
        found = self.uploads.get(upload_id)
        return found if found is not None and found.owner == owner else None

    def job(self, job_id: str, owner: str) -> ImportJob | None:
        """The import with this id when it is this person's."""
        found = self.jobs.get(job_id)
        return found if found is not None and found.owner == owner else None

    def start(self, upload: Upload, work: Callable[[bytes, Callable[[int, int], None]], dict[str, Any]],
              done: Callable[[ImportJob], None]) -> ImportJob:
        """Run `work(data, progress)` in a thread; `done(job)` when it ends. The upload is dropped."""
        job = ImportJob(upload.id, upload.owner, upload.filename, upload.preview["rows"])
        with _LOCK:
            self.jobs[job.id] = job
            self.uploads.pop(upload.id, None)

        def run() -> None:
            try:
                job.report = work(upload.data, job.progress)
                job.done = job.total
            except Exception as exc:  # noqa: BLE001 - shown on the progress page; a refusal is a ContactError
                job.error = exc
            finally:
                job.checked.set()
                job.finished.set()
                done(job)

        threading.Thread(target=run, name=f"contact-import-{job.id[:6]}", daemon=True).start()
        return job


def imports_of(app: Any) -> ContactImports:
    """The imports of this application (made on first use)."""
    with _LOCK:
        if not hasattr(app.state, "contact_imports"):
            app.state.contact_imports = ContactImports()
        return app.state.contact_imports
