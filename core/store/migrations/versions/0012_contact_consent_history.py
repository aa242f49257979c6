"""the contact base's consent history; indexes for the contacts' pages and a person's deliveries

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 21:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'crm_consents',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('contact_id', sa.String(length=32), nullable=False),
        sa.Column('given', sa.Boolean(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=True),
        sa.Column('text', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['contact_id'], ['crm_contacts.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_crm_consents_contact', 'crm_consents', ['contact_id', 'id'], unique=False)
    op.create_index('ix_deliveries_target', 'deliveries', ['target'], unique=False)
    op.create_index('ix_crm_contacts_consent', 'crm_contacts', ['consent', 'consent_at', 'id'], unique=False)
    op.create_index('ix_crm_memberships_list_state', 'crm_memberships', ['list_id', 'subscribed', 'contact_id'],
                    unique=False)
    with op.batch_alter_table('crm_memberships') as batch_op:  # the contact's index now holds its lists' states
        batch_op.drop_index('ix_crm_memberships_contact')
        batch_op.create_index('ix_crm_memberships_contact', ['contact_id', 'subscribed', 'list_id'], unique=False)
    # the consent already recorded on each contact becomes the first entry of its history
    op.execute("INSERT INTO crm_consents (contact_id, given, at, source, text) "
               "SELECT id, consent, consent_at, consent_source, NULL FROM crm_contacts WHERE consent_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('crm_memberships') as batch_op:
        batch_op.drop_index('ix_crm_memberships_contact')
        batch_op.create_index('ix_crm_memberships_contact', ['contact_id'], unique=False)
    op.drop_index('ix_crm_memberships_list_state', table_name='crm_memberships')
    op.drop_index('ix_crm_contacts_consent', table_name='crm_contacts')
    op.drop_index('ix_deliveries_target', table_name='deliveries')
    op.drop_index('ix_crm_consents_contact', table_name='crm_consents')
    op.drop_table('crm_consents')
