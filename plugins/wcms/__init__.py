"""The wcms tool type (website, blog): trigger `wcms.post_published`, actions `wcms.create_post` and
`wcms.publish_post`, `wordpress` sites (the built-in website without a connection)."""
from fastapi import APIRouter

from beffroi import ActionSpec, ConnectionSpec, TriggerSpec, hookimpl

from . import connectors, create_post, publish_post, site_routes, trigger


@hookimpl
def register_connections() -> list[ConnectionSpec]:
    """Website connection types (WordPress)."""
    return connectors.CONNECTION_TYPES


@hookimpl
def register_triggers() -> list[TriggerSpec]:
    """A new post on a feed, a WordPress site or a local folder."""
    return [trigger.SPEC]


@hookimpl
def register_actions() -> list[ActionSpec]:
    """Create a post on the website; publish a draft."""
    return [create_post.SPEC, publish_post.SPEC]


@hookimpl
def register_routers() -> list[APIRouter]:
    """The built-in website's public pages."""
    return [site_routes.router()]
