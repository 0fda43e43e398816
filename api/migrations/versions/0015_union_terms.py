"""union_terms: each union's current term and the case that follows it

Revision ID: 0015_union_terms
Revises: 0009_list_indexes
Create Date: 2026-11-27 10:10:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import api.models  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0015_union_terms'
down_revision = '0013_ownership'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('union_terms',
    sa.Column('org_unit_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('chair', sa.String(length=100), nullable=True),
    sa.Column('committee', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('term_start', sa.Date(), nullable=False),
    sa.Column('term_years', sa.Integer(), nullable=False),
    sa.Column('term_end', sa.Date(), nullable=False),
    sa.Column('updated_at', api.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_union_terms_case_id_cases')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_union_terms_org_unit_id_org_units')),
    sa.PrimaryKeyConstraint('org_unit_id', name=op.f('pk_union_terms'))
    )
    with op.batch_alter_table('union_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_union_terms_case_id'), ['case_id'], unique=False)


def downgrade():
    with op.batch_alter_table('union_terms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_union_terms_case_id'))
    op.drop_table('union_terms')
