"""The time an engine calls "now": the machine's clock, or, for tests and rehearsals only, a simulated one.

`BEFFROI_CLOCK_FILE=/path/to/now.txt` (unset by default) makes every process that reads the setting take the
date-time written in that file as "now": the engine's clock (publish windows, approval expiries and reminders, a
rescheduled run's time), the scheduler's ticks (parked runs woken, cron and polling triggers) and the web UI's
"today" (calendar, results). A test or a rehearsal moves time by writing the file again, e.g.

    echo 2026-12-09T10:05 > now.txt          # local time of BEFFROI_TIMEZONE, or with an offset: …+01:00

Records keep the machine's time (when a run was created, finished, heartbeats, sessions, sign-in links), but a
step's start and end follow the simulated clock (its start is what its publish window is read from).

It is refused, at start, wherever it could do harm:
- with `BEFFROI_REDIS_URL` (a production deployment: workers on other machines would not share the file);
- when the file is missing or does not hold a date-time (never a silent fall back to the real time);
- when anyone but the process's own user could write the file or replace it (its folder): whoever moves the
  clock can publish embargoed content early.
While it runs, time never goes back (an earlier date-time is ignored, with a warning), and a file that cannot be
read keeps the last time read (a warning). Every page of the web UI says the clock is simulated, and `serve`
prints it at start.
"""
from __future__ import annotations

import logging
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from .errors import SetupError
from .windows import embargo

log = logging.getLogger("beffroi.clock")
SETTING = "BEFFROI_CLOCK_FILE"


def _unsafe(path: Path) -> str | None:
    """Why someone else could move the clock through this file, or None."""
    for what, found in (("the file", path), ("its folder", path.parent)):
        info = found.stat()
        if info.st_uid != os.geteuid():
            return f"{what} {found} belongs to another user"
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"{what} {found} may be written by others (chmod go-w)"
    return None


class SimulatedClock:
    """"Now" as the file says, in UTC; read again whenever the file changes. A SetupError at start (see module)."""

    simulated = True

    def __init__(self, path: Path, zone: ZoneInfo):
        self.path, self.zone = Path(path), zone
        self._lock = threading.Lock()
        self._complaint: str | None = None  # the last warning, not repeated at every call
        try:
            unsafe = _unsafe(self.path)
        except OSError as exc:
            raise SetupError(f"{SETTING}: {self.path} cannot be read ({exc.strerror})") from None
        if unsafe:
            raise SetupError(f"{SETTING}: {unsafe}; the simulated clock is refused")
        try:
            self._now = self._read()
        except (OSError, ValueError) as exc:
            raise SetupError(f"{SETTING}: {self.path}: {exc}") from None

    def _read(self) -> datetime:
        """The file as it is now (a few bytes read at each call: a test moves time by writing it, at any moment)."""
        return embargo(self.path.read_text(encoding="utf-8"), self.zone).astimezone(UTC)

    def __call__(self) -> datetime:
        with self._lock:
            try:
                found = self._read()
                if found < self._now:
                    self._complain(f"{found.isoformat()} is earlier than {self._now.isoformat()}, ignored: "
                                   "time never goes back")
                else:
                    self._now, self._complaint = found, None
            except (OSError, ValueError) as exc:
                self._complain(f"{exc} (the clock stays at {self._now.isoformat()})")
            return self._now

    def _complain(self, message: str) -> None:
        if message != self._complaint:
            log.warning("%s: %s", SETTING, message)
            self._complaint = message


def clock_of(settings) -> SimulatedClock | None:
    """The simulated clock the settings ask for (None: the machine's); SetupError when it is refused."""
    if settings.clock_file is None:
        return None
    if settings.redis_url:
        raise SetupError(f"{SETTING} is for tests and rehearsals on one machine; it is refused with "
                         "BEFFROI_REDIS_URL (workers elsewhere would not read the same file)")
    clock = SimulatedClock(settings.clock_file, ZoneInfo(settings.timezone))
    log.warning("SIMULATED CLOCK (tests and rehearsals only): now is %s, read from %s", clock().isoformat(),
                settings.clock_file)
    return clock
