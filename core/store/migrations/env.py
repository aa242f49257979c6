"""Alembic environment: runs on the connection the engine passes in (no ini file, no URL of its own).

The built-in crm and analytics plugins declare their tables on Base in their own packages (core never imports
them): `Base.metadata` holds them once the plugins are loaded, as tests/test_store.py does to compare.
"""
from alembic import context

from beffroi.store.models import Base

connection = context.config.attributes.get("connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
