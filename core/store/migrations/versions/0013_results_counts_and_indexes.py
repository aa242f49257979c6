"""results: analytics events counted per UTC day, indexes for a publication's events and the outbox's filters

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 21:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'analytics_days',
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('campaign', sa.String(length=200), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'name', 'campaign'),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table('analytics_days', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_days_campaign', ['campaign', 'day'], unique=False)
    with op.batch_alter_table('analytics_events', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_run_name', ['run_id', 'name'], unique=False)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_channel', ['channel', 'id'], unique=False)
        batch_op.create_index('ix_outbox_connection', ['connection', 'id'], unique=False)
        batch_op.create_index('ix_outbox_run', ['run_id', 'id'], unique=False)
    # the events recorded before this migration, counted once
    if op.get_bind().dialect.name == 'postgresql':
        day = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    else:
        day = "strftime('%Y-%m-%d', occurred_at)"
    op.execute(f"INSERT INTO analytics_days (day, name, campaign, events) SELECT {day}, name, "
               f"COALESCE(campaign, ''), COUNT(*) FROM analytics_events GROUP BY {day}, name, COALESCE(campaign, '')")


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_run')
        batch_op.drop_index('ix_outbox_connection')
        batch_op.drop_index('ix_outbox_channel')
    with op.batch_alter_table('analytics_events', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_run_name')
    with op.batch_alter_table('analytics_days', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_days_campaign')
    op.drop_table('analytics_days')
