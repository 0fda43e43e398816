"""ownership: the units each case was owned by, notifications, webhooks with their outbox and delivery log

Revision ID: 0013_ownership
Revises: 0016_definitions
Create Date: 2026-11-27 10:00:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import api.models  # noqa: F401  (custom column types)

revision = '0013_ownership'
down_revision = '0016_definitions'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')
UTC = api.models.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        'webhooks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('events', JSON, nullable=False),
        sa.Column('secret', sa.String(length=200), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTC, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks')))
    op.create_table(
        'case_involvements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('org_unit_id', sa.Integer(), nullable=False),
        sa.Column('at', UTC, nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_involvements_case_id_cases')),
        sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'],
                                name=op.f('fk_case_involvements_org_unit_id_org_units')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_involvements')))
    op.create_index('ix_case_involvements_unit_case', 'case_involvements', ['org_unit_id', 'case_id'])
    # the cases already there: every unit a history row took a case to held it
    op.execute("INSERT INTO case_involvements (case_id, org_unit_id, at) "
               "SELECT h.case_id, u.id, MIN(h.at) FROM case_history h JOIN org_units u ON u.code = h.org_to "
               "GROUP BY h.case_id, u.id")
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('at', UTC, nullable=False),
        sa.Column('deadline', UTC, nullable=True),
        sa.Column('read_at', UTC, nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_notifications_case_id_cases')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
        # one due-soon or overdue notice per case, deadline and user, whichever sweeper writes it
        sa.UniqueConstraint('case_id', 'kind', 'deadline', 'user_id', name='uq_notifications_case_kind_deadline'))
    op.create_index('ix_notifications_user', 'notifications', ['user_id', 'id'])
    op.create_table(
        'webhook_outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('webhook_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('next_attempt_at', UTC, nullable=False),
        sa.Column('delivered_at', UTC, nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_webhook_outbox_case_id_cases')),
        sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('fk_webhook_outbox_webhook_id_webhooks')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_outbox')),
        sa.UniqueConstraint('event_id', name=op.f('uq_webhook_outbox_event_id')))
    op.create_index('ix_webhook_outbox_due', 'webhook_outbox', ['status', 'next_attempt_at', 'id'])
    op.create_index('ix_webhook_outbox_queue', 'webhook_outbox', ['webhook_id', 'case_id', 'status', 'id'])
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('webhook_id', sa.Integer(), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('at', UTC, nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('response', sa.Text(), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['outbox_id'], ['webhook_outbox.id'],
                                name=op.f('fk_webhook_deliveries_outbox_id_webhook_outbox')),
        sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('fk_webhook_deliveries_webhook_id_webhooks')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')))
    op.create_index('ix_webhook_deliveries_webhook', 'webhook_deliveries', ['webhook_id', 'id'])
    # the sweep finds the open cases entering their warning time (due-soon notices)
    op.create_index('ix_cases_warn_open', 'cases', ['warn_at'], postgresql_where=sa.text('NOT closed'),
                    sqlite_where=sa.text('NOT closed'))


def downgrade():
    op.drop_index('ix_cases_warn_open', table_name='cases')
    op.drop_index('ix_webhook_deliveries_webhook', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index('ix_webhook_outbox_queue', table_name='webhook_outbox')
    op.drop_index('ix_webhook_outbox_due', table_name='webhook_outbox')
    op.drop_table('webhook_outbox')
    op.drop_index('ix_notifications_user', table_name='notifications')
    op.drop_table('notifications')
    op.drop_index('ix_case_involvements_unit_case', table_name='case_involvements')
    op.drop_table('case_involvements')
    op.drop_table('webhooks')
