"""Beffroi's public facade: what plugin authors import (`from beffroi import hookimpl, ActionSpec`)."""
from .errors import ActionError
from .hookspecs import hookimpl
from .specs import (
           HTML,
           ActionContext,
           ActionSpec,
           ConnectionSpec,
           PolledItem,
           PollResult,
           TriggerSpec,
)

__all__ = ["HTML", "ActionContext", "ActionError", "ActionSpec", "ConnectionSpec", "PollResult", "PolledItem",
           "TriggerSpec", "hookimpl"]
__version__ = "0.1.0"
