"""Built-in plugin: manual, webhook and schedule triggers; `http.request`, `flow.delay`, `data.set` actions."""
from beffroi import ActionSpec, TriggerSpec, hookimpl

from . import data, flow, http_request, triggers


@hookimpl
def register_triggers() -> list[TriggerSpec]:
    """The three engine-served triggers."""
    return triggers.SPECS


@hookimpl
def register_actions() -> list[ActionSpec]:
    """HTTP calls, waits and data shaping."""
    return [http_request.SPEC, flow.SPEC, data.SPEC]
