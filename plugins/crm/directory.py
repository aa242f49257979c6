"""The contact base as the `ContactDirectory` service: what the email campaign sends to, through `ctx.services`."""
from __future__ import annotations

from typing import Any

from beffroi import ListNotFound

from . import i18n
from .lists import recipients, skipped_count
from .records import NotFound
from .unsubscribe import footer_texts, unsubscribe_url


class BuiltinDirectory:
    """The built-in contact base's lists, consent and signed unsubscribe links, as a ContactDirectory."""

    def languages(self) -> tuple[str, ...]:
        """The languages of the unsubscribe page (its catalogs), French first."""
        return i18n.languages()

    def audience(self, ctx: Any, list_name: str) -> tuple[list[dict[str, Any]], int]:
        """(members subscribed with consent, members skipped) of a list; ListNotFound for an unknown list."""
        try:
            return recipients(ctx.db, list_name), skipped_count(ctx.db, list_name)
        except NotFound as exc:
            raise ListNotFound(str(exc)) from None

    def unsubscribe_url(self, ctx: Any, contact_id: str, list_name: str, language: str | None = None) -> str:
        """The signed link to the public unsubscribe page, under this Beffroi's public URL."""
        return unsubscribe_url(ctx.signer, ctx.public_url, contact_id, list_name, language)

    def footer_texts(self, language: str) -> tuple[str, str]:
        """The footer's link label and plain-text line in one of the page's languages."""
        return footer_texts(language)
