"""indexes for contacts and events

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 04:48:58.098462
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('analytics_events', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_recipe_time', ['recipe', 'occurred_at'], unique=False)

    with op.batch_alter_table('crm_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_crm_contacts_created', ['created_at', 'id'], unique=False)

    with op.batch_alter_table('crm_memberships', schema=None) as batch_op:
        batch_op.create_index('ix_crm_memberships_contact', ['contact_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('crm_memberships', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_memberships_contact')

    with op.batch_alter_table('crm_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_contacts_created')

    with op.batch_alter_table('analytics_events', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_recipe_time')

