"""parked runs (`waiting` with a wake-up time, who started them) and content approval requests

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 21:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('wake_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('started_by', sa.String(length=320), nullable=True))
    op.create_index('ix_runs_wake_at', 'runs', ['wake_at'], unique=False)
    op.create_table(
        'approvals',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('step_id', sa.String(length=100), nullable=False),
        sa.Column('recipe_name', sa.String(length=100), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('mode', sa.String(length=8), nullable=False),
        sa.Column('approvers', sa.JSON(), nullable=False),
        sa.Column('excluded', sa.JSON(), nullable=False),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('previews', sa.JSON(), nullable=False),
        sa.Column('texts', sa.JSON(), nullable=False),
        sa.Column('decisions', sa.JSON(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('remind_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reminded', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('run_id', 'step_id', name='uq_approvals_run_step'),
    )
    op.create_index('ix_approvals_status_created', 'approvals', ['status', 'created_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_table('approvals')
    op.drop_index('ix_runs_wake_at', table_name='runs')
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('started_by')
        batch.drop_column('wake_at')
