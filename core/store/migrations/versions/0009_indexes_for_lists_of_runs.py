"""indexes for lists of runs: all of them, or of some statuses, newest first (keyset pagination on created_at, id)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 18:00:00.000000
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_runs_created', 'runs', ['created_at', 'id'], unique=False)
    op.create_index('ix_runs_status_created', 'runs', ['status', 'created_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_runs_status_created', table_name='runs')
    op.drop_index('ix_runs_created', table_name='runs')
