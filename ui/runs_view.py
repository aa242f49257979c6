"""How runs read on the pages: the filters of a list, durations, folded JSON, the steps of a run's timeline, and the
state the run page follows live (what changed since the last look)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from babel.numbers import format_decimal

from beffroi import redact

from . import catalog, i18n
from .date_range import DateRange
from .routes import STATUS_NAMES, FieldProblem
from .web import N_, Visitor, environment

STEP_STATUS_NAMES = (N_("pending"), N_("skipped"))  # a step's statuses beyond the run's: shown translated
UNFINISHED = ("queued", "running", "waiting")
FOLD_OVER = 240  # characters of JSON shown open; longer is folded in <details>
SHOWN_AT_MOST = 50_000  # characters of one JSON value on a page (the API gives it whole)
FAILED_ITEMS_SHOWN = 20
NBSP = "\u00a0"


@dataclass
class RunFilters:
    """The filters of a list of runs as the query string gives them, checked; `problems` for the form."""

    statuses: list[str] = field(default_factory=list)
    since: str = ""
    until: str = ""
    before: str | None = None
    after: str | None = None
    problems: list[FieldProblem] = field(default_factory=list)
    days: DateRange = field(default_factory=DateRange)  # the days read, and the instants they bound

    @classmethod
    def read(cls, seen: Visitor) -> RunFilters:
        """Statuses (any of those listed), from/to dates (YYYY-MM-DD, days in the installation's zone), a cursor."""
        query = seen.request.query_params
        days = DateRange.read(seen, query.get("from", ""), query.get("to", ""))
        return cls(statuses=[s for s in STATUS_NAMES if s in query.getlist("status")], since=days.since,
                   until=days.until, before=query.get("before") or None, after=query.get("after") or None,
                   problems=days.problems, days=days)

    def window(self, seen: Visitor, recipe: str | None = None, limit: int = 50):
        """The page of runs these filters ask for (a stale or foreign cursor gives the first page)."""
        ask: dict[str, Any] = {"recipe": recipe, "statuses": self.statuses, "since": self.days.start,
                               "until": self.days.end, "limit": limit}
        try:
            return seen.engine.runs.window(**ask, before=self.before, after=self.after)
        except ValueError:
            return seen.engine.runs.window(**ask)

    def link(self, path: str, **cursor: str) -> str:
        """The address of another page of the same list (same filters, another cursor)."""
        pairs = [("status", s) for s in self.statuses] + [(k, v) for k, v in (("from", self.since),
                                                                              ("to", self.until)) if v]
        pairs += list(cursor.items())
        return f"{path}?{urlencode(pairs)}" if pairs else path

    @property
    def active(self) -> bool:
        return bool(self.statuses or self.since or self.until)


def duration(ms: float | None, language: str) -> str:
    """A duration as people read it: 350 ms, 12.5 s, 4 min 05 s, 1 h 02 min (numbers in the language's format)."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{format_decimal(round(ms), locale=language)}{NBSP}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{format_decimal(round(seconds, 1), format='#,##0.#', locale=language)}{NBSP}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}{NBSP}min {rest:02d}{NBSP}s"
    hours, minutes = divmod(minutes, 60)
    return f"{format_decimal(hours, locale=language)}{NBSP}h {minutes:02d}{NBSP}min"


def listed(seen: Visitor, run: dict[str, Any]) -> dict[str, Any]:
    """A run of a list with its times and duration as shown."""
    zone, language = seen.engine.settings.timezone, seen.language
    return {**run, "created": i18n.when(run["created_at"], language, zone),
            "started": i18n.when(run["started_at"], language, zone),
            "finished": i18n.when(run["finished_at"], language, zone),
            "duration": duration(run["duration_ms"], language)}


def shown_json(value: Any, language: str) -> dict[str, Any] | None:
    """JSON as the page shows it: indented text, folded when long; None when there is nothing to show.

    Run records are redacted when they are written; redact() again here masks any secret-looking key of what was
    not (a trigger event posted by a webhook, a record written before the rule): the page never shows one."""
    if value is None:
        return None
    text = json.dumps(redact(value), indent=2, ensure_ascii=False, default=str)
    shown = {"text": text[:SHOWN_AT_MOST], "folded": len(text) > FOLD_OVER, "cut": len(text) > SHOWN_AT_MOST}
    if shown["cut"]:
        shown.update(shown=format_decimal(SHOWN_AT_MOST, locale=language),
                     total=format_decimal(len(text), locale=language))
    return shown


def step_view(seen: Visitor, step: dict[str, Any]) -> dict[str, Any]:
    """A step of the timeline: its heading (title, else what its action does), times, items and contents."""
    spec = seen.engine.registry.actions.get(step["uses"]) if step.get("uses") else None
    does = catalog.translated(spec.title, seen.language) if spec is not None else step.get("uses") or ""
    zone, language = seen.engine.settings.timezone, seen.language
    items = step.get("items")
    failed = step.get("failed_items") or []
    return {**step, "heading": step.get("title") or does, "does": does, "state": state_of(step_signature(step)),
            "started": i18n.when(step["started_at"], language, zone),
            "duration": duration(step["duration_ms"], language),
            "input_shown": shown_json(step["input"], language),
            "output_shown": shown_json(step["output"], language),
            "items_summary": items_summary(seen, items, step["input"]) if items else "",
            "failed_shown": failed[:FAILED_ITEMS_SHOWN], "failed_more": max(0, len(failed) - FAILED_ITEMS_SHOWN),
            "window_opens": _window_opens(step, language, zone), "progress": progress_view(seen, step)}


def progress_view(seen: Visitor, step: dict[str, Any]) -> dict[str, Any] | None:
    """What a long step reported, in words: 'Sent 1,200 of 5,000, 2 per second, about 31 min 40 s left' while it
    runs, the final counts after; None for a step that reports nothing."""
    report = step.get("progress")
    if not report:
        return None
    number = lambda n: format_decimal(n, locale=seen.language)  # noqa: E731
    done, total, rate, left = report["done"], report["total"], report["rate_per_second"], report["seconds_left"]
    words = [seen.gettext("Sent %(done)s of %(total)s", done=number(done), total=number(total)) if total is not None
             else seen.gettext("Sent %(done)s", done=number(done))]
    if step["status"] == "running" and rate:
        words.append(seen.gettext("%(rate)s per second", rate=number(round(rate, 1))) if rate >= 1
                     else seen.gettext("%(rate)s per minute", rate=number(round(rate * 60, 1))))
        if left is not None:
            words.append(seen.gettext("about %(left)s left", left=duration(left * 1000, seen.language)))
    return {"text": ", ".join(words) + ".", "done": done, "total": total}


def _window_opens(step: dict[str, Any], language: str, zone: str) -> str:
    """When a step held by its publish window may run ('' for any other step), as the page says dates."""
    output = step.get("output")
    opens = output.get("window_opens_at") if step["status"] == "waiting" and isinstance(output, dict) else None
    return i18n.when_day(opens, language, zone) if isinstance(opens, str) else ""


def items_summary(seen: Visitor, counts: dict[str, int], step_input: Any) -> str:
    """'12 items (succeeded: 9, failed: 1, pending: 2)' for a `for_each` step (its input holds the number of items)."""
    listed = step_input.get("items") if isinstance(step_input, dict) else None
    total = sum(counts.values())
    if isinstance(listed, int) and listed > total:
        counts, total = {**counts, "pending": listed - total}, listed
    parts = ", ".join(seen.gettext("%(status)s: %(count)s", status=seen.gettext(status),
                                   count=format_decimal(n, locale=seen.language))
                      for status, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return seen.ngettext("%(num)d item (%(parts)s)", "%(num)d items (%(parts)s)", total, parts=parts)


def run_view(seen: Visitor, run: dict[str, Any]) -> dict[str, Any]:
    """A run for its page: its list fields and the steps of its timeline."""
    return {**listed(seen, run), "unfinished": run["status"] in UNFINISHED, "state": state_of(run_signature(run)),
            "trigger_shown": shown_json(run["trigger"], seen.language),
            "steps": [step_view(seen, step) for step in run["steps"]]}


def fragment(seen: Visitor, template: str, **context: Any) -> str:
    """A part of a page (a step of the timeline, the run's summary) rendered alone, as the live page swaps it in."""
    assert seen.user is not None
    page = {"user": seen.user, "csrf": seen.csrf, "language": seen.language,
            "can_edit": seen.user.can("editor"), **context}
    return environment(seen.language).get_template(template).render(page)


def state_of(signature: tuple) -> str:
    """A short digest of what a part of the run page shows: the live page swaps in a part whose state changed."""
    return hashlib.sha256(repr(signature).encode()).hexdigest()[:16]


def step_signature(step: dict[str, Any]) -> tuple:
    return (step["status"], step["attempts"], step["started_at"], step["finished_at"], step["error"],
            json.dumps(step.get("items"), sort_keys=True), step["output"] is None,
            json.dumps(step.get("progress"), sort_keys=True))


def run_signature(run: dict[str, Any]) -> tuple:
    return run["status"], run["started_at"], run["finished_at"], run["error"]


@dataclass
class LiveRun:
    """What the run page follows: each look at the run gives the parts of the page that changed since the previous
    look (all of them at the first look: the page may have been rendered a while ago, or before a reconnection)."""

    seen: Visitor
    run_id: str
    shown: dict[str, tuple] = field(default_factory=dict)  # the signature of each part sent, by the part's id

    def look(self) -> dict[str, Any] | None:
        """{status, finished, parts: [{id, state, html, status, said}]} with the parts that changed, or {} when
        nothing did; None when there is no such run. The browser swaps in a part whose `state` differs from its
        own and, when the part's `status` changed, announces `said`."""
        run = self.seen.engine.runs.detail(self.run_id)
        if run is None:
            return None
        seen = self.seen
        parts = []
        for step in run["steps"]:
            shown = self._changed(f"step-{step['id']}", step_signature(step))
            if shown:
                view = step_view(seen, step)
                parts.append({**shown, "status": step["status"],
                              "html": fragment(seen, "_runs_step.html", step=view),
                              "said": seen.gettext("Step %(step)s: %(status)s.", step=step.get("title") or step["id"],
                                                   status=seen.gettext(step["status"])),
                              # announced now and then while it changes (the page says it every few seconds)
                              "progress": view["progress"]["text"] if view["progress"] else None})
        shown = self._changed("run-summary", run_signature(run))
        if shown:
            parts.append({**shown, "status": run["status"],
                          "html": fragment(seen, "_runs_summary.html", run=run_view(seen, {**run, "steps": []})),
                          "said": seen.gettext("Run status: %(status)s.", status=seen.gettext(run["status"]))})
        finished = run["status"] not in UNFINISHED
        if not parts and not finished:
            return {}
        return {"status": run["status"], "finished": finished, "parts": parts}

    def _changed(self, part: str, signature: tuple) -> dict[str, str] | None:
        if self.shown.get(part) == signature:
            return None
        self.shown[part] = signature
        return {"id": part, "state": state_of(signature)}
