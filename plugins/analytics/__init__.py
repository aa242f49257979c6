"""The analytics tool-type plugin: `analytics.track_event` into Beffroi's metric store, Matomo and Plausible.

Connection types `matomo` and `plausible` (tool type `analytics`) send the same events to those tools;
the metric store's API is `/api/analytics/events` and `/api/analytics/summary`; other plugins record events
in it through the `MetricRecorder` service.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from beffroi import ActionSpec, ConnectionSpec, MetricCounts, MetricRecorder, ServiceSpec, hookimpl

from . import matomo, plausible, report, track
from .counts import BuiltinCounts
from .recorder import BuiltinRecorder

if TYPE_CHECKING:
    from fastapi import APIRouter


@hookimpl
def register_connections() -> list[ConnectionSpec]:
    """The analytics tools Beffroi can send events to."""
    return [matomo.SPEC, plausible.SPEC]


@hookimpl
def register_actions() -> list[ActionSpec]:
    """Tracking an event; summing up the publications of the last days."""
    return [track.SPEC, report.SPEC]


@hookimpl
def register_services() -> list[ServiceSpec]:
    """The metric store's counts, which the results pages read, and the recorder other plugins record events
    through (the city app's pushes)."""
    return [ServiceSpec(protocol=MetricCounts, provider=BuiltinCounts()),
            ServiceSpec(protocol=MetricRecorder, provider=BuiltinRecorder())]


@hookimpl
def register_routers() -> list[APIRouter]:
    """The metric store's API (imported here: the CLI and workers never need FastAPI)."""
    from .routes import router

    return [router]
