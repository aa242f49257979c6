"""The crm tool-type plugin: the built-in contact base (contacts, lists, consent) in Beffroi's own database.

Actions `crm.upsert_contact`, `crm.add_to_list`, `crm.remove_from_list`; trigger `crm.contact_created`;
the API under /api/crm and the public unsubscribe pages at /u/{token}. Other plugins use the data
functions of `beffroi_plugins.crm.contacts` (recipients of a list, unsubscribe links).
"""
from fastapi import APIRouter

from beffroi import ActionSpec, TriggerSpec, hookimpl

from . import actions, routes, trigger, unsubscribe


@hookimpl
def register_actions() -> list[ActionSpec]:
    """Create or update contacts, add them to lists or take them off."""
    return actions.SPECS


@hookimpl
def register_triggers() -> list[TriggerSpec]:
    """A new contact in the base."""
    return [trigger.SPEC]


@hookimpl
def register_routers() -> list[APIRouter]:
    """/api/crm (tokens needed) and the public /u/{token} unsubscribe pages (signed links)."""
    return [routes.router, unsubscribe.router()]
