"""roster imports as jobs (progress, result, rejected rows); access records of employers' roster contacts

Revision ID: 0032_roster_jobs
Revises: 0015_union_terms
Create Date: 2026-11-28 10:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import api.models  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0032_roster_jobs'
down_revision = '0015_union_terms'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('roster_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=True),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('rejected_csv', sa.Text(), nullable=True),
    sa.Column('problem', sa.String(length=500), nullable=True),
    sa.Column('started_at', api.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', api.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', api.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_roster_imports_org_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_imports')),
    sa.UniqueConstraint('token', name=op.f('uq_roster_imports_token'))
    )
    with op.batch_alter_table('roster_imports', schema=None) as batch_op:
        batch_op.create_index('ix_roster_imports_unit_started', ['org_unit_id', 'started_at'], unique=False)

    # an access record names a case, or an employer whose roster contact was shown whole
    with op.batch_alter_table('access_records', schema=None) as batch_op:
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('employer_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_access_records_employer_id'), ['employer_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_access_records_employer_id_employers'), 'employers',
                                    ['employer_id'], ['id'])


def downgrade():
    with op.batch_alter_table('access_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_access_records_employer_id_employers'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_access_records_employer_id'))
        batch_op.drop_column('employer_id')
    # (append-only: a database holding employers' access records cannot go back past this revision)
    with op.batch_alter_table('access_records', schema=None) as batch_op:
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('roster_imports', schema=None) as batch_op:
        batch_op.drop_index('ix_roster_imports_unit_started')
    op.drop_table('roster_imports')
