"""the worklist's index holds the columns its conditions read, so that its count up to the cap is a walk of the
index alone (PostgreSQL); report summaries at a third grain, ten days (旬), so that a period's partial months
read a few ten-day rows and days instead of up to a month of day rows

Revision ID: 0036_worklist_ten_days
Revises: 0035_report_summaries
Create Date: 2026-12-02 10:00:00

The ten days of a month are the 1st–10th, the 11th–20th and the 21st to its end; a ten-day row's period is its
first day. The triggers of ``0035_report_summaries`` are made again with the third grain (PostgreSQL: the
function they share; SQLite: the row triggers), after the ten-day rows are summed from the day rows, with
``cases`` locked against writes in between on PostgreSQL.
"""
import sqlalchemy as sa
from alembic import op

revision = '0036_worklist_ten_days'
down_revision = '0035_report_summaries'
branch_labels = None
depends_on = None

KEY = ("definition_key", "org_unit_id", "org_path", "grain", "period", "state", "level", "category", "closed",
       "overdue", "escalated", "milestones")
COLUMNS = ", ".join((*KEY, "n", "amount_cents"))
GROUPED = ", ".join(KEY)
SUMMARISED = ("definition_key", "org_unit_id", "org_path", "created_at", "state", "level", "category", "closed",
              "overdue", "milestones", "amount")
SHANGHAI = "'+8 hours'"   # SQLite's modifier to local time in Asia/Shanghai (UTC+8 all year)
TRIGGERS = ("report_summaries_insert", "report_summaries_update", "report_summaries_delete")


def _pg_period(grain: str, day: str) -> str:
    """The first day of the period of ``grain`` holding ``day`` (a date or a local timestamp), on PostgreSQL."""
    month = f"date_trunc('month', {day})::date"
    return {"m": month, "t": f"({month} + least(extract(day from {day})::int - 1, 20) / 10 * 10)",
            "d": f"{day}::date"}[grain]


def _sqlite_period(grain: str, day: str, *modifiers: str) -> str:
    within = ", ".join((day, *modifiers))
    return {"m": f"date({within}, 'start of month')",
            "t": f"date({within}, 'start of month', '+' || (min(CAST(strftime('%d', {within}) AS INTEGER) - 1, 20) "
                 f"/ 10 * 10) || ' days')",
            "d": f"date({within})"}[grain]


def _pg_rows(source: str, sign: int, grains: tuple[str, ...]) -> str:
    local = "(c.created_at AT TIME ZONE 'Asia/Shanghai')"
    periods = " ".join(f"WHEN '{grain}' THEN {_pg_period(grain, local)}" for grain in grains)
    values = ", ".join(f"('{grain}')" for grain in grains)
    return (f"SELECT c.definition_key, c.org_unit_id, c.org_path, g.grain, CASE g.grain {periods} END AS period, "
            f"c.state, c.level, coalesce(c.category, '') AS category, c.closed, c.overdue, "
            f"c.escalations > 0 AS escalated, c.milestones, {sign} AS n, "
            f"{sign} * coalesce(round(c.amount * 100), 0)::bigint AS amount_cents "
            f"FROM {source} AS c CROSS JOIN (VALUES {values}) AS g(grain)")


def _pg_insert(*parts: str) -> str:
    return (f"INSERT INTO report_summaries ({COLUMNS}) SELECT {GROUPED}, sum(n), sum(amount_cents) "
            f"FROM ({' UNION ALL '.join(parts)}) AS d GROUP BY {GROUPED} "
            f"HAVING sum(n) <> 0 OR sum(amount_cents) <> 0")


def _pg_function(grains: tuple[str, ...]) -> str:
    return f"""
CREATE OR REPLACE FUNCTION report_summaries_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_pg_insert(_pg_rows("new_cases", 1, grains))};
    ELSIF TG_OP = 'UPDATE' THEN
        {_pg_insert(_pg_rows("old_cases", -1, grains), _pg_rows("new_cases", 1, grains))};
    ELSE
        {_pg_insert(_pg_rows("old_cases", -1, grains))};
    END IF;
    RETURN NULL;
END $$"""


def _sqlite_values(row: str, sign: int, grains: tuple[str, ...]) -> str:
    rest = (f"{row}.state, {row}.level, coalesce({row}.category, ''), {row}.closed, {row}.overdue, "
            f"{row}.escalations > 0, {row}.milestones, {sign}, "
            f"{sign} * CAST(round(coalesce({row}.amount, 0) * 100) AS INTEGER)")
    head = f"{row}.definition_key, {row}.org_unit_id, {row}.org_path"
    return ", ".join(f"({head}, '{grain}', {_sqlite_period(grain, f'{row}.created_at', SHANGHAI)}, {rest})"
                     for grain in grains)


def _sqlite_triggers(grains: tuple[str, ...]) -> list[str]:
    changed = " OR ".join([*(f"OLD.{name} IS NOT NEW.{name}" for name in SUMMARISED),
                           "(OLD.escalations > 0) IS NOT (NEW.escalations > 0)"])
    return [
        f"CREATE TRIGGER report_summaries_insert AFTER INSERT ON cases BEGIN "
        f"INSERT INTO report_summaries ({COLUMNS}) VALUES {_sqlite_values('NEW', 1, grains)}; END",
        f"CREATE TRIGGER report_summaries_update AFTER UPDATE ON cases WHEN {changed} BEGIN "
        f"INSERT INTO report_summaries ({COLUMNS}) VALUES {_sqlite_values('OLD', -1, grains)}, "
        f"{_sqlite_values('NEW', 1, grains)}; END",
        f"CREATE TRIGGER report_summaries_delete AFTER DELETE ON cases BEGIN "
        f"INSERT INTO report_summaries ({COLUMNS}) VALUES {_sqlite_values('OLD', -1, grains)}; END",
    ]


def _keep(grains: tuple[str, ...]) -> None:
    """Make the triggers write the rows of ``grains``."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_function(grains))
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in _sqlite_triggers(grains):
        op.execute(statement)


def _ten_days_from_the_days() -> str:
    postgresql = op.get_bind().dialect.name == "postgresql"
    period = _pg_period("t", "period") if postgresql else _sqlite_period("t", "period")
    others = ", ".join(name for name in KEY if name not in ("grain", "period"))
    return (f"INSERT INTO report_summaries ({COLUMNS}) SELECT definition_key, org_unit_id, org_path, 't', {period}, "
            f"state, level, category, closed, overdue, escalated, milestones, sum(n), sum(amount_cents) "
            f"FROM report_summaries WHERE grain = 'd' GROUP BY {others}, {period} "
            f"HAVING sum(n) <> 0 OR sum(amount_cents) <> 0")


WORKLIST_INCLUDES = ["org_path", "definition_key", "definition_version", "state", "category"]


def _worklist_index(include: list[str]) -> None:
    """The open cases in the worklist's order (overdue first, then by due time), with ``include``d columns."""
    op.drop_index("ix_cases_worklist", table_name="cases")
    op.create_index("ix_cases_worklist", "cases", [sa.text("overdue DESC"), "due_at", "id"],
                    postgresql_where=sa.text("NOT closed"), postgresql_include=include)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("LOCK TABLE cases IN SHARE MODE")   # no case changes between the sums and the new triggers
        _worklist_index(WORKLIST_INCLUDES)
    op.execute(_ten_days_from_the_days())
    _keep(("m", "t", "d"))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("LOCK TABLE cases IN SHARE MODE")
        _worklist_index([])
    _keep(("m", "d"))
    op.execute("DELETE FROM report_summaries WHERE grain = 't'")
