"""The `matomo` connection type: events sent through Matomo's HTTP Tracking API (`matomo.php`).

Each Beffroi event becomes one Matomo event (`ca=1`), mapped as:

* category `e_c` = the event's campaign, or the recipe's name when it has none;
* action `e_a` = the event's name;
* name `e_n` = the event's link (`url`, i.e. `properties.url`), left out when there is none;
* value `e_v` = `properties.value` when it is a number.

Other properties stay in Beffroi's own store: Matomo events carry only these four fields. The request is a
POST (the token never appears in a URL, so never in an access log) with `send_image=0` (Matomo answers 204).
With a `token_auth`, `cdt` carries the time Beffroi stored the event, so a step retried hours later is
still counted at the right time; without one, `cdt` is only sent while Matomo accepts it unauthenticated
(under 24 hours). The visitor id `_id` is derived from the run, so one run is one visitor.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr

from beffroi import ActionError, ConnectionSpec

from .connector import USER_AGENT, Outgoing, base, call, fallback_url
from .store import Event

TITLE = "Matomo"
CREDENTIALS_HINT = "check the connection's token_auth (Matomo → Personal → Security → Auth tokens)"
UNAUTHENTICATED_CDT_SECONDS = 23 * 3600  # Matomo wants token_auth for a cdt older than 24 h; keep a margin


class MatomoConfig(BaseModel):
    """A site in a Matomo instance."""

    model_config = ConfigDict(extra="forbid")
    base_url: AnyHttpUrl = Field(description="Address of your Matomo, e.g. https://stats.example.org "
                                             "(the folder that holds matomo.php)")
    site_id: int = Field(ge=1, description="The site's ID in Matomo (Administration → Websites → Manage)")
    token_auth: SecretStr | None = Field(None, description="Optional auth token of a user with write access to the "
                                                           "site; needed to record events at their original time "
                                                           "when a step is retried more than a day later")


def _root(config: MatomoConfig) -> str:
    """The Matomo folder, whether the address was given with or without `matomo.php`."""
    root = base(config.base_url)
    for script in ("/matomo.php", "/piwik.php", "/index.php"):
        if root.endswith(script):
            return root[: -len(script)]
    return root


def visitor_id(seed: str) -> str:
    """A stable 16-hex-digit Matomo visitor id for a run (Matomo requires exactly this form)."""
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def build(event: Event, config: MatomoConfig, ctx: Any) -> Outgoing:
    """The tracking request for one event (see the module docstring for the mapping)."""
    form = {"idsite": str(config.site_id), "rec": "1", "apiv": "1", "send_image": "0", "ca": "1", "bots": "1",
            "url": event.url or fallback_url(ctx), "e_c": event.campaign or event.recipe or "beffroi",
            "e_a": event.name, "_id": visitor_id(event.run_id or event.recipe or "beffroi"),
            "rand": secrets.token_hex(4)}
    if event.url:
        form["e_n"] = event.url
    value = event.properties.get("value")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        form["e_v"] = str(value)
    age = (datetime.now(UTC) - event.occurred_at).total_seconds()
    if config.token_auth is not None:
        form["token_auth"] = config.token_auth.get_secret_value()
        form["cdt"] = str(int(event.occurred_at.timestamp()))
    elif age < UNAUTHENTICATED_CDT_SECONDS:
        form["cdt"] = str(int(event.occurred_at.timestamp()))
    return Outgoing("POST", f"{_root(config)}/matomo.php", headers={"User-Agent": USER_AGENT}, form=form)


def refused(status: int, body: str) -> str:
    """Matomo's tracker says nothing in its body (a GIF or nothing), so say what it refuses."""
    return ("check the connection's site_id (the site must exist in Matomo) and its token_auth "
            "(a missing or wrong one is refused for events older than 24 hours)")


def test(config: MatomoConfig, ctx: Any) -> str:
    """Check the tracking endpoint answers; with a token_auth, also that Matomo accepts it for the site."""
    root = _root(config)
    if config.token_auth is None:
        response = call(Outgoing("GET", f"{root}/matomo.php"), TITLE, ctx)
        if response.status_code != 200 or "Matomo" not in response.text:
            raise ActionError(f"{root}/matomo.php answered HTTP {response.status_code}, not as a Matomo tracker does",
                              retryable=False)
        return f"Matomo's tracker answers (site {config.site_id} is checked only with a token_auth)"
    form = {"module": "API", "method": "SitesManager.getSiteFromId", "idSite": str(config.site_id), "format": "json",
            "token_auth": config.token_auth.get_secret_value()}
    response = call(Outgoing("POST", f"{root}/index.php", form=form), TITLE, ctx)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    message = str(answer.get("message", "")) if isinstance(answer, dict) else ""
    if response.status_code in (401, 403) or (
            isinstance(answer, dict) and answer.get("result") == "error"
            and any(word in message.lower() for word in ("token", "authenticate", "access", "logged in"))):
        raise ActionError(f"Matomo refused the credentials (HTTP {response.status_code}); {CREDENTIALS_HINT}",
                          retryable=False)
    if isinstance(answer, dict) and answer.get("result") == "error":
        raise ActionError(f"Matomo refused site {config.site_id}: {message[:200]}", retryable=False)
    if response.status_code != 200 or not isinstance(answer, dict) or "idsite" not in answer:
        raise ActionError(f"{root}/index.php answered HTTP {response.status_code}, not as Matomo's API does",
                          retryable=False)
    return f"Matomo accepts the token_auth for site {answer['idsite']} ({answer.get('name', '')})"


SPEC = ConnectionSpec(key="matomo", tool_type="analytics", title="Matomo site", config_model=MatomoConfig, test=test,
                      description="Sends tracked events to a Matomo site through its HTTP Tracking API.")
