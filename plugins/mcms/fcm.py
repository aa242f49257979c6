"""The `fcm` connection type: Firebase Cloud Messaging HTTP v1, a notification to an FCM topic.

The connection holds the Firebase project's service-account key (its JSON, kept as a secret). Each step signs
a JWT with that key (RS256), exchanges it at the key's `token_uri` for an access token (OAuth 2.0 JWT bearer
grant, RFC 7523), then calls `projects/{project}/messages:send`. The delivery journal keeps the message's
name, so a retried step does not send it again.
"""
from __future__ import annotations

import base64
import json
import time
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from beffroi import ActionError, BlockedAddressError, OutboundError

from . import topic_once
from .notification import Notification

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PRIORITY = {"very-low": "normal", "low": "normal", "normal": "normal", "high": "high"}
KEY_FIELDS = ("project_id", "private_key", "client_email", "token_uri")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FcmConfig(BaseModel):
    """A Firebase project, reached with a service account's key."""

    model_config = ConfigDict(extra="forbid")
    service_account: SecretStr = Field(description="The service account's key file (JSON), from Firebase console → "
                                                   "Project settings → Service accounts → Generate new private key")
    api_url: str = Field("https://fcm.googleapis.com", pattern=r"^https?://[^/\s]+$",
                         description="Address of the FCM API (change it only for a test server)")

    @field_validator("service_account")
    @classmethod
    def _a_key(cls, value: SecretStr) -> SecretStr:
        try:
            key = json.loads(value.get_secret_value())
        except ValueError:
            raise ValueError("not JSON: paste the whole key file Firebase gave") from None
        missing = [name for name in KEY_FIELDS if not isinstance(key, dict) or not isinstance(key.get(name), str)]
        if missing:
            raise ValueError(f"not a service account key: {', '.join(missing)} missing")
        try:
            private = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
        except ValueError:
            raise ValueError("its private_key cannot be read") from None
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ValueError("its private_key is not an RSA key")
        return value

    def key(self) -> dict[str, Any]:
        """The service account's key."""
        return json.loads(self.service_account.get_secret_value())


def assertion(key: dict[str, Any], now: float) -> str:
    """The signed JWT that asks for an access token (RS256, valid one hour)."""
    header = {"alg": "RS256", "typ": "JWT", **({"kid": key["private_key_id"]} if key.get("private_key_id") else {})}
    claims = {"iss": key["client_email"], "scope": SCOPE, "aud": key["token_uri"], "iat": int(now),
              "exp": int(now) + 3600}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    private = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)  # checked when the connection was saved
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _call(ctx: Any, url: str, what: str, **options: Any) -> dict[str, Any]:
    try:
        response = ctx.http.post(url, **options)
    except BlockedAddressError as exc:
        raise ActionError(str(exc), retryable=False) from None
    except OutboundError as exc:
        raise ActionError(f"{what} did not answer: {exc}") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise ActionError(f"{what} is unavailable ({response.status_code}); the step will be tried again")
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code >= 400:
        error = answer.get("error") if isinstance(answer, dict) else None
        said = error.get("message") if isinstance(error, dict) else (error or response.text[:200])
        raise ActionError(f"{what} refused the connection {ctx.connection.name!r} ({response.status_code}): {said}",
                          retryable=False)
    return answer if isinstance(answer, dict) else {}


def access_token(config: FcmConfig, ctx: Any) -> str:
    """An access token for FCM, from the key's token endpoint."""
    key = config.key()
    answer = _call(ctx, key["token_uri"], "the token endpoint",
                   data={"grant_type": GRANT, "assertion": assertion(key, time.time())})
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise ActionError("the token endpoint gave no access token", retryable=False)
    return token


def body(note: Notification, content: dict[str, Any]) -> dict[str, Any]:
    """The `messages:send` body: a notification to the topic, its link for web and apps."""
    data = {"url": content["url"] or "", "tag": content["tag"], "topic": note.topic}
    fcm_message: dict[str, Any] = {
        "topic": note.topic, "notification": {"title": note.title, "body": note.body}, "data": data,
        "android": {"priority": PRIORITY[note.urgency], "ttl": f"{note.ttl}s",
                    "notification": {"tag": content["tag"]}},
        "apns": {"headers": {"apns-collapse-id": content["tag"]}},
    }
    if content["url"]:
        fcm_message["webpush"] = {"fcm_options": {"link": content["url"]}}
    return {"message": fcm_message}


def _send_url(config: FcmConfig) -> str:
    return f"{config.api_url}/v1/projects/{config.key()['project_id']}/messages:send"


def deliver(note: Notification, ctx: Any) -> dict[str, Any]:
    """Send to the FCM topic once per step; the counts (one message to the topic)."""
    config: FcmConfig = ctx.connection.config

    def send(content: dict[str, Any]) -> dict[str, Any]:
        token = access_token(config, ctx)
        answer = _call(ctx, _send_url(config), "Firebase Cloud Messaging", json=body(note, content),
                       headers={"Authorization": f"Bearer {token}"})
        return {"id": str(answer.get("name", ""))}

    return topic_once.deliver(note, ctx, send)


def describe(note: Notification, ctx: Any) -> dict[str, Any]:
    """The message a run would send; nothing is sent and no token is asked for."""
    config: FcmConfig = ctx.connection.config
    return topic_once.describe(note, ctx, lambda content: {"url": _send_url(config), "json": body(note, content)})


def check(config: FcmConfig, ctx: Any) -> str:
    """Get an access token with the key (nothing is sent)."""
    access_token(config, ctx)
    return f"signed in to Firebase project {config.key()['project_id']} as {config.key()['client_email']}"
