"""drafts of the web UI's recipe builder

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 17:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recipe_drafts',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('recipe_name', sa.String(length=100), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'recipe_name')
    )


def downgrade() -> None:
    op.drop_table('recipe_drafts')
