"""The results dashboard: per publication (a run of a recipe that publishes) what went out on which channel and
what came back, and the events of the metric store per period (day, week, month) and per campaign. Each chart is
SVG drawn here, followed by its table, and each table has a CSV download (`/results.csv?part=…`, same filters).

Everyone signed in reads it: counts and public links, no personal data. The metric store is read through the
`MetricCounts` service the analytics plugin provides (its tables are its own).
"""
from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from . import results_view as view
from .charts import bar_chart
from .web import Refused, Visitor, person, render, secure_headers

router = APIRouter(include_in_schema=False)
PARTS = ("periods", "campaigns", "publications")


@router.get("/results")
def results(seen: Visitor = Depends(person)):
    """The dashboard for the chosen days, period and campaign."""
    filters = view.ResultFilters.read(seen)
    counts = view.metrics(seen)
    periods = view.per_period(seen, filters, counts) if counts else None
    campaigns = view.per_campaign(seen, filters, counts) if counts else None
    found, next_cursor = view.publications(seen, filters, counts)
    charts = {}
    if periods and periods["names"]:
        charts["periods"] = bar_chart(
            "chart-periods", seen.gettext("Events per %(period)s", period=seen.gettext(view.PERIODS[filters.period])
                                          .lower()),
            seen.gettext("Bars grouped by period; the table below the chart gives every number."),
            [label for _, label in periods["periods"]],
            [(label, periods["values"][name]) for name, label in periods["names"]])
    if campaigns and campaigns["rows"]:
        shown = campaigns["rows"][:view.CAMPAIGNS_SHOWN]
        charts["campaigns"] = bar_chart(
            "chart-campaigns", seen.gettext("Events per campaign"),
            seen.gettext("Bars grouped by campaign; the table below the chart gives every number."),
            [row["label"] for row in shown],
            [(label, [row["counts"][i] for row in shown]) for i, (_, label) in enumerate(campaigns["names"])])
    return render(seen, "results.html", 400 if filters.problems else 200, errors=filters.problems, filters=filters,
                  periods=periods, campaigns=campaigns, publications=found, charts=charts, choices=view.PERIODS,
                  older=filters.link("/results", before=next_cursor) if next_cursor else None,
                  first=filters.link("/results") if filters.before else None,
                  csv={part: filters.link("/results.csv", part=part) for part in PARTS},
                  zone=seen.engine.settings.timezone, has_store=counts is not None)


def _rows(seen: Visitor, part: str, filters: view.ResultFilters) -> list[list[object]]:
    counts = view.metrics(seen)
    if part == "publications":
        found, _ = view.publications(seen, filters, counts, limit=1000)
        rows: list[list[object]] = [[seen.gettext("Run"), seen.gettext("Recipe"), seen.gettext("Date"),
                                     seen.gettext("Channel"), seen.gettext("Where"), seen.gettext("Sent"),
                                     seen.gettext("Link"), seen.gettext("What came back")]]
        for publication in found:
            back = "; ".join(f"{label}: {count}" for label, count in publication["results"])
            for line in publication["channels"] or [{"channel_label": "", "where": "", "count": "", "url": ""}]:
                rows.append([publication["id"], publication["recipe"], publication["when"], line["channel_label"],
                             line.get("where") or "", line["count"], line.get("url") or "", back])
        return rows
    if counts is None:
        return []
    if part == "periods":
        data = view.per_period(seen, filters, counts)
        rows = [[seen.gettext(view.PERIODS[filters.period]), *[label for _, label in data["names"]]]]
        return rows + [[day.isoformat(), *[data["values"][name][i] for name, _ in data["names"]]]
                       for i, (day, _) in enumerate(data["periods"])]
    data = view.per_campaign(seen, filters, counts)
    return [[seen.gettext("Campaign"), *[label for _, label in data["names"]]],
            *[[row["campaign"], *row["counts"]] for row in data["rows"]]]


def _cell(value: object) -> object:
    """A text a spreadsheet would run as a formula (=, +, -, @ first: a campaign named by a webhook's caller)
    is written with an apostrophe first, which the spreadsheet shows as text."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get("/results.csv")
def results_csv(seen: Visitor = Depends(person)):
    """One table of the dashboard as CSV (UTF-8 with a byte order mark, for spreadsheets), with the page's filters."""
    part = seen.request.query_params.get("part", "")
    if part not in PARTS:
        raise Refused(404, seen.gettext("There is no such table. Use the links under the tables of the results "
                                        "page."))
    filters = view.ResultFilters.read(seen)
    if filters.problems:
        raise Refused(400, filters.problems[0].text)
    out = io.StringIO()
    csv.writer(out).writerows([[_cell(value) for value in row] for row in _rows(seen, part, filters)])
    name = f"beffroi-{part}-{filters.first_day.isoformat()}-{filters.last_day.isoformat()}.csv"
    return secure_headers(Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                                   headers={"Content-Disposition": f'attachment; filename="{name}"'}))
