"""HttpClient.download: a body streamed to a file within a cap of its own, whether its length is declared or not."""
from __future__ import annotations

import io

import pytest

from beffroi.http import HttpClient, ResponseTooLargeError

from .servers.http_base import LocalServer, QuietHandler

BODY = b"0123456789" * 1000  # 10,000 bytes


class Chunked(QuietHandler):
    """/declared answers with Content-Length, /chunked without (chunked), /missing 404 with a short text."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/missing":
            self.send_response(404)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"not found")
            return
        self.send_response(200)
        if self.path == "/declared":
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(BODY), 1000):
            part = BODY[start:start + 1000]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def server():
    with LocalServer(Chunked) as running:
        yield running


@pytest.fixture
def client():
    # the client's own cap is far below the file's: download has its own
    with HttpClient(allowed_networks=["127.0.0.0/8"], max_response_bytes=100, attempts=1) as http:
        yield http


@pytest.mark.parametrize("path", ["/declared", "/chunked"])
def test_a_body_within_the_cap_goes_to_the_file(server, client, path):
    sink = io.BytesIO()
    response = client.download(server.url + path, sink, max_bytes=len(BODY))
    assert response.status_code == 200 and sink.getvalue() == BODY and response.content == b""


@pytest.mark.parametrize("path", ["/declared", "/chunked"])
def test_a_body_over_the_cap_is_refused(server, client, path):
    sink = io.BytesIO()
    with pytest.raises(ResponseTooLargeError, match=f"GET {server.url}{path} failed: the file exceeds 5000 bytes"):
        client.download(server.url + path, sink, max_bytes=5000)
    assert len(sink.getvalue()) <= 5000  # refused as it passed the cap (before anything, when declared)


def test_an_error_answer_is_read_not_written(server, client):
    sink = io.BytesIO()
    response = client.download(server.url + "/missing", sink, max_bytes=5000)
    assert (response.status_code, response.content, sink.getvalue()) == (404, b"not found", b"")
