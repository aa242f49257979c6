"""SQL storage: table models, the database handle, migrations."""
from . import builtin_tables  # noqa: F401  (registers the outbox and delivery tables on Base)
from .database import Database, DatabaseUnavailable
from .models import Base

__all__ = ["Base", "Database", "DatabaseUnavailable"]
