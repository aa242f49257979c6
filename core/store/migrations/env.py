"""Alembic environment: runs on the connection the engine passes in (no ini file, no URL of its own)."""
from alembic import context
from beffroi.store.models import Base

connection = context.config.attributes.get("connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
