"""A local Web Push service that does what a real one checks: the VAPID JWT's ES256 signature, audience and
expiry (RFC 8292), then decrypts the aes128gcm body with the subscriber's private keys (RFC 8291) — and
`Browser`, a subscriber made like a browser makes one (a P-256 key pair and a 16-byte auth secret).

`PushService.gone` holds subscription names the service answers 410 for (an expired subscription).
"""
from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .http_base import LocalServer, QuietHandler


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A subscriber: its private key and auth secret stay here, the service only knows their public halves."""

    name: str
    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict:
        """The PushSubscription JSON a browser gives the website."""
        public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}


@dataclass
class Received:
    """A message the service accepted, decrypted."""

    name: str
    payload: dict
    headers: dict
    claims: dict


def verify_vapid(header: str, audience: str) -> dict:
    """The JWT's claims once its signature, audience and expiry are checked; ValueError saying what is wrong."""
    scheme, _, params = header.partition(" ")
    if scheme != "vapid":
        raise ValueError(f"Authorization scheme {scheme!r}, not vapid")
    values = dict(part.strip().split("=", 1) for part in params.split(","))
    token, key = values["t"], values["k"]
    head, claims, signature = token.split(".")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ValueError("bad VAPID signature") from None
    if json.loads(unb64url(head)) != {"typ": "JWT", "alg": "ES256"}:
        raise ValueError("bad JWT header")
    body = json.loads(unb64url(claims))
    if body.get("aud") != audience:
        raise ValueError(f"aud {body.get('aud')!r}, expected {audience!r}")
    if not time.time() < body["exp"] <= time.time() + 24 * 3600:
        raise ValueError("exp not within 24 hours")
    if not str(body.get("sub", "")).startswith(("mailto:", "https://")):
        raise ValueError("sub is not mailto: or https:")
    return {**body, "k": key}


class PushService(LocalServer):
    """Accepts `POST /push/<name>` for the browsers made by `browser()`: 201 once verified and decrypted."""

    def __init__(self, decrypt: bool = True) -> None:
        self.browsers: dict[str, Browser] = {}
        self.received: list[Received] = []
        self.refused: list[str] = []
        self.gone: set[str] = set()
        self.busy: set[str] = set()  # names answered 503 (the service is overloaded for them)
        # hold_after = n: the message after the n-th accepted waits (`held` set) until `let_go`, then gets a 503
        self.hold_after: int | None = None
        self.held, self.let_go = threading.Event(), threading.Event()
        self.lock = threading.Lock()
        self.all_received = threading.Event()
        self.expected = 0
        outer = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as push services do
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between the headers and the body

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                name = self.path.removeprefix("/push/")
                status, problem = outer.accept(name, dict(self.headers), body)
                data = json.dumps({"error": problem} if problem else {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 201:
                    self.send_header("Location", f"/message/{name}")
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler)
        self.httpd.socket.listen(128)  # many senders connect at once
        self.decrypt = decrypt

    def browser(self, name: str) -> Browser:
        """A new subscriber of this service."""
        made = Browser(name, f"{self.url}/push/{name}")
        self.browsers[name] = made
        return made

    def accept(self, name: str, headers: dict, body: bytes) -> tuple[int, str | None]:
        """(status, problem) for one message, as a push service would answer."""
        browser = self.browsers.get(name)
        if browser is None or name in self.gone:
            return 410, "subscription gone"
        if name in self.busy:
            return 503, "try again later"
        with self.lock:
            hold = self.hold_after is not None and len(self.received) >= self.hold_after and not self.held.is_set()
            if hold:
                self.held.set()
        if hold:
            self.let_go.wait(30)
            return 503, "not delivered: the sender went away"
        try:
            if headers.get("Content-Encoding") != "aes128gcm" or "TTL" not in headers:
                raise ValueError("Content-Encoding aes128gcm and TTL are required")
            parts = urlsplit(self.url)
            claims = verify_vapid(headers.get("Authorization", ""), f"{parts.scheme}://{parts.netloc}")
            payload = {}
            if self.decrypt:
                payload = json.loads(http_ece.decrypt(body, private_key=browser.key, auth_secret=browser.auth,
                                                      version="aes128gcm"))
        except Exception as exc:  # noqa: BLE001 - whatever fails, the service refuses the message and says why
            with self.lock:
                self.refused.append(f"{name}: {exc}")
            return 400, str(exc)
        with self.lock:
            self.received.append(Received(name, payload, headers, claims))
            if self.expected and len(self.received) >= self.expected:
                self.all_received.set()
        return 201, None
