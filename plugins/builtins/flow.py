"""`flow.delay`: wait a while before the next step."""
from __future__ import annotations

import threading
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from beffroi import ActionSpec, Duration, parse_duration

MAX_DELAY = 24 * 3600.0


class DelayInput(BaseModel):
    """How long to wait (at most 24h)."""

    model_config = ConfigDict(extra="forbid")
    duration: Duration = Field(description="e.g. 30s, 5m, 1h")


class DelayOutput(BaseModel):
    """How long the step paused the run."""

    duration_seconds: float = Field(description="the duration asked for, in seconds")
    waited_seconds: float = Field(description="how long this attempt waited (less after a resume; 0 in a dry run)")


def _seconds(payload: DelayInput) -> float:
    seconds = parse_duration(payload.duration)
    if seconds > MAX_DELAY:
        raise ValueError(f"delay of {payload.duration} is longer than the 24h limit")
    return seconds


def run(payload: DelayInput, ctx) -> dict:
    """Sleep for the duration; after a resume, only for what is left of it."""
    seconds = _seconds(payload)
    elapsed = (datetime.now(UTC) - ctx.started_at).total_seconds() if ctx.started_at else 0.0
    remaining = max(0.0, seconds - elapsed)
    threading.Event().wait(remaining)
    return {"duration_seconds": seconds, "waited_seconds": round(remaining, 3)}


def preview(payload: DelayInput, ctx) -> dict:
    """Say how long the run would wait; a dry run does not wait."""
    seconds = _seconds(payload)
    return {"duration_seconds": seconds, "waited_seconds": 0.0, "would_wait_seconds": seconds}


SPEC = ActionSpec(key="flow.delay", title="Wait", input_model=DelayInput, output_model=DelayOutput, run=run,
                  preview=preview, side_effects=False, long_running=True,
                  description="Pauses the run for a duration before the next step.")
