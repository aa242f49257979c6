"""Which connector serves a website connection: connection type → WebsiteConnector (the built-in website
without one)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from beffroi import ActionError

from .local_site import LocalSite, default_root
from .posts import WebsiteConnector
from .wordpress import CONNECTION as WORDPRESS
from .wordpress import WordPressSite

CONNECTION_TYPES = [WORDPRESS]
CONNECTORS: dict[str, Callable[[str, Any, Any], WebsiteConnector]] = {"wordpress": WordPressSite}


def connect(ctx: Any, purpose: str, *, built_in: bool = False) -> WebsiteConnector:
    """The connector for the step's (or trigger's) single website connection; without one, the built-in website
    when `built_in` (an action), else an error."""
    connection = ctx.connection
    if connection is None and built_in:
        return LocalSite(default_root(ctx), ctx)
    if connection is None:
        raise ActionError(f"{purpose} needs a website connection (e.g. a WordPress site)", retryable=False)
    make = CONNECTORS.get(connection.type)
    if make is None:
        raise ActionError(f"connection {connection.name!r} is a {connection.type} connection; {purpose} works with "
                          f"{', '.join(sorted(CONNECTORS))}", retryable=False)
    return make(connection.name, connection.config, ctx)
