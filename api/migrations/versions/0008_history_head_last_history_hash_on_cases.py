"""the hash of each case's last history row kept on the case, so a transition chains without reading it back

Revision ID: 0008_history_head
Revises: 0007_scope_index
Create Date: 2026-11-24 19:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_history_head'
down_revision = '0007_scope_index'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("history_hash", sa.String(64), nullable=True))
    op.execute("UPDATE cases SET history_hash = (SELECT h.hash FROM case_history h WHERE h.case_id = cases.id "
               "ORDER BY h.seq DESC LIMIT 1)")


def downgrade():
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("history_hash")
