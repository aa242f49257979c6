"""The engine's problems in the visitor's language: its fixed sentences come from the catalogs as they are; its
sentences that carry a value (a name, a number, a suggestion) are matched here and rebuilt from a catalog text.

The engine (core/messages.py, validation, connections, templates) speaks English with values quoted as Python
does ('press'); each pattern below names the values it keeps. A message no pattern knows is shown as the engine
wrote it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .web import N_

Gettext = Callable[..., str]
_QUOTED = r"'[^']*'"
_HINT = rf"(?P<hint> \(did you mean {_QUOTED}\?\))?"

PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(rf"^{pattern}$"), text) for pattern, text in (
    (rf"must be one of: (?P<choices>.+?){_HINT}", N_("must be one of: %(choices)s%(hint)s")),
    (r"must be at least (?P<count>\d+) characters long", N_("must be at least %(count)s characters long")),
    (r"must be at most (?P<count>\d+) characters long", N_("must be at most %(count)s characters long")),
    (r"must have at least (?P<count>\d+) item\(s\)", N_("must have at least %(count)s item(s)")),
    (r"must have at most (?P<count>\d+) item\(s\)", N_("must have at most %(count)s item(s)")),
    (r"must be at least (?P<bound>\S+)", N_("must be at least %(bound)s")),
    (r"must be more than (?P<bound>\S+)", N_("must be more than %(bound)s")),
    (r"must be at most (?P<bound>\S+)", N_("must be at most %(bound)s")),
    (r"must be less than (?P<bound>\S+)", N_("must be less than %(bound)s")),
    (rf"unknown trigger (?P<name>{_QUOTED}){_HINT}", N_("unknown trigger %(name)s%(hint)s")),
    (rf"unknown action (?P<name>{_QUOTED}){_HINT}", N_("unknown action %(name)s%(hint)s")),
    (r"(?P<key>\S+) is not a polling trigger", N_("%(key)s is not a polling trigger")),
    (r"(?P<key>\S+) does not run on a schedule", N_("%(key)s does not run on a schedule")),
    (rf"invalid cron expression (?P<value>{_QUOTED})", N_("invalid cron expression %(value)s")),
    (r"(?P<key>\S+) takes no connection", N_("%(key)s takes no connection")),
    (rf"duplicate step id (?P<name>{_QUOTED}) \(also (?P<place>steps\[\d+\])\)",
     N_("duplicate step id %(name)s (also %(place)s)")),
    (rf"refers to step (?P<name>{_QUOTED}), which does not exist{_HINT}",
     N_("refers to step %(name)s, which does not exist%(hint)s")),
    (rf"refers to step (?P<name>{_QUOTED}), which is this step", N_("refers to step %(name)s, which is this step")),
    (rf"refers to step (?P<name>{_QUOTED}), which comes later", N_("refers to step %(name)s, which comes later")),
    (rf"no connection named (?P<name>{_QUOTED}){_HINT}: create it first, or save the recipe disabled until it exists",
     N_("no connection named %(name)s%(hint)s: create it first, or save the recipe disabled until it exists")),
    (rf"(?P<name>{_QUOTED}) is a (?P<kind>\S+) connection \((?P<tool>\S+)\); (?P<user>\S+) needs one of type "
     r"(?P<needed>\S+)", N_("%(name)s is a %(kind)s connection (%(tool)s); %(user)s needs one of type %(needed)s")),
    (rf"a connection named (?P<name>{_QUOTED}) already exists", N_("a connection named %(name)s already exists")),
    (r"template syntax error: (?P<detail>.+) \(line (?P<line>\d+)\)",
     N_("template syntax error: %(detail)s (line %(line)s)")),
    (rf"unknown variable (?P<name>{_QUOTED})", N_("unknown variable %(name)s")),
    (rf"unknown filter (?P<name>{_QUOTED})", N_("unknown filter %(name)s")),
    (rf"unknown test (?P<name>{_QUOTED})", N_("unknown test %(name)s")),
    (rf"(?P<value>{_QUOTED}) is not a time of day: write it as HH:MM, for example 10:00",
     N_("%(value)s is not a time of day: write it as HH:MM, for example 10:00")),
    (rf"(?P<value>{_QUOTED}) is not a span of hours: write it as HH:MM-HH:MM, for example 22:00-07:00",
     N_("%(value)s is not a span of hours: write it as HH:MM-HH:MM, for example 22:00-07:00")),
    (r"(?P<at>\S+) falls inside the quiet hours (?P<hours>\S+): the step could never run",
     N_("%(at)s falls inside the quiet hours %(hours)s: the step could never run")),
    (rf"(?P<value>{_QUOTED}) is not a date-time: write it as YYYY-MM-DDTHH:MM, for example 2026-12-10T09:00",
     N_("%(value)s is not a date-time: write it as YYYY-MM-DDTHH:MM, for example 2026-12-10T09:00")),
))
# the engine's sentences without a value that the catalogs translate as they are (core/windows.py, validation)
FIXED = (
    N_("the quiet hours start and end at the same time"),
    N_("next_day needs a time of day (at), for example at: 10:00"),
    N_("a recipe's window applies before its first step: it may use the trigger's data, not a step's"),
)
SUGGESTION = N_(" (did you mean %(value)s?)")


def engine_text(message: str, gettext: Gettext) -> str:
    """`message` from the engine in the language of `gettext` (the visitor's, with %(name)s values filled in)."""
    exact = gettext(message)
    if exact != message:
        return exact
    for pattern, text in PATTERNS:
        match = pattern.match(message)
        if match:
            values: dict[str, Any] = {name: value or "" for name, value in match.groupdict().items()}
            if values.get("hint"):
                values["hint"] = gettext(SUGGESTION, value=values["hint"][len(" (did you mean "):-len("?)")])
            if "detail" in values:  # a template's own syntax error: its unknown names are ours to say
                values["detail"] = engine_text(values["detail"], gettext)
            return gettext(text, **values)
    return message
