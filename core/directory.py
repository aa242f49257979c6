"""The contact directory: what a plugin keeping contacts (crm) offers the plugins that send to them (email)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


class ListNotFound(ValueError):
    """The contact directory has no list of that name."""


@runtime_checkable
class ContactDirectory(Protocol):
    """Contact lists to send messages to, with consent and unsubscribe links; a crm plugin provides it.

    A plugin provides it with `register_services` (`ServiceSpec(protocol=ContactDirectory, provider=…)`); an
    action obtains it with `ctx.services.get(ContactDirectory)`, which says so when no plugin provides one.
    Contacts are dicts with at least `id` and `email` (and `first_name`, `last_name`, `organisation`, `custom`).
    """

    def languages(self) -> Sequence[str]:
        """The languages unsubscribe links and footers exist in, the default first."""
        ...

    def audience(self, ctx: Any, list_name: str) -> tuple[list[dict[str, Any]], int]:
        """(members of the list who may be sent to, count of members skipped: unsubscribed or without consent).

        ListNotFound for an unknown list; ValueError for a name that cannot be a list's.
        """
        ...

    def unsubscribe_url(self, ctx: Any, contact_id: str, list_name: str, language: str | None = None) -> str:
        """The public link that takes one contact off one list; `language`: the page's default (the list's)."""
        ...

    def footer_texts(self, language: str) -> tuple[str, str]:
        """A message footer in `language`: the link's label and the plain-text line (with `%(url)s`)."""
        ...
