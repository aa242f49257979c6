"""The `mcms` tool type (the city app): news items in the built-in app feed, and push notifications.

Action `mcms.publish_item` stores an item that the public feeds `/feeds/app/{feed}.json` (JSON Feed 1.1) and
`.rss` serve between its publish and expire times. Action `mcms.push` sends a notification to a topic's
subscribers through a connection of type `webpush` (browsers that subscribed at `/push/subscribe`; the
default), `ntfy` (a topic of an ntfy server) or `fcm` (a topic of Firebase Cloud Messaging).
"""
from collections.abc import Iterator

from fastapi import APIRouter

from beffroi import ActionSpec, ConnectionSpec, hookimpl

from . import fcm, feed_routes, ntfy, publish, push, push_routes, webpush


@hookimpl
def register_connections() -> Iterator[ConnectionSpec]:
    """Web Push to subscribed browsers, an ntfy server, Firebase Cloud Messaging."""
    yield ConnectionSpec(key="webpush", tool_type="mcms", title="Web Push (browsers)",
                         config_model=webpush.WebPushConfig, test=webpush.check,
                         description="Notifications to the browsers that subscribed on your website; Beffroi makes "
                                     "the keys. Steps without a connection use it too.")
    yield ConnectionSpec(key="ntfy", tool_type="mcms", title="ntfy server", config_model=ntfy.NtfyConfig,
                         test=ntfy.check,
                         description="Publishes to a topic of a (self-hosted) ntfy server, which the ntfy app shows.")
    yield ConnectionSpec(key="fcm", tool_type="mcms", title="Firebase Cloud Messaging", config_model=fcm.FcmConfig,
                         test=fcm.check,
                         description="Sends to a topic of the city app through Firebase (HTTP v1 API), with the "
                                     "project's service account key.")


@hookimpl
def register_actions() -> list[ActionSpec]:
    """Publish a news item in the app feed; send a push notification."""
    return [publish.SPEC, push.SPEC]


@hookimpl
def register_routers() -> list[APIRouter]:
    """The public app feeds, and the public Web Push endpoints."""
    return [feed_routes.router(), push_routes.router()]
