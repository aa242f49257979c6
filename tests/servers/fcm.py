"""A local Firebase Cloud Messaging: the OAuth 2.0 token endpoint of a service account (JWT bearer grant,
RFC 7523: the RS256 signature checked with the account's public key, then iss, scope, aud and times) and the HTTP
v1 `projects/{project}/messages:send`, which takes only the access tokens it gave. `service_account()` is the key
file Firebase would give, pointing at this server."""
from __future__ import annotations

import base64
import json
import threading
import time
from urllib.parse import parse_qsl

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .http_base import LocalServer, QuietHandler

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
PROJECT = "ville-app"
EMAIL = "beffroi@ville-app.iam.gserviceaccount.com"


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FcmServer(LocalServer):
    """Records the messages sent (`sent`) and the JWT claims of each token asked for (`grants`)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.tokens: set[str] = set()
        self.grants: list[dict] = []
        self.sent: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/token":
                    status, answer = outer.grant(dict(parse_qsl(body.decode())))
                elif self.path == f"/v1/projects/{PROJECT}/messages:send":
                    status, answer = outer.send(self.headers.get("Authorization", ""), body)
                else:
                    status, answer = 404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}
                self.reply(status, answer)

        super().__init__(Handler)

    def service_account(self) -> dict:
        """The key file of the project's service account."""
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": PROJECT, "private_key_id": "k1", "private_key": pem,
                "client_email": EMAIL, "client_id": "1", "token_uri": f"{self.url}/token"}

    def grant(self, form: dict) -> tuple[int, dict]:
        """The token endpoint: an access token for a valid signed assertion."""
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}
        try:
            head, claims, signature = form["assertion"].split(".")
            self.key.public_key().verify(_unb64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(),
                                         hashes.SHA256())
            header, payload = json.loads(_unb64(head)), json.loads(_unb64(claims))
        except (KeyError, ValueError, InvalidSignature):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        now = time.time()
        valid = (header.get("alg") == "RS256" and payload.get("iss") == EMAIL
                 and SCOPE in payload.get("scope", "").split() and payload.get("aud") == f"{self.url}/token"
                 and payload["iat"] - 60 <= now < payload["exp"] and payload["exp"] - payload["iat"] <= 3600)
        if not valid:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT claims."}
        with self.lock:
            token = f"ya29.local-{len(self.tokens) + 1}"
            self.tokens.add(token)
            self.grants.append(payload)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def send(self, authorization: str, body: bytes) -> tuple[int, dict]:
        """messages:send: one message to exactly one of topic, token or condition."""
        if authorization.removeprefix("Bearer ") not in self.tokens:
            return 401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                   "status": "UNAUTHENTICATED"}}
        message = json.loads(body).get("message", {})
        if sum(name in message for name in ("topic", "token", "condition")) != 1:
            return 400, {"error": {"code": 400, "message": "exactly one of topic, token or condition",
                                   "status": "INVALID_ARGUMENT"}}
        with self.lock:
            self.sent.append(message)
            number = len(self.sent)
        return 200, {"name": f"projects/{PROJECT}/messages/{number}"}
