"""claim window from the definition: a scheme year's own claim window is optional (NULL: the definition's
config.claim_window_days); the years that held the former built-in 180 days follow the definition from now on

Revision ID: 0034_claim_window
Revises: 0032_roster_jobs
Create Date: 2026-11-28 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0034_claim_window'
down_revision = '0032_roster_jobs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("aid_scheme_years") as batch:
        batch.alter_column("window_days", existing_type=sa.Integer(), nullable=True)
    op.execute("UPDATE aid_scheme_years SET window_days = NULL WHERE window_days = 180")


def downgrade():
    op.execute("UPDATE aid_scheme_years SET window_days = 180 WHERE window_days IS NULL")
    with op.batch_alter_table("aid_scheme_years") as batch:
        batch.alter_column("window_days", existing_type=sa.Integer(), nullable=False)
