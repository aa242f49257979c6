"""The seven tool types in plain words (FR/EN through the catalogs), in the order a comms team thinks of them, and the
plain-language titles of the built-in connection types."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .web import N_

# key → (name, what it is for); shown translated
TOOL_TYPES: dict[str, tuple[str, str]] = {
    "wcms": (N_("Website"), N_("The site or blog: posts and pages (WordPress, news feeds).")),
    "smms": (N_("Social media"), N_("Accounts on social networks such as Mastodon and Bluesky.")),
    "email": (N_("E-mail and newsletters"), N_("Mail servers and newsletter tools.")),
    "crm": (N_("Contacts"), N_("Contacts, press lists and their consent.")),
    "mcms": (N_("Mobile app"), N_("Push notifications and news in the app.")),
    "ecm": (N_("Documents"), N_("Folders and documents (Nextcloud, SharePoint, a shared folder).")),
    "analytics": (N_("Audience statistics"), N_("Events and campaign results (Matomo, Plausible).")),
}

# the built-in connection types' titles and descriptions, so that they are shown translated
TYPE_TEXTS = (
    N_("Mastodon account"), N_("Posts through the Mastodon API with an access token."),
    N_("Bluesky account"), N_("Posts through the AT Protocol with an app password."),
    N_("Social media outbox (publishes nothing)"),
    N_("Keeps each post in Beffroi's outbox for review; the default without a connection."),
    N_("Mail server (SMTP)"), N_("Sends through your organisation's mail server or a provider's SMTP relay."),
    N_("Email outbox (nothing is sent)"),
    N_("Records each message in Beffroi's outbox instead of sending it: to try recipes safely. Steps without a "
       "connection use it too."),
    N_("WordPress site"),
    N_("Reads and creates posts through the WordPress REST API, signed in with an application password."),
    N_("Matomo site"), N_("Sends tracked events to a Matomo site through its HTTP Tracking API."),
    N_("Plausible site"), N_("Sends tracked events to a Plausible site through its Events API."),
)


def tool_type_name(key: str | None, gettext: Callable[[str], str]) -> str:
    """The plain name of a tool type in the visitor's language (its key for a tool type of a plugin's own)."""
    if key in TOOL_TYPES:
        return gettext(TOOL_TYPES[key][0])
    return key or gettext(N_("Other"))


def tool_type_order(key: str | None) -> tuple[int, str]:
    """Sorts tool types: the seven known ones first, in TOOL_TYPES' order, then the others by key."""
    keys = list(TOOL_TYPES)
    return (keys.index(key), "") if key in TOOL_TYPES else (len(keys), key or "~")


def grouped(items: Iterable[Any], tool_type: Callable[[Any], str | None],
            gettext: Callable[[str], str]) -> list[dict[str, Any]]:
    """Items grouped by tool type, groups in tool_type_order: [{key, name, description, items}]."""
    groups: dict[str | None, list[Any]] = {}
    for item in items:
        groups.setdefault(tool_type(item), []).append(item)
    return [{"key": key or "other", "name": tool_type_name(key, gettext),
             "description": gettext(TOOL_TYPES[key][1]) if key in TOOL_TYPES else "", "items": found}
            for key, found in sorted(groups.items(), key=lambda pair: tool_type_order(pair[0]))]
