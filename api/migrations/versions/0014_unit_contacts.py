"""unit contacts printed on documents

Revision ID: 0014_unit_contacts
Revises: 0010_access_records
Create Date: 2026-11-27 10:00:00

"""
from alembic import op
import sqlalchemy as sa

import api.models  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0014_unit_contacts'
down_revision = '0010_access_records'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('unit_contacts',
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('hours', sa.String(length=100), nullable=True),
    sa.Column('updated_at', api.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_unit_contacts_org_unit_id_org_units')),
    sa.PrimaryKeyConstraint('org_unit_id', name=op.f('pk_unit_contacts'))
    )


def downgrade():
    op.drop_table('unit_contacts')
