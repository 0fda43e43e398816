"""report summaries: counts of cases by what the reports group by, kept by triggers on ``cases`` in the
transaction that changes a case; ``cases.milestones`` (the milestone events a case has reached)

Revision ID: 0035_report_summaries
Revises: 0034_claim_window
Create Date: 2026-12-01 10:00:00

Every write of ``cases`` (a request's row, the sweep's set-wise update, imports, definition migrations, COPY)
adds delta rows to ``report_summaries`` through the triggers made here: -1 for the tuple a case left, +1 for the
one it entered, nothing when no summarised column changed. PostgreSQL: statement-level triggers over the
transition tables (one grouped insert per statement, so COPY of a million rows is one insert of its keys);
SQLite: row triggers. A case's local day is its ``created_at`` in Asia/Shanghai (UTC+8 all year since 1991).
"""
import sqlalchemy as sa
from alembic import op

revision = '0035_report_summaries'
down_revision = '0034_claim_window'
branch_labels = None
depends_on = None

# the milestone events of the lifecycles at this revision, in their declared order
MILESTONES = {"mediation_case": ("accept", "agree"), "worker_report": ("acknowledge", "resolve", "reopen")}

KEY = ("definition_key", "org_unit_id", "org_path", "grain", "period", "state", "level", "category", "closed",
       "overdue", "escalated", "milestones")
COLUMNS = ", ".join((*KEY, "n", "amount_cents"))
GROUPED = ", ".join(KEY)


def _pg_rows(source: str, sign: int) -> str:
    local = "(c.created_at AT TIME ZONE 'Asia/Shanghai')"
    return (f"SELECT c.definition_key, c.org_unit_id, c.org_path, g.grain, CASE g.grain WHEN 'm' THEN "
            f"date_trunc('month', {local})::date ELSE {local}::date END AS period, c.state, c.level, "
            f"coalesce(c.category, '') AS category, c.closed, c.overdue, c.escalations > 0 AS escalated, "
            f"c.milestones, {sign} AS n, {sign} * coalesce(round(c.amount * 100), 0)::bigint AS amount_cents "
            f"FROM {source} AS c CROSS JOIN (VALUES ('m'), ('d')) AS g(grain)")


def _pg_insert(*parts: str) -> str:
    return (f"INSERT INTO report_summaries ({COLUMNS}) SELECT {GROUPED}, sum(n), sum(amount_cents) "
            f"FROM ({' UNION ALL '.join(parts)}) AS d GROUP BY {GROUPED} "
            f"HAVING sum(n) <> 0 OR sum(amount_cents) <> 0")


PG_FUNCTION = f"""
CREATE FUNCTION report_summaries_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_pg_insert(_pg_rows("new_cases", 1))};
    ELSIF TG_OP = 'UPDATE' THEN
        {_pg_insert(_pg_rows("old_cases", -1), _pg_rows("new_cases", 1))};
    ELSE
        {_pg_insert(_pg_rows("old_cases", -1))};
    END IF;
    RETURN NULL;
END $$"""

PG_TRIGGERS = [
    "CREATE TRIGGER report_summaries_insert AFTER INSERT ON cases REFERENCING NEW TABLE AS new_cases "
    "FOR EACH STATEMENT EXECUTE FUNCTION report_summaries_keep()",
    "CREATE TRIGGER report_summaries_update AFTER UPDATE ON cases REFERENCING OLD TABLE AS old_cases "
    "NEW TABLE AS new_cases FOR EACH STATEMENT EXECUTE FUNCTION report_summaries_keep()",
    "CREATE TRIGGER report_summaries_delete AFTER DELETE ON cases REFERENCING OLD TABLE AS old_cases "
    "FOR EACH STATEMENT EXECUTE FUNCTION report_summaries_keep()",
]

SUMMARISED = ("definition_key", "org_unit_id", "org_path", "created_at", "state", "level", "category", "closed",
              "overdue", "milestones", "amount")


def _sqlite_values(row: str, sign: int) -> str:
    rest = (f"{row}.state, {row}.level, coalesce({row}.category, ''), {row}.closed, {row}.overdue, "
            f"{row}.escalations > 0, {row}.milestones, {sign}, "
            f"{sign} * CAST(round(coalesce({row}.amount, 0) * 100) AS INTEGER)")
    head = f"{row}.definition_key, {row}.org_unit_id, {row}.org_path"
    return (f"({head}, 'm', date({row}.created_at, '+8 hours', 'start of month'), {rest}), "
            f"({head}, 'd', date({row}.created_at, '+8 hours'), {rest})")


_CHANGED = " OR ".join([*(f"OLD.{name} IS NOT NEW.{name}" for name in SUMMARISED),
                        "(OLD.escalations > 0) IS NOT (NEW.escalations > 0)"])
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER report_summaries_insert AFTER INSERT ON cases BEGIN "
    f"INSERT INTO report_summaries ({COLUMNS}) VALUES {_sqlite_values('NEW', 1)}; END",
    f"CREATE TRIGGER report_summaries_update AFTER UPDATE ON cases WHEN {_CHANGED} BEGIN "
    f"INSERT INTO report_summaries ({COLUMNS}) VALUES {_sqlite_values('OLD', -1)}, {_sqlite_values('NEW', 1)}; END",
    f"CREATE TRIGGER report_summaries_delete AFTER DELETE ON cases BEGIN "
    f"INSERT INTO report_summaries ({COLUMNS}) VALUES {_sqlite_values('OLD', -1)}; END",
]


def _sqlite_backfill() -> str:
    rows = []
    for grain, period in (("m", "date(c.created_at, '+8 hours', 'start of month')"),
                          ("d", "date(c.created_at, '+8 hours')")):
        rows.append(f"SELECT c.definition_key, c.org_unit_id, c.org_path, '{grain}' AS grain, {period} AS period, "
                    f"c.state, c.level, coalesce(c.category, '') AS category, c.closed, c.overdue, "
                    f"c.escalations > 0 AS escalated, c.milestones, 1 AS n, "
                    f"CAST(round(coalesce(c.amount, 0) * 100) AS INTEGER) AS amount_cents FROM cases AS c")
    return (f"INSERT INTO report_summaries ({COLUMNS}) SELECT {GROUPED}, sum(n), sum(amount_cents) "
            f"FROM ({' UNION ALL '.join(rows)}) AS d GROUP BY {GROUPED}")


def upgrade():
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("milestones", sa.String(200), nullable=False, server_default=""))
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "report_summaries",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("definition_key", sa.String(64), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("org_path", sa.String(400), nullable=False),
        sa.Column("grain", sa.String(1), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("milestones", sa.String(200), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_report_summaries_scope", "report_summaries", ["definition_key", "grain", "org_path", "period"],
                    postgresql_ops={"org_path": "varchar_pattern_ops"})
    op.create_index("ix_report_summaries_period", "report_summaries", ["definition_key", "grain", "period"])
    # the milestones reached so far, from the history, in declared order (before the triggers: no deltas)
    for key, events in MILESTONES.items():
        for event in events:
            op.execute(sa.text(
                "UPDATE cases SET milestones = CASE WHEN milestones = '' THEN :event "
                "ELSE milestones || ',' || :event END WHERE definition_key = :key AND EXISTS "
                "(SELECT 1 FROM case_history AS h WHERE h.case_id = cases.id AND h.event = :event)"
            ).bindparams(key=key, event=event))
    if dialect == "postgresql":
        op.execute(_pg_insert(_pg_rows("cases", 1)))
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        op.execute(_sqlite_backfill())
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    for name in ("report_summaries_insert", "report_summaries_update", "report_summaries_delete"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON cases")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS report_summaries_keep()")
    op.drop_index("ix_report_summaries_period", table_name="report_summaries")
    op.drop_index("ix_report_summaries_scope", table_name="report_summaries")
    op.drop_table("report_summaries")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("milestones")
