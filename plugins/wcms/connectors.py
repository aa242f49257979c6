"""Which connector serves a website connection: connection type → WebsiteConnector."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from beffroi import ActionError

from .posts import WebsiteConnector
from .wordpress import CONNECTION as WORDPRESS
from .wordpress import WordPressSite

CONNECTION_TYPES = [WORDPRESS]
CONNECTORS: dict[str, Callable[[str, Any, Any], WebsiteConnector]] = {"wordpress": WordPressSite}


def connect(ctx: Any, purpose: str) -> WebsiteConnector:
    """The connector for the step's (or trigger's) single website connection."""
    connection = ctx.connection
    if connection is None:
        raise ActionError(f"{purpose} needs a website connection (e.g. a WordPress site)", retryable=False)
    make = CONNECTORS.get(connection.type)
    if make is None:
        raise ActionError(f"connection {connection.name!r} is a {connection.type} connection; {purpose} works with "
                          f"{', '.join(sorted(CONNECTORS))}", retryable=False)
    return make(connection.name, connection.config, ctx)
