"""The `ntfy` connection type: a notification published to a topic of a (self-hosted) ntfy server.

One JSON publish (`POST /` with the topic in the body) per step: the app subscribed to the topic shows it.
The delivery journal holds the published message, so a retried step does not publish it again.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from beffroi import ActionError, BlockedAddressError, OutboundError

from . import topic_once
from .notification import Notification

PRIORITY = {"very-low": 1, "low": 2, "normal": 3, "high": 4}


class NtfyConfig(BaseModel):
    """An ntfy server and, when it asks for one, an access token."""

    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(pattern=r"^https?://[^/\s]+", description="Address of the ntfy server, e.g. "
                                                                     "https://ntfy.ville.example")
    token: SecretStr | None = Field(None, description="Access token (ntfy → Account → Access tokens), when the "
                                                      "server requires one")
    topic_prefix: str = Field("", pattern=r"^[A-Za-z0-9_-]{0,40}$", description="Put before each topic, e.g. "
                                                                                  "namur- (topics are shared by "
                                                                                  "everyone on a public server)")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def headers(self) -> dict[str, str]:
        """The headers of a publish (the token when there is one)."""
        headers = {"Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"
        return headers


def body(config: NtfyConfig, note: Notification, content: dict[str, Any]) -> dict[str, Any]:
    """The JSON publish of ntfy's API."""
    document: dict[str, Any] = {"topic": config.topic_prefix + note.topic, "title": note.title,
                                "message": note.body, "priority": PRIORITY[note.urgency]}
    if content["url"]:
        document["click"] = content["url"]
    return document


def _post(config: NtfyConfig, document: dict[str, Any], ctx: Any) -> dict[str, Any]:
    try:
        response = ctx.http.post(f"{config.base_url}/", json=document, headers=config.headers())
    except BlockedAddressError as exc:
        raise ActionError(str(exc), retryable=False) from None
    except OutboundError as exc:
        raise ActionError(f"the ntfy server did not answer: {exc}") from None
    if response.status_code in (401, 403):
        raise ActionError(f"the ntfy server refused the connection {ctx.connection.name!r} ({response.status_code}): "
                          "check its access token and that it may publish to this topic", retryable=False)
    if response.status_code == 429 or response.status_code >= 500:
        raise ActionError(f"the ntfy server is unavailable ({response.status_code}); the step will be tried again")
    if response.status_code >= 400:
        raise ActionError(f"the ntfy server refused the message ({response.status_code}): {response.text[:200]}",
                          retryable=False)
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    return {"id": str(answer.get("id", "")) if isinstance(answer, dict) else ""}


def deliver(note: Notification, ctx: Any) -> dict[str, Any]:
    """Publish to the topic once per step; the counts (one message to the topic)."""
    config: NtfyConfig = ctx.connection.config
    return topic_once.deliver(note, ctx, lambda content: _post(config, body(config, note, content), ctx))


def describe(note: Notification, ctx: Any) -> dict[str, Any]:
    """The publish a run would make; nothing is sent."""
    config: NtfyConfig = ctx.connection.config
    return topic_once.describe(note, ctx, lambda content: {"url": f"{config.base_url}/",
                                                           "json": body(config, note, content)})


def check(config: NtfyConfig, ctx: Any) -> str:
    """Ask the server's health endpoint (`GET /v1/health`)."""
    try:
        response = ctx.http.get(f"{config.base_url}/v1/health", headers=config.headers())
    except OutboundError as exc:
        raise ActionError(f"the ntfy server did not answer: {exc}", retryable=False) from None
    if response.status_code != 200:
        raise ActionError(f"the ntfy server answered {response.status_code} to /v1/health", retryable=False)
    return f"the ntfy server at {config.base_url} is up"
