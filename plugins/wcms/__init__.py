"""The wcms tool type (website, blog): trigger `wcms.post_published`, action `wcms.create_post`, `wordpress` sites."""
from beffroi import ActionSpec, ConnectionSpec, TriggerSpec, hookimpl

from . import connectors, create_post, trigger


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
    """Create a post on the website."""
    return [create_post.SPEC]
