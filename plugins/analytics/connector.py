"""What the analytics connectors share: their Protocol, the request they build, and readable errors.

A connector (Matomo, Plausible) only says how one event becomes one HTTP request and why its tool may
refuse one; sending, retries and the meaning of HTTP statuses are the same for all and live here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import AnyHttpUrl

from beffroi import ActionError, BlockedAddressError, OutboundError, RetryAfterTooLongError, redact

from .store import Event

USER_AGENT = "Beffroi (server-side events)"


@dataclass
class Outgoing:
    """One HTTP request carrying an event: form fields (`form`) or a JSON body (`json`)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None
    json: Any = None

    def shown(self) -> dict[str, Any]:
        """The request as a preview shows it, credentials masked."""
        shown: dict[str, Any] = {"method": self.method, "url": self.url, "headers": redact(self.headers)}
        if self.form is not None:
            shown["form"] = redact(self.form)
        if self.json is not None:
            shown["json"] = self.json
        return shown


class AnalyticsConnector(Protocol):
    """A tool that receives Beffroi's events; each connection type of the `analytics` tool type has one."""

    TITLE: str  # the tool's name in messages ("Matomo")
    CREDENTIALS_HINT: str  # what to check when the tool answers 401/403

    def build(self, event: Event, config: Any, ctx: Any) -> Outgoing:
        """The request that sends `event` to the tool of a connection with this `config`."""

    def refused(self, status: int, body: str) -> str:
        """Why the tool refused an event with this 4xx answer, in the comms officer's words."""


def base(url: AnyHttpUrl | str) -> str:
    """A configured base URL without its trailing slash."""
    return str(url).rstrip("/")


def fallback_url(ctx: Any) -> str:
    """The page reported for an event that names none: the recipe in this Beffroi."""
    return f"{ctx.public_url.rstrip('/')}/recipes/{ctx.recipe}"


def call(outgoing: Outgoing, title: str, ctx: Any) -> Any:
    """Send a request through ctx.http (its timeout: the engine's; the step's is enforced by the runner).

    Neither Matomo nor Plausible deduplicates a tracking request, so one is never replayed after a 5xx or
    a lost answer (that would count the event twice; the step's retry decides). A 429 comes from their
    rate limit before the event is counted, so that one is sent again after its Retry-After.
    Transport failures become ActionErrors that say what happened.
    """
    try:
        return ctx.http.request(outgoing.method, outgoing.url, headers=outgoing.headers, data=outgoing.form,
                                json=outgoing.json, resend_on_429=True)
    except BlockedAddressError as exc:
        raise ActionError(f"{title} cannot be reached from Beffroi: {exc}", retryable=False) from None
    except RetryAfterTooLongError as exc:
        raise ActionError(f"{title} is limiting Beffroi's requests (HTTP {exc.status}) and asked to wait "
                          f"{exc.wait:g} s, longer than Beffroi waits within one attempt") from None
    except OutboundError as exc:
        text = str(exc)
        if "timeout" in text:
            raise ActionError(f"{title} did not answer in time ({text})") from None
        raise ActionError(f"{title} could not be reached ({text})") from None


def deliver(connector: AnalyticsConnector, event: Event, config: Any, ctx: Any) -> dict[str, Any]:
    """Send one event to one connection's tool; returns what to journal, or raises a readable ActionError."""
    title = connector.TITLE
    response = call(connector.build(event, config, ctx), title, ctx)
    status = response.status_code
    if 200 <= status < 300:
        return {"status_code": status}
    if status in (401, 403):
        raise ActionError(f"{title} refused the credentials (HTTP {status}); {connector.CREDENTIALS_HINT}",
                          retryable=False)
    if status == 429:
        raise ActionError(f"{title} is limiting Beffroi's requests (HTTP 429) and still was after the waits "
                          "it asked for")
    if status >= 500:
        raise ActionError(f"{title} answered HTTP {status} (a server error)")
    raise ActionError(f"{title} refused the event (HTTP {status}): {connector.refused(status, response.text)}",
                      retryable=False)
