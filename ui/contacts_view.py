"""How the contact pages read: the contact book service, the filters of the contacts list, a refusal of the
contact base said in the reader's language beside its field, and contacts shaped for the templates."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from beffroi import CONSENT_STATES, ActionError, ContactBook, ContactError, ContactFilters, Services

from . import i18n
from .routes import FieldProblem
from .web import N_, Refused, Visitor

CONSENT_NAMES = {"given": N_("Consent given"), "withdrawn": N_("Consent withdrawn"), "none": N_("No consent")}
# a refusal of the contact base, by field and kind, in plain words (the base's own text is English)
MESSAGES = {
    ("email", "invalid"): N_("Enter a valid e-mail address, like name@example.org."),
    ("email", "duplicate"): N_("Another contact already has this e-mail address."),
    ("first_name", "invalid"): N_("The first name can have at most 200 characters."),
    ("last_name", "invalid"): N_("The last name can have at most 200 characters."),
    ("organisation", "invalid"): N_("The organisation can have at most 300 characters."),
    ("consent_source", "invalid"): N_("The source of the consent can have at most 200 characters."),
    ("consent_text", "invalid"): N_("The text of the consent can have at most 5,000 characters."),
    ("tags", "invalid"): N_("A contact has at most 100 tags of at most 100 characters each."),
    ("list", "invalid"): N_("A list name has lowercase letters, digits, - _ and . only, for example press."),
    ("list", "not_found"): N_("There is no list with this name."),
}


def book(seen: Visitor) -> ContactBook:
    """The contact book the crm plugin provides; a 404 page that says so when no plugin provides one."""
    try:
        return Services(seen.engine.registry.services).get(ContactBook)
    except ActionError:  # ServiceUnavailable
        raise Refused(404, seen.gettext("The contact base is not installed (the crm plugin is disabled).")) from None


def problem(seen: Visitor, exc: ContactError, default_field: str = "email") -> FieldProblem:
    """A refusal of the contact base as a form problem, in the visitor's language where we know its wording."""
    where = exc.field or default_field
    message = MESSAGES.get((where, exc.kind))
    return FieldProblem(where, seen.gettext(message) if message else str(exc))


def actor(seen: Visitor) -> str:
    """Who the audit log names for this visitor's changes."""
    assert seen.user is not None
    return seen.user.email


@dataclass
class ContactSearch:
    """The filters of the contacts list as the query string gives them."""

    filters: ContactFilters
    before: str | None = None
    after: str | None = None
    problems: list[FieldProblem] = field(default_factory=list)

    @classmethod
    def read(cls, seen: Visitor) -> ContactSearch:
        """q, list, tag, consent and a cursor; an unknown consent state is a problem beside its field."""
        query = seen.request.query_params
        consent = query.get("consent", "").strip()
        problems = []
        if consent and consent not in CONSENT_STATES:
            problems.append(FieldProblem("consent", seen.gettext("Choose a consent state from the list.")))
            consent = ""
        filters = ContactFilters(q=query.get("q", "").strip()[:200], list_name=query.get("list", "").strip()[:100],
                                 tag=query.get("tag", "").strip()[:100], consent=consent)
        return cls(filters, query.get("before") or None, query.get("after") or None, problems)

    @property
    def active(self) -> bool:
        """True when a filter narrows the list."""
        f = self.filters
        return bool(f.q or f.list_name or f.tag or f.consent)

    def link(self, path: str, **cursor: str) -> str:
        """The address of another page of the same list."""
        f = self.filters
        pairs = [(k, v) for k, v in (("q", f.q), ("list", f.list_name), ("tag", f.tag), ("consent", f.consent)) if v]
        pairs += list(cursor.items())
        return f"{path}?{urlencode(pairs)}" if pairs else path


def consent_state(contact: dict[str, Any]) -> str:
    """given, withdrawn (once given, then taken back) or none."""
    if contact.get("consent"):
        return "given"
    return "withdrawn" if contact.get("consent_at") else "none"


def shown(seen: Visitor, contact: dict[str, Any]) -> dict[str, Any]:
    """A contact for the templates: full name, consent state, dates in the visitor's language and zone."""
    zone = seen.engine.settings.timezone
    name = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
    view = {**contact, "name": name, "consent_state": consent_state(contact),
            "consent_when": i18n.when(contact.get("consent_at"), seen.language, zone),
            "created": i18n.when(contact.get("created_at"), seen.language, zone),
            "updated": i18n.when(contact.get("updated_at"), seen.language, zone)}
    for key in ("subscribed_at", "unsubscribed_at"):
        if key in contact:
            view[key.replace("_at", "_when")] = i18n.when(contact.get(key), seen.language, zone)
    return view


def dated(seen: Visitor, entries: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Entries (memberships, consents) with their `<key>_when` dates in the visitor's language and zone."""
    zone = seen.engine.settings.timezone
    return [{**entry, **{f"{k}_when": i18n.when(entry.get(k), seen.language, zone) for k in keys}}
            for entry in entries]
