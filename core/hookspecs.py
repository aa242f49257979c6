"""Every hook a Beffroi plugin can implement. Hooks run once at start-up to build the registry.

A plugin is a module (or object) with functions decorated by `beffroi.hookimpl`. The `register_*`
hooks return (or yield) records; the engine flattens them, keys them and rejects duplicates.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from fastapi import APIRouter

    from .specs import ActionSpec, ConnectionSpec, ServiceSpec, TriggerSpec

hookspec = pluggy.HookspecMarker("beffroi")
hookimpl = pluggy.HookimplMarker("beffroi")


@hookspec
def register_connections() -> Iterable[ConnectionSpec]:
    """Return the connection types this plugin provides, as `ConnectionSpec` records.

    A connection type is one kind of account of a tool type; its `config_model` (a pydantic model
    with `extra="forbid"`, secrets as `SecretStr`) describes what a stored connection holds.

    Example::

        @hookimpl
        def register_connections() -> Iterator[ConnectionSpec]:
            yield ConnectionSpec(key="mastodon", tool_type="smms", title="Mastodon account",
                                 config_model=MastodonConfig)
    """


@hookspec
def register_triggers() -> Iterable[TriggerSpec]:
    """Return the triggers this plugin provides, as `TriggerSpec` records.

    Keys are `<namespace>.<past-tense event>`; `kind` is one of `manual`, `webhook`, `poll`, `schedule`.
    A `poll` trigger gives `poll(config, state, ctx)` returning new items and the next cursor.

    Example::

        @hookimpl
        def register_triggers() -> Iterator[TriggerSpec]:
            yield TriggerSpec(key="wcms.post_published", title="New post", kind="poll",
                              config_model=FeedConfig, poll=poll_feed)
    """


@hookspec
def register_actions() -> Iterable[ActionSpec]:
    """Return the actions this plugin provides, as `ActionSpec` records.

    Keys are `<namespace>.<verb>`. `run(input, ctx)` does the work; `preview(input, ctx)` says what
    would be done without side effects (used by dry runs): the fields `run` returns (placeholders where a
    value only exists once sent) plus what would be sent. Input models use `extra="forbid"`; an
    `output_model` documents the output for the catalog.

    Example::

        @hookimpl
        def register_actions() -> Iterator[ActionSpec]:
            yield ActionSpec(key="smms.publish", title="Publish a post", input_model=PublishInput,
                             run=publish, preview=preview_publish, connection_type="smms")
    """


@hookspec
def register_services() -> Iterable[ServiceSpec]:
    """Return the services this plugin offers other plugins, as `ServiceSpec` records.

    A service is an object implementing a Protocol that the facade exports (`ContactDirectory`); a plugin that
    needs one asks `ctx.services.get(Protocol)` in its actions (or `Services.of(info)` in a field validator)
    and never imports the providing plugin. The provider is checked against the protocol when the plugin
    loads; one provider per protocol (a second is a load failure naming both plugins).

    Example::

        @hookimpl
        def register_services():
            yield ServiceSpec(protocol=ContactDirectory, provider=BuiltinDirectory())
    """


@hookspec
def register_routers() -> Iterable[APIRouter]:
    """Return FastAPI `APIRouter` objects with the plugin's own HTTP endpoints, mounted on the app as they are.

    For tool types that keep data in Beffroi (the built-in contact base, the metric store). Routers set
    their own prefix (`/api/crm`) and use the app's access rules (`Viewer`, `Editor`, `Admin`
    from the facade); a public endpoint (an unsubscribe link) must check its own signature.

    Example::

        @hookimpl
        def register_routers() -> Iterator[APIRouter]:
            router = APIRouter(prefix="/api/crm", tags=["crm"])
            router.add_api_route("/contacts", list_contacts, methods=["GET"])
            yield router
    """


@hookspec
def track_event(event: dict[str, Any]) -> None:
    """Observe a run life-cycle event; return value ignored, exceptions logged and swallowed.

    `event` is a dict with `type` (`run.started`, `step.finished`, `run.finished`), `run_id`,
    `recipe`, and for steps `step_id`, `status`, `duration_ms`. Never contains step inputs or secrets.

    Example::

        @hookimpl
        def track_event(event: dict[str, Any]) -> None:
            if event["type"] == "run.finished" and event["status"] == "failed":
                alert(event["recipe"])
    """
