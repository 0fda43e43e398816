"""A union's terms: the data of a term case, opening term cases in bulk, the union's current term.

Used by the hooks (``api.lifecycles.union_term``), the import (``.importer``) and the union's record (``.views``).
The dates are worked out by ``workflow.rules.union_term`` on the engine's calendar, with the definition's
``config`` (term lengths, the reminder before the end).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.auth import Principal
from api.cases import SYSTEM as SYSTEM_ACTOR
from api.cases import Opened, open_many
from api.lifecycles import Context
from api.lifecycles.union_term.models import UnionTerm
from api.models import Case, OrgUnit
from workflow.errors import InvalidData
from workflow.rules.union_term import TermRules, status_of

KEY = "union_term"
SOURCES = ["formation", "re_election", "import", "manual"]
# the system opens the cases that follow an approval; it sees every unit (an empty path prefixes all)
SYSTEM = Principal(0, SYSTEM_ACTOR, frozenset({"system"}), "", 0, "", "city")


def term_data(context: Context, union: OrgUnit, *, chair: str | None, committee: list[str], term_start: date,
              term_years: int | None, source: str, name: str | None = None, uscc: str | None = None,
              previous: str | None = None) -> dict[str, Any]:
    """A term case's data: the union, its committee, the term and the dates the deadlines read. ``context`` is
    the union_term definition's."""
    years, end, reminder = TermRules.of(context.config).dates(term_start, term_years, context.calendar)
    data = {"union_unit": union.code, "uscc": uscc or union.uscc, "name": name or union.name, "chair": chair,
            "committee": list(committee), "term_start": term_start.isoformat(), "term_years": years,
            "term_end": end.isoformat(), "reminder_on": reminder.isoformat(), "source": source,
            "street": street_of(union).code}
    if previous:
        data["previous_case"] = previous
    return data


def street_of(union: OrgUnit) -> OrgUnit:
    if union.level != "enterprise" or union.parent is None or union.parent.level != "street":
        raise InvalidData({"data.union_unit": [f"{union.code} 不是镇（街道）下的基层工会"]})
    return union.parent


def open_terms(context: Context, items: list[tuple[OrgUnit, dict[str, Any]]]) -> list[Opened]:
    """Open one term case per ``(union, data)`` with one insert per table, and make each the union's current
    term. The caller has checked that none of these unions has an open term case. The system opens them when
    the context names no principal."""
    opened = open_many(context.session, context.engine, context.principal or SYSTEM, KEY,
                       [(street_of(union).code, data) for union, data in items], context.now, validated=True)
    record_terms(context.session, [(union.id, case.id, data)
                                   for (union, data), case in zip(items, opened, strict=True)], context.now)
    return opened


def record_terms(session: Session, rows: list[tuple[int, int, dict[str, Any]]], now: datetime) -> None:
    if not rows:
        return
    table = UnionTerm.__table__
    insert = (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)
    columns = ("case_id", "chair", "committee", "term_start", "term_years", "term_end", "updated_at")
    statement = insert.on_conflict_do_update(index_elements=[table.c.org_unit_id],
                                             set_={name: insert.excluded[name] for name in columns})
    session.execute(statement, [
        {"org_unit_id": unit_id, "case_id": case_id, "chair": data.get("chair"), "committee": data["committee"],
         "term_start": date.fromisoformat(data["term_start"]), "term_years": data["term_years"],
         "term_end": date.fromisoformat(data["term_end"]), "updated_at": now} for unit_id, case_id, data in rows])
    written = {unit_id for unit_id, _, _ in rows}
    for held in [item for item in session.identity_map.values() if isinstance(item, UnionTerm)]:
        if held.org_unit_id in written:   # read again when next used: the statement went around the session
            session.expire(held)


def open_case_of(session: Session, union_id: int, *, lock: bool = False) -> Case | None:
    """The union's open term case, if it has one (locked on PostgreSQL when asked)."""
    query = sa.select(UnionTerm).where(UnionTerm.org_unit_id == union_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    term = session.scalar(query)
    return term.case if term is not None and not term.case.closed else None


def current_status(term: UnionTerm, today: date) -> str | None:
    return status_of(term.case.state, term.term_end.isoformat(), term.case.data.get("reminder_on"), today)
