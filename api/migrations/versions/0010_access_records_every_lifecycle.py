"""access records for every lifecycle: the viewer's unit and the request through which data was seen

Revision ID: 0010_access_records
Revises: 0009_list_indexes
Create Date: 2026-11-27 10:00:00

Every unmasked view of a personal field (as the definitions declare them) is recorded, for any lifecycle;
records are looked up by the person who looked.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_access_records'
down_revision = '0009_list_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('access_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_unit', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('via', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_access_records_username'), ['username'], unique=False)


def downgrade():
    with op.batch_alter_table('access_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_records_username'))
        batch_op.drop_column('via')
        batch_op.drop_column('org_unit')
