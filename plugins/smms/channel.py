"""Readable HTTP failures for smms connectors; `Channel`, `Post` and `Image` (the protocol every connector implements)
come from the facade and are re-exported here for the plugin's modules.

A connection type of the smms tool type gives, through its config model's `channel(account)` method, an
object following the `Channel` protocol; `smms.publish` only speaks to that protocol, so a new network is
a new connection type, nothing else.
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from beffroi import (
    ActionContext,
    ActionError,
    BlockedAddressError,
    OutboundError,
    RetryAfterTooLongError,
)


def where(url: str) -> str:
    """scheme://host/path of an address, for messages (no query string, which may carry a secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def send(ctx: ActionContext, account: str, network: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request through the shared client; a network failure becomes a readable ActionError."""
    try:
        return ctx.http.request(method, url, **kwargs)
    except BlockedAddressError as exc:
        raise ActionError(f"{account}: {network} address refused by the network rules ({exc})",
                          retryable=False) from None
    except RetryAfterTooLongError as exc:
        raise ActionError(f"{account}: {network} is limiting the rate of requests and asked to wait "
                          f"{exc.wait:g} s before the next one") from None
    except OutboundError as exc:
        if "timeout" in str(exc):
            raise ActionError(f"{account}: {network} did not answer in time ({exc})") from None
        raise ActionError(f"{account}: {network} could not be reached ({exc})") from None


def server_message(response: httpx.Response) -> str:
    """The error text a Mastodon or XRPC server put in its JSON answer, shortened; else the HTTP reason."""
    try:
        body = response.json()
    except ValueError:
        body = None
    text = ""
    if isinstance(body, dict):
        text = str(body.get("message") or body.get("error_description") or body.get("error") or "")
    text = " ".join(text.split())[:200]
    return text or f"{response.status_code} {response.reason_phrase}".strip()


def failure(account: str, network: str, response: httpx.Response, doing: str) -> ActionError:
    """The ActionError for an unsuccessful answer: refused credentials and rejections are not retried."""
    status, message = response.status_code, server_message(response)
    if status == 401:
        return ActionError(f"{account}: {network} refused the credentials ({message})", retryable=False)
    if status == 403:
        return ActionError(f"{account}: {network} does not allow this account to {doing} ({message})",
                           retryable=False)
    if status == 429:
        wait = response.headers.get("Retry-After") or response.headers.get("RateLimit-Reset")
        hint = f", retry after {wait}" if wait else ""
        return ActionError(f"{account}: {network} is limiting the rate of requests{hint} ({message})")
    if status >= 500:
        return ActionError(f"{account}: {network} had a server error while trying to {doing} ({message})")
    if status == 404:
        return ActionError(f"{account}: {network} answered 404 while trying to {doing}: "
                           "is the server address right?", retryable=False)
    return ActionError(f"{account}: {network} refused to {doing} ({message})", retryable=False)


def json_of(response: httpx.Response, account: str, network: str) -> dict[str, Any]:
    """The JSON object of a successful answer, or a readable error when it is something else."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ActionError(f"{account}: {network} sent an unexpected answer (not a JSON object); "
                          "is the server address right?", retryable=False)
    return body


def pause(ctx: ActionContext, seconds: float) -> bool:
    """Sleep unless that would pass the step's deadline; False when there is no time left."""
    if ctx.deadline is not None and time.monotonic() + seconds > ctx.deadline:
        return False
    time.sleep(seconds)
    return True
