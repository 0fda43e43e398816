"""indexes that let lists and the worklist read a page in order and stop, whatever the size of the table

Revision ID: 0009_list_indexes
Revises: 0008_history_head
Create Date: 2026-11-24 20:55:00

The worklist walks open cases overdue first, then by due time; the default list walks newest first, with or
without a state; scope and the other filters are checked on the rows walked, and the walk stops at the page.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_list_indexes'
down_revision = '0008_history_head'
branch_labels = None
depends_on = None


def upgrade():
    # over the open cases only: the worklist's "NOT closed" picks this index, and the walk stops at the page
    op.create_index("ix_cases_worklist", "cases", [sa.text("overdue DESC"), "due_at", "id"],
                    postgresql_where=sa.text("NOT closed"), sqlite_where=sa.text("NOT closed"))
    op.create_index("ix_cases_state_created", "cases", ["state", "created_at", "id"])
    op.create_index("ix_cases_created", "cases", ["created_at", "id"])
    if op.get_bind().dialect.name == "postgresql":
        # lists by due time: cases without one last; "not late" is the range above now (a closed case has none)
        op.create_check_constraint("ck_cases_closed_no_due", "cases", "NOT closed OR due_at IS NULL")
        op.create_index("ix_cases_due_last", "cases", [sa.text("coalesce(due_at, 'infinity'::timestamptz)"), "id"])


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_cases_due_last", table_name="cases")
        op.drop_constraint("ck_cases_closed_no_due", "cases", type_="check")
    op.drop_index("ix_cases_created", table_name="cases")
    op.drop_index("ix_cases_state_created", table_name="cases")
    op.drop_index("ix_cases_worklist", table_name="cases")
