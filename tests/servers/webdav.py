"""A real WebDAV server for the ecm tests: wsgidav over a temporary folder, served by cheroot on 127.0.0.1.

`WebDavServer(root)` serves `root` at `/dav/` to the user `comms` (HTTP Basic, password PASSWORD), with locking and
dead properties (so a test can set DAV:creator-displayname). `requests` records each request's method, path and
headers, for asserting what the client sent. The `dav` fixture serves a fresh folder holding FOLDER; `connect`
stores the `docs` connection to it.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from cheroot import wsgi
from wsgidav.wsgidav_app import WsgiDAVApp

USER, PASSWORD = "comms", "app-pass-5x7Q-93kd"
FOLDER = "Communiqués"  # made in the served folder by the `dav` fixture


class WebDavServer:
    """wsgidav on an ephemeral port of 127.0.0.1, in a thread: `with WebDavServer(tmp_path) as dav:`."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[dict] = []
        app = WsgiDAVApp({
            "provider_mapping": {"/dav": str(root)},
            "simple_dc": {"user_mapping": {"*": {USER: {"password": PASSWORD}}}},
            "http_authenticator": {"domain_controller": None, "accept_basic": True, "accept_digest": False,
                                   "default_to_digest": False},
            "lock_storage": True, "property_manager": True,
            "verbose": 0, "logging": {"enable": False}, "dir_browser": {"enable": False},
        })
        self.server = wsgi.Server(("127.0.0.1", 0), self._recording(app), numthreads=4)
        self.server.prepare()
        self._thread = threading.Thread(target=self.server.serve, daemon=True)

    def _recording(self, app):
        def recorded(environ, start_response):
            headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
            path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")  # WSGI's bytes as text
            self.requests.append({"method": environ["REQUEST_METHOD"], "path": path, "headers": headers})
            return app(environ, start_response)
        return recorded

    @property
    def url(self) -> str:
        """The base URL of the served folder."""
        return f"http://127.0.0.1:{self.server.bind_addr[1]}/dav/"

    def methods(self) -> list[str]:
        """The methods received, in order."""
        return [r["method"] for r in self.requests]

    def __enter__(self) -> WebDavServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.stop()
        self._thread.join(5)


@pytest.fixture
def dav(tmp_path):
    """A WebDAV server over tmp_path/dav, which holds an empty FOLDER."""
    root = tmp_path / "dav"
    (root / FOLDER).mkdir(parents=True)
    with WebDavServer(root) as server:
        yield server


def connect(engine, dav: WebDavServer, password: str = PASSWORD) -> None:
    """Store the connection `docs` to the server, as comms (with another password to see it refused)."""
    engine.connections.save("docs", "webdav", {"base_url": dav.url, "username": USER, "app_password": password})
