"""`analytics.report`: the publications of the last days and what came back, as data and as a ready-made text.

Day-one recipe 3 ("every Monday at 9:00 → last week's publications and their figures → a summary e-mail to the
team") is this step followed by `email.send` with `{{ steps.report.text }}`. The days are calendar days in the
step's time zone, ending with yesterday unless `until` is given; the counts are the metric store's (the events the
publishing runs recorded, and the events per campaign over the same days).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

from beffroi import ActionSpec, publications_page, publishing_recipes

from .counts import BuiltinCounts

MAX_PUBLICATIONS = 200
Language = Literal["en", "fr", "nl", "de"]

WORDS: dict[str, dict[str, str]] = {
    "en": {"head": "Publications from {first} to {last}: {count}", "none": "No publication over these days.",
           "channels": "sent to", "results": "came back", "campaigns": "Events per campaign:",
           "no_campaign": "(no campaign)", "more": "and {count} more (see the results page)"},
    "fr": {"head": "Publications du {first} au {last} : {count}", "none": "Aucune publication sur ces jours.",
           "channels": "envoyée sur", "results": "retours", "campaigns": "Événements par campagne :",
           "no_campaign": "(sans campagne)", "more": "et {count} autres (voir la page des résultats)"},
    "nl": {"head": "Publicaties van {first} tot {last}: {count}", "none": "Geen publicaties in deze dagen.",
           "channels": "verzonden naar", "results": "reacties", "campaigns": "Gebeurtenissen per campagne:",
           "no_campaign": "(geen campagne)", "more": "en nog {count} (zie de resultatenpagina)"},
    "de": {"head": "Veröffentlichungen vom {first} bis {last}: {count}", "none": "Keine Veröffentlichung an diesen "
           "Tagen.", "channels": "gesendet an", "results": "Rückmeldungen", "campaigns": "Ereignisse pro Kampagne:",
           "no_campaign": "(keine Kampagne)", "more": "und {count} weitere (siehe die Ergebnisseite)"},
}


class ReportInput(BaseModel):
    """Which days to sum up, in which time zone and language."""

    model_config = ConfigDict(extra="forbid")
    days: int = Field(7, ge=1, le=366, description="How many days, ending with the day before `until`")
    until: date | None = Field(None, description="The first day not counted (today when empty), e.g. 2026-12-14")
    timezone: str = Field("Europe/Brussels", description="Time zone of the days, e.g. Europe/Brussels")
    language: Language = Field("en", description="Language of the ready-made text: en, fr, nl or de")

    @field_validator("timezone")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Brussels)")
        return value


class ReportOutput(BaseModel):
    """The publications of the days with what went out and came back, events per campaign, and a text."""

    first_day: str = Field(description="The first day counted (YYYY-MM-DD)")
    last_day: str = Field(description="The last day counted (YYYY-MM-DD)")
    publications: list[dict[str, Any]] = Field(description="Newest first: run id, recipe, started_at, channels "
                                               "(channel, where, count, url) and results ({event: count})")
    more: int = Field(description="Publications over the days beyond the first 200 (not listed)")
    campaigns: dict[str, dict[str, int]] = Field(description="{campaign ('' for none): {event: count}} over the days")
    text: str = Field(description="The same as a plain-text summary, ready for an e-mail")


def _days(payload: ReportInput, now: datetime) -> tuple[date, date, datetime, datetime]:
    zone = ZoneInfo(payload.timezone)
    end = payload.until or now.astimezone(zone).date()
    first = end - timedelta(days=payload.days)
    return (first, end - timedelta(days=1), datetime.combine(first, time(), zone),
            datetime.combine(end, time(), zone))


def _line(publication: dict[str, Any], words: dict[str, str], zone: ZoneInfo) -> str:
    when = (publication["started_at"] or publication["created_at"]).astimezone(zone)
    where = ", ".join(f"{c['channel']} {c['where'] or ''}".strip() + (f" ({c['count']})" if c["count"] != 1 else "")
                      for c in publication["channels"]) or "–"
    line = f"- {when:%Y-%m-%d %H:%M} {publication['recipe']}: {words['channels']} {where}"
    if publication["results"]:
        line += f"; {words['results']}: " + ", ".join(f"{k} {v}" for k, v in sorted(publication["results"].items()))
    return line


def report(payload: ReportInput, ctx: Any) -> dict[str, Any]:
    """Read the publications and counts of the days (a preview runs it too: it only reads)."""
    zone = ZoneInfo(payload.timezone)
    first, last, since, until = _days(payload, ctx.clock())
    found = publications_page(ctx.db, recipes=publishing_recipes(ctx.db), since=since, until=until,
                              limit=MAX_PUBLICATIONS + 1)
    more = max(0, len(found) - MAX_PUBLICATIONS)
    found = found[:MAX_PUBLICATIONS]
    counts = BuiltinCounts()
    back = counts.per_run(ctx.db, [p["id"] for p in found])
    campaigns: dict[str, dict[str, int]] = {}
    for campaign, name, count in counts.per_campaign(ctx.db, first=first, last=last):
        campaigns.setdefault(campaign or "", {})[name] = campaigns.get(campaign or "", {}).get(name, 0) + count
    words = WORDS[payload.language]
    listed = [{**p, "results": back.get(p["id"], {})} for p in found]
    lines = [words["head"].format(first=first.isoformat(), last=last.isoformat(), count=len(found) + more)]
    lines += [_line(p, words, zone) for p in listed] or [words["none"]]
    if more:
        lines.append(words["more"].format(count=more))
    if campaigns:
        lines += ["", words["campaigns"]]
        lines += [f"- {campaign or words['no_campaign']}: " + ", ".join(f"{k} {v}" for k, v in sorted(row.items()))
                  for campaign, row in sorted(campaigns.items(), key=lambda item: -sum(item[1].values()))]
    publications = [{"id": p["id"], "recipe": p["recipe"], "status": p["status"],
                     "started_at": (p["started_at"] or p["created_at"]).isoformat(),
                     "channels": [{k: c[k] for k in ("channel", "where", "network", "count", "url")}
                                  for c in p["channels"]], "results": p["results"]} for p in listed]
    return {"first_day": first.isoformat(), "last_day": last.isoformat(), "publications": publications,
            "more": more, "campaigns": campaigns, "text": "\n".join(lines)}


SPEC = ActionSpec(
    key="analytics.report", title="Sum up the publications of the last days", input_model=ReportInput,
    output_model=ReportOutput, run=report, side_effects=False,
    description="Sums up the publications of the last days (what went out on which channel) with the events they "
                "recorded, and the events per campaign, as data and as a plain-text summary for an e-mail.")
