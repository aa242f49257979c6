"""Built-in plugin: manual, webhook and schedule triggers; `http.request`, `flow.delay`, `flow.approve`, `data.set`
actions."""
from beffroi import ActionSpec, TriggerSpec, hookimpl

from . import approve, data, flow, http_request, triggers


@hookimpl
def register_triggers() -> list[TriggerSpec]:
    """The three engine-served triggers."""
    return triggers.SPECS


@hookimpl
def register_actions() -> list[ActionSpec]:
    """HTTP calls, waits, approvals and data shaping."""
    return [http_request.SPEC, flow.SPEC, approve.SPEC, data.SPEC]
