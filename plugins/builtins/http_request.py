"""`http.request`: call any HTTP API through the shared, SSRF-guarded outbound client."""
from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from beffroi import ActionError, ActionSpec, redact

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class RequestInput(BaseModel):
    """One HTTP request; `json` or `body`, not both."""

    model_config = ConfigDict(extra="forbid")
    method: Method = "GET"
    url: str = Field(pattern=r"^https?://", description="http:// or https:// address")
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict, description="query-string parameters")
    json_: Any = Field(None, alias="json")
    body: str | None = None
    fail_on_status: bool = Field(True, description="fail the step on a 4xx/5xx answer")
    idempotent: bool = Field(False, description="a POST or PATCH the API deduplicates (for instance by its "
                                                "Idempotency-Key header): sent again after a server error or a "
                                                "lost answer, like a GET. Leave off unless the API's documentation "
                                                "says so: a replayed POST may otherwise act twice")

    @model_validator(mode="after")
    def _one_body(self):
        if self.json_ is not None and self.body is not None:
            raise ValueError("give either json or body, not both")
        return self


class RequestOutput(BaseModel):
    """The answer: status, headers, and the body as `json` (when it is JSON) or `text`."""

    status: int = Field(description="the HTTP status code (0 in a dry run: nothing was sent)")
    headers: dict[str, str] = Field(description="the answer's headers (credentials masked)")
    json_: Any = Field(None, alias="json", description="the body, when the answer is JSON")
    text: str | None = Field(None, description="the body as text, when it is not JSON")


def _headers(payload: RequestInput, ctx) -> dict[str, str]:
    headers = dict(payload.headers)
    if payload.method in ("POST", "PATCH") and not any(k.lower() == "idempotency-key" for k in headers):
        headers["Idempotency-Key"] = ctx.idempotency_key  # lets the remote side drop a retried duplicate
    return headers


def run(payload: RequestInput, ctx) -> RequestOutput:
    """Send the request and return the answer."""
    timeout = None
    if ctx.deadline is not None:
        timeout = min(ctx.http.timeout, max(0.1, ctx.deadline - time.monotonic()))
    response = ctx.http.request(payload.method, payload.url, headers=_headers(payload, ctx),
                                params=payload.params or None, json=payload.json_, content=payload.body,
                                timeout=timeout, idempotent=payload.idempotent)
    if payload.fail_on_status and response.status_code >= 400:
        raise ActionError(f"{payload.method} {response.url.host} answered "
                          f"{response.status_code} {response.reason_phrase}",
                          retryable=response.status_code >= 500 or response.status_code == 429)
    kind = response.headers.get("content-type", "")
    body: dict[str, Any] = {"text": response.text}
    if "json" in kind:
        try:
            body = {"json": response.json()}
        except ValueError:
            pass
    return RequestOutput(status=response.status_code, headers=redact(dict(response.headers)), **body)


def preview(payload: RequestInput, ctx) -> dict:
    """An empty answer, and the request that would be sent (credentials masked)."""
    sent = {"method": payload.method, "url": payload.url, "headers": redact(_headers(payload, ctx))}
    if payload.params:
        sent["params"] = redact(payload.params)
    if payload.json_ is not None:
        sent["json"] = payload.json_
    if payload.body is not None:
        sent["body"] = payload.body
    # the answer's fields are empty placeholders (status 0): they exist only once the request is sent
    return {"status": 0, "headers": {}, "json": None, "text": None, "would_send": sent}


SPEC = ActionSpec(key="http.request", title="HTTP request", input_model=RequestInput, output_model=RequestOutput,
                  run=run, preview=preview, description="Calls an HTTP API and returns its answer.")
