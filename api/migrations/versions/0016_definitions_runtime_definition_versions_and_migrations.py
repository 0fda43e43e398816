"""definitions deployed at runtime, migrations of open cases

Revision ID: 0016_definitions
Revises: 0017_employer_contact
Create Date: 2026-11-27 10:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401

import api.models  # noqa: F401  (custom column types)
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0016_definitions'
down_revision = '0017_employer_contact'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('definition_versions',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('origin', sa.String(length=200), nullable=True),
    sa.Column('deployed_by', sa.String(length=64), nullable=False),
    sa.Column('deployed_at', api.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', 'version', name=op.f('pk_definition_versions'))
    )
    op.create_table('definition_migrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('from_version', sa.Integer(), nullable=False),
    sa.Column('to_version', sa.Integer(), nullable=False),
    sa.Column('state_map', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('recount_deadlines', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('moved', sa.Integer(), nullable=False),
    sa.Column('conflicts', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('started_at', api.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', api.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_definition_migrations'))
    )
    with op.batch_alter_table('definition_migrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_definition_migrations_key'), ['key'], unique=False)


def downgrade():
    with op.batch_alter_table('definition_migrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_definition_migrations_key'))
    op.drop_table('definition_migrations')
    op.drop_table('definition_versions')
