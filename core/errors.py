"""Exceptions actions raise to tell the runner what happened, and the one a start-up refuses with."""
from __future__ import annotations

from typing import Any


class ActionError(Exception):
    """An action failed with a message for the comms officer; `retryable=False` stops retries at once."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class StepTimeout(ActionError):
    """The step ran longer than its timeout."""


class SetupError(RuntimeError):
    """Beffroi cannot start as configured (a bad setting, a service out of reach): one line for whoever starts it."""


def describe(exc: BaseException) -> str:
    """A one-line message for an exception: its own text for ours, its type added for anything else."""
    # NUL cannot be stored in a PostgreSQL text column: a remote answer holding one must not break the journal
    text = str(exc).replace("\x00", "\ufffd").strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, ActionError) or type(exc).__module__.startswith("beffroi"):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class SampleUnavailable(ValueError):
    """No sample event can be given for a recipe (a live sample of a source that is empty or unreachable)."""


class RunNotFound(LookupError):
    """No run with that id."""


class RunConflict(ValueError):
    """A run is not in a state that allows what was asked (retry a run that did not fail, cancel one that ended)."""


class Parked(Exception):
    """Raised by an action whose run must wait (an approval, a publish window): the runner journals the step as
    `waiting`, parks the run (`waiting`, no worker holds it) and ends. The run is queued again when something
    wakes it (`Engine.wake`, e.g. a decision) or when `wake_at` (UTC) comes (the scheduler's tick); the same step
    is then called again, with the same `ctx.attempt` and `ctx.started_at`, and raises Parked again or returns.
    `output` is what the step's journal shows meanwhile (e.g. the approval request's id)."""

    def __init__(self, wake_at: Any = None, output: Any = None):
        super().__init__("the run waits")
        self.wake_at = wake_at
        self.output = output
