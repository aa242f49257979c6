"""The publication calendar: a month, a week or a day of what is scheduled, waiting for approval, planned and
published, per channel, as a grid and as a table of the same entries; a form to reschedule a publication held by
its window; an iCalendar feed (a private address per person) for calendar applications."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from . import calendar_view as view
from .routes import FieldProblem, _form
from .tool_types import tool_type_name
from .web import FLASHES, N_, Refused, Visitor, person, redirect, render, role, secure_headers

router = APIRouter(include_in_schema=False)
FLASHES.update({"rescheduled": N_("The publication is rescheduled.")})
FEED_DAYS_BEFORE, FEED_DAYS_AFTER = 31, 120


@router.get("/calendar")
def calendar_page(seen: Visitor = Depends(person)):
    """The calendar for the chosen view, day and channel."""
    query = view.CalendarQuery.read(seen)
    zone = ZoneInfo(seen.engine.settings.timezone)
    start, end = view.bounds(query, zone)
    items = [view.shown(seen, entry, zone) for entry in seen.engine.calendar(start, end, channel=query.channel)]
    assert seen.user is not None
    # a calendar application needs the whole address: the installation's public one, else the one asked for
    base = (seen.engine.settings.public_url or str(seen.request.base_url)).rstrip("/")
    feed = f"{base}/calendar.ics?key={seen.engine.signer.sign({'calendar': seen.user.id})}"
    return render(seen, "calendar.html", 400 if query.problems else 200, errors=query.problems, query=query,
                  items=items, grid=view.grid(query, items, seen.language) if query.view != "day" else None,
                  caption=view.title(seen, query), views=view.VIEWS,
                  channels=[(key, tool_type_name(key, seen.gettext)) for key in view.CHANNELS],
                  previous=query.link(date=query.moved(-1).isoformat()),
                  following=query.link(date=query.moved(1).isoformat()), feed=feed,
                  can_edit=seen.user.can("editor"), zone=seen.engine.settings.timezone)


def _held(seen: Visitor, run_id: str) -> dict:
    run = seen.engine.runs.detail(run_id)
    if run is None:
        raise Refused(404, seen.gettext("There is no run with this number. It may have been deleted."))
    held = next((step for step in run["steps"] if step["status"] == "waiting" and isinstance(step["output"], dict)
                 and step["output"].get("window_opens_at")), None)
    if run["status"] != "waiting" or held is None:
        raise Refused(409, seen.gettext("Only a publication waiting for its window can be rescheduled; this one "
                                        "is %(status)s.", status=seen.gettext(run["status"])))
    return {**run, "opens_at": held["output"]["window_opens_at"]}


@router.get("/calendar/runs/{run_id}/reschedule")
def reschedule_form(run_id: str, seen: Visitor = Depends(role("editor"))):
    """When to publish instead: a date and a time in the installation's time zone."""
    run = _held(seen, run_id)
    opens = datetime.fromisoformat(run["opens_at"]).astimezone(ZoneInfo(seen.engine.settings.timezone))
    return render(seen, "calendar_reschedule.html", run=run, values={"at": opens.strftime("%Y-%m-%dT%H:%M")},
                  zone=seen.engine.settings.timezone)


@router.post("/calendar/runs/{run_id}/reschedule")
async def reschedule(run_id: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Move the publication to the time given; a time already past publishes it now."""
    form = await _form(request, seen)
    run = await run_in_threadpool(_held, seen, run_id)
    typed = form.get("at", "").strip()
    zone = ZoneInfo(seen.engine.settings.timezone)
    try:
        at = datetime.fromisoformat(typed).replace(tzinfo=zone) if len(typed) >= 16 else None
    except ValueError:
        at = None
    if at is None:
        problem = FieldProblem("at", seen.gettext("Enter a date and a time, such as %(example)s.",
                                                  example="2026-12-14T10:00"))
        return render(seen, "calendar_reschedule.html", 400, run=run, values={"at": typed}, errors=[problem],
                      zone=seen.engine.settings.timezone)
    assert seen.user is not None
    actor = seen.user.email
    try:
        await run_in_threadpool(lambda: seen.engine.reschedule(run_id, at.astimezone(UTC), actor=actor))
    except ValueError:  # it started or ended meanwhile
        raise Refused(409, seen.gettext("This publication is no longer waiting: it cannot be rescheduled.")) from None
    return redirect(seen, f"/calendar?view=week&date={at.date().isoformat()}", "rescheduled")


@router.get("/calendar.ics")
def feed(request: Request, key: str = ""):
    """The calendar as iCalendar (RFC 5545) for a calendar application: the private address on the page signs the
    person it was made for; their role still applies (a person removed, no feed)."""
    from icalendar import Calendar, Event

    from beffroi import BadSignature

    engine = request.app.state.engine  # no session: calendar applications sign in with the key
    try:
        person_id = engine.signer.verify(key).get("calendar")
    except BadSignature:
        person_id = None
    if not isinstance(person_id, str) or engine.users.find(person_id) is None:
        return secure_headers(Response("This calendar address is not valid (any more).\n", status_code=404,
                                       media_type="text/plain; charset=utf-8"))
    now = engine.clock()
    entries = engine.calendar(now - timedelta(days=FEED_DAYS_BEFORE), now + timedelta(days=FEED_DAYS_AFTER))
    ics = Calendar()
    ics.add("prodid", "-//Beffroi//publication calendar//EN")
    ics.add("version", "2.0")
    ics.add("x-wr-calname", "Beffroi")
    for entry in entries:
        event = Event()
        event.add("uid", f"{entry.state}-{entry.run_id or entry.recipe}-{entry.at.isoformat()}@beffroi")
        event.add("dtstamp", now)
        event.add("dtstart", entry.at)
        event.add("dtend", entry.at + timedelta(minutes=15))
        event.add("summary", f"{entry.title} ({entry.state})")
        event.add("description", ", ".join([*entry.channels, *entry.accounts]))
        event.add("categories", list(entry.channels) or ["beffroi"])
        ics.add_component(event)
    return secure_headers(Response(ics.to_ical(), media_type="text/calendar; charset=utf-8",
                                   headers={"Content-Disposition": 'inline; filename="beffroi.ics"'}))
