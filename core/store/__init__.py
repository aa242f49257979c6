"""SQL storage: table models, the database handle, migrations."""
from .database import Database
from .models import Base

__all__ = ["Base", "Database"]
