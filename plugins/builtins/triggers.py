"""Triggers served by the engine itself: started by hand or API, by a webhook, or on a cron schedule."""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from beffroi import TriggerSpec, WebhookConfig


class ManualConfig(BaseModel):
    """No options: a person or the API starts the run, with any JSON as the event."""

    model_config = ConfigDict(extra="forbid")


class ScheduleConfig(BaseModel):
    """No options: the recipe's `schedule:` (cron) says when."""

    model_config = ConfigDict(extra="forbid")
    timezone: str = Field("Europe/Brussels", description="time zone of the cron expression")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, e.g. Europe/Brussels") from None
        return value


class JsonEvent(BaseModel):
    """Any JSON object: the body a person, the API or another system sends, as `trigger.*`."""

    model_config = ConfigDict(extra="allow")


class TickEvent(BaseModel):
    """One tick of the schedule."""

    scheduled_at: str = Field(description="the tick, ISO 8601 in the schedule's time zone")
    fired_at: str = Field(description="when it fired, ISO 8601 in UTC (later than the tick after a pause)")


SPECS = [
    TriggerSpec(key="builtins.manual", title="Started by hand or by the API", kind="manual", config_model=ManualConfig,
                event_model=JsonEvent, sample_event={"name": "Anne-Sophie"},
                description="Run from the web page, `beffroi run`, or POST /api/recipes/{name}/runs."),
    TriggerSpec(key="builtins.webhook", title="Webhook", kind="webhook", config_model=WebhookConfig,
                event_model=JsonEvent, sample_event={"email": "someone@example.org"},
                description="Another system POSTs JSON or a form to /hooks/{name}."),
    TriggerSpec(key="builtins.schedule", title="On a schedule", kind="schedule", config_model=ScheduleConfig,
                event_model=TickEvent, sample_event={"scheduled_at": "2026-12-07T09:00:00+01:00",
                                                     "fired_at": "2026-12-07T08:00:00.120000+00:00"},
                description="Fires at each tick of the recipe's cron `schedule:`."),
]
