"""What other WebDAV servers answer: Nextcloud's paths and owner, SharePoint's absolute hrefs, quoted ETags, a
property the server lacks, a first PROPFIND answered 503 — read from canned multistatus answers on 127.0.0.1."""
from __future__ import annotations

import pytest

from beffroi import ActionContext

from .servers.http_base import LocalServer, QuietHandler


def answer(base: str, href_prefix: str) -> bytes:
    """A Depth 1 listing of Communiqués as Nextcloud (path hrefs) or SharePoint (absolute hrefs) words it."""
    folder = f"{href_prefix}{base}Communiqu%C3%A9s/"
    return f'''<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:s="http://sabredav.org/ns">
 <d:response><d:href>{folder}</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>
  <d:getetag>"6573"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>{folder}Conf%C3%A9rence%20de%20presse.docx</d:href>
  <d:propstat><d:prop><d:resourcetype/><d:getetag>"a1b2c3"</d:getetag><d:getcontentlength>48213</d:getcontentlength>
   <d:getcontenttype>application/vnd.openxmlformats-officedocument.wordprocessingml.document</d:getcontenttype>
   <d:getlastmodified>Thu, 03 Dec 2026 08:42:00 GMT</d:getlastmodified><d:lockdiscovery/>
   <oc:owner-display-name>Service communication</oc:owner-display-name></d:prop>
   <d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  <d:propstat><d:prop><d:creator-displayname/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
 <d:response><d:href>{folder}Archives/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/>
  </d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>'''.encode()


class Listing(LocalServer):
    """Answers PROPFIND with `answer(...)`, the first one `fail_first` times with 503."""

    def __init__(self, base: str, absolute: bool, fail_first: int = 0):
        self.seen: list[str] = []
        server = self

        class Handler(QuietHandler):
            def do_PROPFIND(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.seen.append(self.headers.get("Depth", ""))
                if len(server.seen) <= fail_first:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = answer(base, server.url if absolute else "")
                self.send_response(207)
                self.send_header("Content-Type", 'application/xml; charset="utf-8"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


def poll(engine, url: str, cursor=None) -> list:
    """One poll of ecm.document_added on Communiqués via the connection `cloud` at `url`, as the scheduler makes it."""
    engine.connections.save("cloud", "webdav", {"base_url": url, "username": "comms", "app_password": "app-pass"})
    spec = engine.registry.triggers["ecm.document_added"]
    ctx = ActionContext(run_id="", step_id="trigger", idempotency_key="", recipe="r", http=engine.http,
                        connections=engine.connections.resolve(["cloud"], "ecm"))
    return spec.poll(spec.config_model.model_validate({"folder": "Communiqués"}), cursor, ctx).items


@pytest.mark.parametrize("base, absolute", [("/remote.php/dav/files/comms/", False),  # Nextcloud
                                            ("/sites/comm/Documents%20partages/", True)])  # SharePoint
def test_other_servers_listings_give_the_same_event(make_engine, base, absolute):
    engine = make_engine(allowed_networks=["127.0.0.0/8"])
    with Listing(base, absolute) as server:
        [item] = poll(engine, server.url + base)
    path = "Communiqués/Conférence de presse.docx"
    assert item.key == f'{path}@"a1b2c3"'
    assert item.event == {
        "path": path, "name": "Conférence de presse.docx", "folder": "Communiqués", "size": 48213,
        "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "modified_at": "2026-12-03T08:42:00+00:00", "author": "Service communication",
        "document": {"connection": "cloud", "path": path, "etag": '"a1b2c3"', "sha256": None}}


def test_a_listing_answered_503_is_asked_again(make_engine):
    engine = make_engine(allowed_networks=["127.0.0.0/8"])
    with Listing("/dav/", absolute=False, fail_first=1) as server:
        assert len(poll(engine, server.url + "/dav/")) == 1
    assert server.seen == ["1", "1"]  # Depth 1, twice: PROPFIND only reads, so it may be sent again
