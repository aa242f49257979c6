"""The `mcms` tool type (the city app): news items in the built-in app feed, and push notifications.

Action `mcms.publish_item` stores an item that the public feeds `/feeds/app/{feed}.json` (JSON Feed 1.1) and
`.rss` serve between its publish and expire times.
"""
from fastapi import APIRouter

from beffroi import ActionSpec, hookimpl

from . import feed_routes, publish


@hookimpl
def register_actions() -> list[ActionSpec]:
    """Publish a news item in the app feed."""
    return [publish.SPEC]


@hookimpl
def register_routers() -> list[APIRouter]:
    """The public app feeds."""
    return [feed_routes.router()]
