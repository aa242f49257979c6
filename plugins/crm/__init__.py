"""The crm tool-type plugin: the built-in contact base (contacts, lists, consent) in Beffroi's own database.

Actions `crm.upsert_contact`, `crm.add_to_list`, `crm.remove_from_list`; trigger `crm.contact_created`;
the API under /api/crm and the public unsubscribe pages at /u/{token}. Other plugins reach the contact base
through the `ContactDirectory` service (recipients of a list, unsubscribe links), and the web UI's contact pages
through the `ContactBook` service, never by importing this plugin.
"""
from fastapi import APIRouter

from beffroi import ActionSpec, ContactBook, ContactDirectory, ServiceSpec, TriggerSpec, hookimpl

from . import actions, routes, trigger, unsubscribe
from .book import BuiltinBook
from .directory import BuiltinDirectory


@hookimpl
def register_actions() -> list[ActionSpec]:
    """Create or update contacts, add them to lists or take them off."""
    return actions.SPECS


@hookimpl
def register_triggers() -> list[TriggerSpec]:
    """A new contact in the base."""
    return [trigger.SPEC]


@hookimpl
def register_services() -> list[ServiceSpec]:
    """The contact base as the ContactDirectory the email campaign sends to, and the ContactBook of the web UI."""
    return [ServiceSpec(protocol=ContactDirectory, provider=BuiltinDirectory()),
            ServiceSpec(protocol=ContactBook, provider=BuiltinBook())]


@hookimpl
def register_routers() -> list[APIRouter]:
    """/api/crm (tokens needed) and the public /u/{token} unsubscribe pages (signed links)."""
    return [routes.router, unsubscribe.router()]
