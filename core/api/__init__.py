"""The HTTP API (FastAPI): `create_app(engine)` builds the app around one engine."""
from .app import create_app

__all__ = ["create_app"]
