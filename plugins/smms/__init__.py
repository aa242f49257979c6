"""The smms tool-type plugin (social media): `smms.publish` and the Mastodon, Bluesky and outbox connection types."""
from collections.abc import Iterator

from beffroi import ActionSpec, ConnectionSpec, hookimpl

from . import bluesky, mastodon, outbox_channel, publish


@hookimpl
def register_connections() -> Iterator[ConnectionSpec]:
    """Mastodon and Bluesky accounts, and the outbox that publishes nothing."""
    yield ConnectionSpec(key="mastodon", tool_type="smms", title="Mastodon account",
                         config_model=mastodon.MastodonConfig, test=mastodon.test,
                         description="Posts through the Mastodon API with an access token.")
    yield ConnectionSpec(key="bluesky", tool_type="smms", title="Bluesky account",
                         config_model=bluesky.BlueskyConfig, test=bluesky.test,
                         description="Posts through the AT Protocol with an app password.")
    yield ConnectionSpec(key="smms_outbox", tool_type="smms", title="Social media outbox (publishes nothing)",
                         config_model=outbox_channel.OutboxConfig,
                         description="Keeps each post in Beffroi's outbox for review; "
                                     "the default without a connection.")


@hookimpl
def register_actions() -> list[ActionSpec]:
    """Publishing a post."""
    return [publish.SPEC]
