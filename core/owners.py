"""Who executes a run: the owner id a worker claims runs with, and the rule that says its owner is gone."""
from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

STALE_AFTER = timedelta(seconds=60)  # a running run whose heartbeat is older has lost its worker
HOST = socket.gethostname()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_gone(owner: str | None, heartbeat_at: datetime | None, now: datetime, *,
               own_pid_is_stale: bool = False) -> bool:
    """Is the worker that claimed a run (`host:pid:…`) gone? None, a dead process on this host, or a stale heartbeat.

    `own_pid_is_stale`: a claim by this very pid is from an earlier life of the process (a restarted container's
    pid 1), as the RQ reaper sees it; an engine leaves it alone, since tests run several engines in one process.
    """
    if owner is None or process_gone(owner, own_pid_is_stale=own_pid_is_stale):
        return True
    return heartbeat_at is None or now - heartbeat_at > STALE_AFTER


def process_gone(owner: str, *, own_pid_is_stale: bool = False) -> bool:
    """Is `owner` (`host:pid:…`) a process of this host that no longer runs (or this pid's earlier life)?"""
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    return host == HOST and pid.isdigit() and ((own_pid_is_stale and int(pid) == os.getpid())
                                               or not pid_alive(int(pid)))
