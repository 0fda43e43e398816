"""employer contact: the roster's 联系人 and 联系电话 kept, for the first formation step (contacting the employer)

Revision ID: 0017_employer_contact
Revises: 0011_sessions_admin_log
Create Date: 2026-11-27 10:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0017_employer_contact'
down_revision = '0011_sessions_admin_log'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("employers") as batch:
        batch.add_column(sa.Column("contact_name", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("contact_phone", sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table("employers") as batch:
        batch.drop_column("contact_phone")
        batch.drop_column("contact_name")
