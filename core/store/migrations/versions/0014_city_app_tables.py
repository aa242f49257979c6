"""the city app (mcms): app-feed items, Web Push subscriptions, the VAPID key pair

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 21:45:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'mcms_items',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('feed', sa.String(length=100), nullable=False),
        sa.Column('idempotency_key', sa.String(length=300), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=True),
        sa.Column('image_url', sa.String(length=2000), nullable=True),
        sa.Column('image_alt', sa.String(length=1000), nullable=True),
        sa.Column('language', sa.String(length=20), nullable=True),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('idempotency_key'),
    )
    op.create_index('ix_mcms_items_feed_published', 'mcms_items', ['feed', 'published_at', 'id'], unique=False)
    op.create_table(
        'mcms_subscriptions',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('topic', sa.String(length=100), nullable=False),
        sa.Column('endpoint', sa.String(length=2000), nullable=False),
        sa.Column('p256dh', sa.String(length=200), nullable=False),
        sa.Column('auth', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_mcms_subscriptions_topic', 'mcms_subscriptions', ['topic', 'id'], unique=False)
    op.create_table(
        'mcms_keys',
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('public_key', sa.String(length=200), nullable=False),
        sa.Column('private_sealed', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('mcms_keys')
    op.drop_table('mcms_subscriptions')
    op.drop_table('mcms_items')
