"""The `webdav` connection type: any RFC 4918 server (Nextcloud, ownCloud, SharePoint's WebDAV, Alfresco…).

Every request goes through the engine's outbound client (ctx.http): SSRF guard, timeouts, retries of what is safe.
"""
from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from beffroi import (
    ActionError,
    BlockedAddressError,
    ConnectionSpec,
    DocumentTooLarge,
    OutboundError,
    ResponseTooLargeError,
)

from .documents import AlreadyExists, Entry, NotFound, Sink, StoredFile, clean_path, split
from .multistatus import PROPFIND_BODY, entries

RETRYABLE = {408, 423, 425, 429, 500, 502, 503, 504}


class WebDavConfig(BaseModel):
    """A folder on a WebDAV server and the account Beffroi uses there."""

    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(pattern=r"^https?://", description="the address of the folder, e.g. "
                                                             "https://cloud.example.org/remote.php/dav/files/comms/")
    username: str = Field(min_length=1, description="the user name on the server")
    app_password: SecretStr = Field(description="an app password made for Beffroi (Nextcloud: Settings → Security → "
                                                "Devices & sessions), not the account's login password")

    @field_validator("base_url")
    @classmethod
    def _folder(cls, value: str) -> str:
        return value.strip().rstrip("/") + "/"


class WebDavFolder:
    """One WebDAV connection in use (the DocumentStore Protocol): typed requests, readable errors."""

    def __init__(self, name: str | None, config: WebDavConfig, ctx: Any):
        self.name = name
        self.config = config
        self.ctx = ctx
        self.host = urlsplit(config.base_url).netloc
        pair = f"{config.username}:{config.app_password.get_secret_value()}"
        self._auth = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def url(self, path: str, *, folder: bool = False) -> str:
        """The address of a path under the base URL (a folder's ends with /)."""
        path = clean_path(path)
        return self.config.base_url + quote(path, safe="/") + ("/" if folder and path else "")

    # -- the ecm operations ----------------------------------------------------------------------
    def list(self, folder: str) -> list[Entry]:
        """PROPFIND Depth 1: the files directly in `folder`, with their ETags."""
        response = self._send("PROPFIND", folder, folder=True, content=PROPFIND_BODY,
                              headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
        self._expect(response, {207}, f"list the folder {folder or '/'!r}")
        return [e for e in entries(response.content, self.config.base_url) if clean_path(split(e.path)[0])
                == clean_path(folder)]

    def download(self, path: str, sink: Sink, max_bytes: int) -> Entry:
        """GET the file into `sink`, refusing one larger than max_bytes."""
        try:
            response = self.ctx.http.download(self.url(path), sink, max_bytes=max_bytes, headers=self._auth)
        except ResponseTooLargeError:
            raise DocumentTooLarge(f"the document {path!r} on {self.host} is larger than the {max_bytes} bytes "
                                   "allowed") from None
        except OutboundError as exc:
            raise self._unreachable(exc) from None
        self._expect(response, {200}, f"read the document {path!r}")
        size = response.headers.get("Content-Length", "")
        return Entry(path=clean_path(path), size=int(size) if size.isdigit() else sink.tell(),
                     etag=response.headers.get("ETag") or "", content_type=_media_type(response),
                     modified_at=None)

    def upload(self, path: str, data: bytes, content_type: str | None, overwrite: bool) -> StoredFile:
        """PUT with `If-None-Match: *` unless overwrite; creates the missing folders (MKCOL) on a 409."""
        headers = {"Content-Type": content_type or "application/octet-stream"}
        if not overwrite:
            headers["If-None-Match"] = "*"
        response = self._send("PUT", path, content=data, headers=headers)
        if response.status_code == 409:
            self.make_folders(split(path)[0])
            response = self._send("PUT", path, content=data, headers=headers)
        if response.status_code == 412:
            raise AlreadyExists(f"a document {path!r} already exists on {self.host} (choose overwrite to replace "
                                "it)")
        self._expect(response, {200, 201, 204}, f"write the document {path!r}")
        return StoredFile(path=clean_path(path), etag=response.headers.get("ETag"))

    def move(self, path: str, target: str, overwrite: bool) -> StoredFile:
        """MOVE with `Overwrite: F` unless overwrite; creates the target's folders (MKCOL) on a 409."""
        headers = {"Destination": self.url(target), "Overwrite": "T" if overwrite else "F"}
        response = self._send("MOVE", path, headers=headers)
        if response.status_code == 409:
            self.make_folders(split(target)[0])
            response = self._send("MOVE", path, headers=headers)
        if response.status_code == 412:
            raise AlreadyExists(f"a document {target!r} already exists on {self.host} (choose overwrite to replace "
                                "it)")
        self._expect(response, {201, 204}, f"move the document {path!r} to {target!r}")
        return StoredFile(path=clean_path(target), etag=None)

    def make_folders(self, folder: str) -> None:
        """MKCOL each missing folder of the path, from the top (405: it exists already)."""
        parts = clean_path(folder).split("/") if clean_path(folder) else []
        for depth in range(1, len(parts) + 1):
            partial = "/".join(parts[:depth])
            response = self._send("MKCOL", partial, folder=True)
            self._expect(response, {201, 405}, f"create the folder {partial!r}")

    def check(self) -> str:
        """PROPFIND Depth 0 on the base URL: the server answers and accepts the app password."""
        response = self._send("PROPFIND", "", folder=True, content=PROPFIND_BODY,
                              headers={"Depth": "0", "Content-Type": "application/xml; charset=utf-8"})
        self._expect(response, {207}, "open the folder")
        return f"signed in to {self.host} as {self.config.username}"

    # -- requests and their errors ---------------------------------------------------------------
    def _send(self, method: str, path: str, *, folder: bool = False, headers: dict | None = None, **kwargs: Any):
        # PROPFIND only reads and a repeated MKCOL answers 405 (taken as done): both may be sent again after a 5xx
        kwargs.setdefault("idempotent", method in ("PROPFIND", "MKCOL"))
        try:
            return self.ctx.http.request(method, self.url(path, folder=folder), headers={**self._auth,
                                                                                        **(headers or {})}, **kwargs)
        except OutboundError as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: Exception) -> ActionError:
        if isinstance(exc, BlockedAddressError):
            return ActionError(f"the WebDAV server {self.host} is at an address Beffroi may not reach: {exc}",
                               retryable=False)
        return ActionError(f"cannot reach the WebDAV server {self.host}: {exc}", retryable=True)

    def _expect(self, response: Any, statuses: set[int], doing: str) -> None:
        """An ActionError naming what was being done and the server's answer, unless the status is expected."""
        status = response.status_code
        if status in statuses:
            return
        if status == 401:
            raise ActionError(f"the WebDAV server {self.host} refused the user {self.config.username!r} and its app "
                              f"password (401) while trying to {doing}: check them in the connection",
                              retryable=False)
        answer = f"{status} {response.reason_phrase}".strip()
        if status == 404:
            raise NotFound(f"could not {doing} on {self.host}: the server answered {answer} (no such document or "
                           "folder)")
        detail = _text_of(response)
        raise ActionError(f"could not {doing} on {self.host}: the server answered {answer}"
                          + (f" ({detail})" if detail else ""), retryable=status in RETRYABLE)


def _media_type(response: Any) -> str | None:
    value = response.headers.get("Content-Type")
    return value.split(";")[0].strip() if value else None


def _text_of(response: Any) -> str:
    """A short plain-text extract of an error body (XML or HTML tags removed)."""
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        return ""
    return " ".join(re.sub(r"<[^>]*>", " ", text).split())[:200]


def test_connection(config: WebDavConfig, ctx: Any) -> str:
    """ConnectionSpec.test: open the base folder with the app password."""
    return WebDavFolder(None, config, ctx).check()


CONNECTION = ConnectionSpec(
    key="webdav", tool_type="ecm", title="WebDAV folder", config_model=WebDavConfig, test=test_connection,
    description="Documents in a folder of a WebDAV server: Nextcloud, ownCloud, SharePoint, Alfresco or any other, "
                "signed in with an app password.")
