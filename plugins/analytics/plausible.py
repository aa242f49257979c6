"""The `plausible` connection type: events sent through Plausible's Events API (`POST /api/event`).

Plausible's Events API needs no credentials: the `domain` names the site. Each Beffroi event becomes one
custom event (`pageview` if it is named so) whose `url` is the event's link, or the recipe's page in
Beffroi when it has none. Plausible reads the UTM parameters of that link itself, so a link tagged with the
`utm` filter is attributed to its campaign. Props carry the event's properties (scalars as they are, lists
and objects as JSON text, within Plausible's limits) plus `recipe` and `campaign`.

Plausible counts unique visitors from User-Agent and X-Forwarded-For. There is no visitor behind a
server-side event, so Beffroi sends its own User-Agent and a documentation address (192.0.2.1, RFC 5737)
that is nobody's and locates nowhere: Beffroi's events count as one visitor a day and never as a person.
"""
from __future__ import annotations

import json
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from beffroi import ActionError, ConnectionSpec

from .connector import USER_AGENT, Outgoing, base, call, fallback_url
from .store import Event

TITLE = "Plausible"
CREDENTIALS_HINT = ("Plausible's Events API needs none, so something in front of it (a proxy, a firewall) "
                    "refuses Beffroi; ask IT")
SERVER_SIDE_ADDRESS = "192.0.2.1"
MAX_PROPS, MAX_KEY, MAX_VALUE = 30, 300, 2000  # Plausible's limits on custom properties


class PlausibleConfig(BaseModel):
    """A site in Plausible (plausible.io or a self-hosted Plausible CE)."""

    model_config = ConfigDict(extra="forbid")
    base_url: AnyHttpUrl = Field(AnyHttpUrl("https://plausible.io"),
                                 description="Address of Plausible: https://plausible.io, or your own instance")
    domain: str = Field(min_length=1, max_length=300, description="The site's domain as registered in Plausible, "
                                                                  "e.g. www.example.org")


def _scalar(value: Any) -> Any:
    """A prop value Plausible accepts: strings, numbers and booleans; anything else as JSON text."""
    if isinstance(value, (str, int, float, bool)):
        return value[:MAX_VALUE] if isinstance(value, str) else value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)[:MAX_VALUE]


def props(event: Event) -> dict[str, Any]:
    """The event's custom properties for Plausible: recipe and campaign first, then the event's own."""
    found: dict[str, Any] = {}
    if event.recipe:
        found["recipe"] = event.recipe
    if event.campaign:
        found["campaign"] = event.campaign
    for key, value in event.properties.items():
        if key == "url" or value is None or key in found or len(found) >= MAX_PROPS:
            continue  # the link is the event's url already; Plausible drops null props
        found[str(key)[:MAX_KEY]] = _scalar(value)
    return found


def build(event: Event, config: PlausibleConfig, ctx: Any) -> Outgoing:
    """The Events API request for one event."""
    body = {"name": event.name, "url": event.url or fallback_url(ctx), "domain": config.domain, "props": props(event)}
    headers = {"User-Agent": USER_AGENT, "X-Forwarded-For": SERVER_SIDE_ADDRESS, "Content-Type": "application/json"}
    return Outgoing("POST", f"{base(config.base_url)}/api/event", headers=headers, json=body)


def refused(status: int, body: str) -> str:
    """Plausible explains a 400 as JSON `errors`; show them."""
    try:
        errors = json.loads(body).get("errors")
    except (ValueError, AttributeError):
        errors = None
    if isinstance(errors, dict) and errors:
        return "; ".join(f"{field}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                         for field, msgs in errors.items())[:300]
    return body.strip()[:200] or "no reason given"


def test(config: PlausibleConfig, ctx: Any) -> str:
    """Check that Plausible answers at this address (its tracker script is served by every instance).

    The Events API has no way to ask whether a domain is registered without recording an event.
    """
    url = f"{base(config.base_url)}/js/script.js"
    response = call(Outgoing("GET", url), TITLE, ctx)
    if response.status_code != 200:
        raise ActionError(f"{url} answered HTTP {response.status_code}; is this the address of a Plausible?",
                          retryable=False)
    return f"Plausible answers; events go to the site {config.domain!r} (Plausible does not say whether it exists)"


SPEC = ConnectionSpec(key="plausible", tool_type="analytics", title="Plausible site", config_model=PlausibleConfig,
                      test=test, description="Sends tracked events to a Plausible site through its Events API.")
