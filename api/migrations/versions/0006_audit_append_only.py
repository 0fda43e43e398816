"""append-only audit tables on PostgreSQL

Revision ID: 0006_audit
Revises: 0005_union
Create Date: 2026-11-24 17:30:00

The application never updates or deletes history rows or access records; on PostgreSQL a trigger makes
that a rule of the database too. (TRUNCATE, an administrator's tool, is not affected.)
"""
from alembic import op

revision = '0006_audit'
down_revision = '0005_union'
branch_labels = None
depends_on = None

TABLES = ("case_history", "access_records")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION gonghui_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
        END $$;
    """)
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION gonghui_append_only()")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS gonghui_append_only()")
