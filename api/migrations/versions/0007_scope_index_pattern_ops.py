"""indexes for scale: the scope index usable by prefix matches on PostgreSQL, due-time order, history events

Revision ID: 0007_scope_index
Revises: 0006_audit
Create Date: 2026-11-24 17:50:00

``org_path LIKE 'wenling/chengdong/%'`` uses a b-tree index on PostgreSQL only when the column is indexed with
the pattern operator class (the database's collation is not C), so the scope index is rebuilt with it.
"""
from alembic import op

revision = '0007_scope_index'
down_revision = '0006_audit'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_cases_due", "cases", ["due_at", "id"])
    op.create_index("ix_case_history_case_event", "case_history", ["case_id", "event"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_cases_scope", table_name="cases")
    op.create_index("ix_cases_scope", "cases", ["org_path", "definition_key", "state"],
                    postgresql_ops={"org_path": "varchar_pattern_ops"})


def downgrade():
    op.drop_index("ix_case_history_case_event", table_name="case_history")
    op.drop_index("ix_cases_due", table_name="cases")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_cases_scope", table_name="cases")
    op.create_index("ix_cases_scope", "cases", ["org_path", "definition_key", "state"])
