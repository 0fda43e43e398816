"""session generations, the administrators' log, idempotency records that expire

Revision ID: 0011_sessions_admin_log
Revises: 0014_unit_contacts
Create Date: 2026-11-27 10:00:00

A user's session generation ends every browser session and session token issued before it was raised;
the admin log is append-only (on PostgreSQL by trigger, like the case history); idempotency records are
removed after a day, by creation time.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from api.models import UTCDateTime

revision = '0011_sessions_admin_log'
down_revision = '0014_unit_contacts'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade():
    op.add_column("users", sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("api_tokens", sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_table(
        "admin_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(120), nullable=False),
        sa.Column("before", JSONType, nullable=True),
        sa.Column("after", JSONType, nullable=True),
    )
    op.create_index("ix_admin_log_at", "admin_log", ["at"])
    op.create_index("ix_admin_log_action_at", "admin_log", ["action", "at"])
    if op.get_bind().dialect.name == "postgresql":
        # gonghui_append_only() comes from 0006 (the case history's trigger function)
        op.execute("CREATE TRIGGER admin_log_append_only BEFORE UPDATE OR DELETE ON admin_log "
                   "FOR EACH ROW EXECUTE FUNCTION gonghui_append_only()")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS admin_log_append_only ON admin_log")
    op.drop_index("ix_admin_log_action_at", table_name="admin_log")
    op.drop_index("ix_admin_log_at", table_name="admin_log")
    op.drop_table("admin_log")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_column("api_tokens", "generation")
    op.drop_column("users", "session_generation")
