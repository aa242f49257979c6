"""The catalog of actions, triggers and connection types in the visitor's language, grouped by tool type.

Plugins describe what they register in English (`title`, `description`). The French (and plain English) texts of
the built-in ones live in `locale/<lang>/LC_MESSAGES/catalog.po`, whose msgid is the plugin's English text; a
third-party plugin's text without a translation is shown as it is. A test fails when a built-in has no French title.
The labels, hints and choices of the built-in actions' and triggers' form fields are in `fields.po`, with the
message context `field` (`field_text`).
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import i18n
from .web import N_

# The tool types of DESIGN.md, in the order the catalog shows them, then the engine's own steps, then the rest.
TOOL_TYPES = ("ecm", "crm", "email", "wcms", "mcms", "smms", "analytics")
BUILTINS, OTHER = "builtins", "other"
GROUPS = (*TOOL_TYPES, BUILTINS, OTHER)
TOOL_TYPE_NAMES = {
    "ecm": N_("Documents (ECM)"),
    "crm": N_("Contacts (CRM)"),
    "email": N_("E-mail and newsletters"),
    "wcms": N_("Website"),
    "mcms": N_("Mobile app"),
    "smms": N_("Social media"),
    "analytics": N_("Analytics"),
    BUILTINS: N_("Flow and data"),
    OTHER: N_("Other tools"),
}
TOOL_TYPE_HINTS = {
    "ecm": N_("Folders and documents: shared drives, Nextcloud, SharePoint."),
    "crm": N_("People, mailing lists and their consent."),
    "email": N_("Messages to a few people and campaigns to a list."),
    "wcms": N_("Posts and pages of your site or blog."),
    "mcms": N_("Push notifications and news of your app."),
    "smms": N_("Posts on Mastodon, Bluesky and other networks."),
    "analytics": N_("What your publications achieved."),
    BUILTINS: N_("Beffroi’s own steps: wait, shape data, call another system."),
    OTHER: N_("Steps added by other plugins."),
}
FIELD = "field"  # the message context of the texts of the plugins' form fields (locale/*/LC_MESSAGES/fields.po)
# how each kind of trigger starts a run, in plain words
TRIGGER_KINDS = {
    "manual": N_("Started by hand"),
    "webhook": N_("Started by another system"),
    "poll": N_("Checks for news regularly"),
    "schedule": N_("On a schedule"),
}


def translated(text: str, language: str) -> str:
    """A catalog text (a plugin's English title or description) in `language`; the text itself when untranslated."""
    return i18n.translations(language).gettext(text) if text else ""


def field_text(text: str, language: str) -> str:
    """A text of a plugin's form field (a label, a hint, a choice) in `language`: its entry with the context `field`
    (`fields.po`, where `To` is a recipient and `pending` a post's status), else its plain catalog entry, else the
    text itself."""
    if not text:
        return ""
    found = i18n.translations(language).pgettext(FIELD, text)
    return found if found != text else translated(text, language)


def field_gettext(language: str) -> Callable[..., str]:
    """The gettext of forms generated from plugins' schemas (the builder's): `field_text`, %(name)s values filled
    in; any other message of the catalogs is translated as the visitor's gettext does."""
    def translate(message: str, /, **values: Any) -> str:
        found = field_text(message, language)
        return found % values if values else found
    return translate


def folded(text: str) -> str:
    """Text for matching: lowercase, without accents (`Élément` and `element` match)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tool_type_of(registry: Any, spec: Any) -> str:
    """The group of an action, trigger or connection type: its tool type, `builtins` or `other`.

    A connection type says its tool type; an action or trigger is its namespace's (`smms.publish`), else the tool
    type of the connection it needs; the engine's own (`flow.delay`, `builtins.webhook`) are `builtins`.
    """
    declared = getattr(spec, "tool_type", None)
    if isinstance(declared, str):
        return declared if declared in TOOL_TYPES else OTHER
    namespace = spec.key.split(".", 1)[0]
    if namespace in TOOL_TYPES:
        return namespace
    needed = getattr(spec, "connection_type", None)
    if needed in TOOL_TYPES:
        return needed
    if needed in registry.connection_types:
        kind = registry.connection_types[needed].tool_type
        return kind if kind in TOOL_TYPES else OTHER
    owner = registry.owners.get(("actions", spec.key)) or registry.owners.get(("triggers", spec.key))
    plugin = registry.plugins.get(owner) if owner else None
    return BUILTINS if plugin is not None and plugin.builtin else OTHER


def tool_type_name(tool_type: str, language: str) -> str:
    """The plain name of a tool type (`smms` → "Social media"); an unknown one is shown as its key."""
    name = TOOL_TYPE_NAMES.get(tool_type)
    return translated(name, language) if name else tool_type


@dataclass(frozen=True)
class Described:
    """An action, trigger or connection type as the UI shows it, in one language."""

    key: str
    title: str
    description: str
    tool_type: str
    tool_type_name: str
    kind: str = ""  # a trigger's kind (manual, webhook, poll, schedule), said in plain words by `kind_name`
    kind_name: str = ""
    search_text: str = ""  # folded text the search matches: both languages' texts, the key, the tool type

    def matches(self, query: str) -> bool:
        """True when every word of the query is found in the entry (case and accents ignored)."""
        return all(word in self.search_text for word in folded(query).split())


def describe(registry: Any, spec: Any, language: str) -> Described:
    """An action, trigger or connection type spec in `language` (its title, description and tool type)."""
    group = tool_type_of(registry, spec)
    title, description = translated(spec.title, language), translated(spec.description, language)
    group_name = tool_type_name(group, language)
    kind = getattr(spec, "kind", "") if not hasattr(spec, "tool_type") else ""
    kind_name = translated(TRIGGER_KINDS[kind], language) if kind in TRIGGER_KINDS else ""
    texts = (title, description, spec.title, spec.description, spec.key, group, group_name,
             tool_type_name(group, "en"), kind_name)
    search = folded(" ".join(dict.fromkeys(t for t in texts if t)))
    return Described(spec.key, title, description, group, group_name, kind, kind_name, search)


@dataclass(frozen=True)
class Group:
    """The entries of one tool type, in the order of their titles."""

    tool_type: str
    name: str
    hint: str
    entries: list[Described]

    def matching(self, query: str) -> list[Described]:
        """The entries matching `query` (all of them for an empty query)."""
        return [entry for entry in self.entries if entry.matches(query)]


def grouped(registry: Any, kind: str, language: str) -> list[Group]:
    """Every action (kind `actions`) or trigger (`triggers`), grouped by tool type in GROUPS order."""
    table = registry.actions if kind == "actions" else registry.triggers
    found: dict[str, list[Described]] = {}
    for spec in table.values():
        entry = describe(registry, spec, language)
        found.setdefault(entry.tool_type, []).append(entry)
    return [Group(group, tool_type_name(group, language), translated(TOOL_TYPE_HINTS[group], language),
                  sorted(found[group], key=lambda e: folded(e.title)))
            for group in GROUPS if group in found]
