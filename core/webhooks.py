"""Webhook delivery checks: shared-secret token, HMAC-SHA256 of the body (GitHub style), or timestamped HMAC.

Pure functions: the HTTP route reads the request and calls `verify()`; a WebhookRejected carries the status
to answer. Messages name what is wrong and where, never the secret or what the sender presented.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

TIMESTAMP_TOLERANCE = 300  # seconds either side of now
DEFAULT_SIGNATURE_HEADER = "X-Hub-Signature-256"
DEFAULT_TIMESTAMP_HEADER = "X-Beffroi-Timestamp"
MAX_DELIVERY_ID = 200  # trigger_seen keys hold 300 characters; longer ids are hashed
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
NEEDS_SECRET = ("token", "hmac-sha256", "hmac-sha256-timestamped")


class WebhookConfig(BaseModel):
    """How a webhook delivery is authenticated and deduplicated: the options of every webhook trigger.

    A plugin's webhook trigger (`kind="webhook"`) has a config model extending this one, with its own defaults
    (`check: Literal["hmac-sha256"] = "hmac-sha256"`, `signature_header: str = "X-Agenda-Signature"`) and fields.
    """

    model_config = ConfigDict(extra="forbid")
    check: Literal["token", "hmac-sha256", "hmac-sha256-timestamped", "none"] = Field(
        "token", description="shared-secret token, HMAC signature of the body, or none (needs public: true)")
    secret: SecretStr | None = Field(None, description="the shared token or HMAC key")
    token_header: str = "X-Beffroi-Token"
    signature_header: str = "X-Hub-Signature-256"
    timestamp_header: str = "X-Beffroi-Timestamp"
    delivery_header: str | None = Field(None,
                                        description="header carrying a unique delivery id, e.g. X-GitHub-Delivery")
    public: bool = Field(False, description="accept unauthenticated deliveries (must be explicit); public: true "
                                            "without a check means check: none")

    @model_validator(mode="before")
    @classmethod
    def _public_means_no_check(cls, data: Any) -> Any:
        """`public: true` alone is a webhook anyone may call: its check is `none`, unless one (or a secret) is given."""
        if isinstance(data, dict) and data.get("public") is True and data.get("check") is None \
                and not data.get("secret"):
            data = {**data, "check": "none"}
        return data


class WebhookRejected(Exception):
    """A delivery refused: `status` is the HTTP status to answer (401 credentials, 400 malformed request)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, case-insensitively (starlette Headers already are; plain dicts are not)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _same(a: str, b: str) -> bool:
    """Constant-time comparison of two texts (compare_digest refuses non-ASCII str, so compare bytes)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


def _hex_hmac(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()


def _check_signature(headers: Mapping[str, str], name: str, secret: str, payload: bytes) -> None:
    presented = _header(headers, name)
    if not presented:
        raise WebhookRejected(401, f"missing signature: send 'sha256=<hex HMAC-SHA256>' in the {name} header")
    match = _SIGNATURE.fullmatch(presented.strip())
    if match is None:
        raise WebhookRejected(401, f"malformed signature in the {name} header: expected 'sha256=' and 64 hex digits")
    if not _same(match.group(1).lower(), _hex_hmac(secret, payload)):
        raise WebhookRejected(401, f"invalid signature in the {name} header")


def verify(config: WebhookConfig, *, headers: Mapping[str, str], query: Mapping[str, str], body: bytes,
           now: float | None = None) -> None:
    """Raise WebhookRejected unless the delivery passes the recipe's check."""
    check = config.check
    if check == "none":
        if config.public:
            return
        raise WebhookRejected(401, "this webhook has no check and is not public: deliveries are refused")
    if check not in NEEDS_SECRET:
        raise WebhookRejected(401, f"unknown webhook check {check!r}")
    secret = config.secret.get_secret_value() if config.secret is not None else ""
    if not secret:
        raise WebhookRejected(401, "webhook has no secret configured")
    if check == "token":
        presented = _header(headers, config.token_header) or query.get("token")
        if not presented:
            raise WebhookRejected(401, f"missing token: send it in the {config.token_header} header "
                                       "or the ?token= query parameter")
        if not _same(presented, secret):
            raise WebhookRejected(401, "invalid token")
    elif check == "hmac-sha256":
        _check_signature(headers, config.signature_header, secret, body)
    else:
        raw = (_header(headers, config.timestamp_header) or "").strip()
        if not raw:
            raise WebhookRejected(400, f"missing timestamp: send Unix seconds in the {config.timestamp_header} header")
        if _TIMESTAMP.fullmatch(raw) is None:
            raise WebhookRejected(400, f"malformed timestamp in the {config.timestamp_header} header: "
                                       "expected Unix seconds")
        _check_signature(headers, config.signature_header, secret, f"{raw}.".encode() + body)
        drift = (time.time() if now is None else now) - int(raw)
        if abs(drift) > TIMESTAMP_TOLERANCE:
            raise WebhookRejected(400, f"timestamp is {abs(drift):.0f} s {'old' if drift > 0 else 'in the future'}; "
                                       f"deliveries are accepted within {TIMESTAMP_TOLERANCE} s of the server clock")


def delivery_id(config: WebhookConfig, headers: Mapping[str, str]) -> str | None:
    """The delivery's unique id from `config.delivery_header` (None when unset or absent); long ids are hashed."""
    if not config.delivery_header:
        return None
    value = (_header(headers, config.delivery_header) or "").strip()
    if not value:
        return None
    if len(value) > MAX_DELIVERY_ID:
        return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()
    return value


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers a sender adds: the GitHub-style signature, or the timestamped one with its timestamp header."""
    if timestamp is None:
        return {DEFAULT_SIGNATURE_HEADER: "sha256=" + _hex_hmac(secret, body)}
    return {DEFAULT_TIMESTAMP_HEADER: str(timestamp),
            DEFAULT_SIGNATURE_HEADER: "sha256=" + _hex_hmac(secret, f"{timestamp}.".encode() + body)}


def config_problems(config: WebhookConfig) -> list[str]:
    """What makes a webhook configuration unsafe or unusable (for recipe validation)."""
    problems = []
    if config.check == "none" and not config.public:
        problems.append("a webhook needs a check (token or HMAC) unless with.public is true")
    if config.check in NEEDS_SECRET and (config.secret is None or not config.secret.get_secret_value()):
        hint = " (or leave check out: public: true alone accepts every delivery)" if config.public else ""
        problems.append(f"with.secret is required for check {config.check}{hint}")
    return problems
