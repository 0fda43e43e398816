"""Reading cases: one by id within the caller's scope, a filtered page of them, the worklist."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api import ownership
from api.auth import Principal
from api.models import Case, OrgUnit
from api.pagination import Page, count_capped, paged
from workflow.engine import Engine
from workflow.errors import CaseNotFound


def get_case(session: Session, principal: Principal | None, case_id: int) -> Case:
    case = ownership.case_by_id(session, case_id)
    if case is None or (principal is not None and not principal.sees(case.org_path)):
        raise CaseNotFound(f"案件 {case_id} 不存在", case_id=case_id)
    return case


def actionable_states(engine: Engine, roles: frozenset[str]) -> dict[tuple[str, int], list[str]]:
    """For each definition version, the states in which a holder of ``roles`` can fire some event (kept by the
    engine, per catalog generation and set of roles: a deployed version starts a generation)."""
    return engine.workable_states(roles)


@dataclass(frozen=True)
class CaseQuery:
    definition: str | None = None
    state: str | None = None
    level: str | None = None
    org_unit: str | None = None
    overdue: bool | None = None
    q: str | None = None
    involved: bool | None = None   # the cases the caller's unit once owned (or owns)
    sort: str = "created_at"
    page: int = 1
    per_page: int = 50


CasePage = Page[Case]


def list_cases(session: Session, principal: Principal, query: CaseQuery, now: datetime,
               count_limit: int = 1000) -> CasePage:
    """One page of the cases in scope matching the query. The matches are counted up to ``count_limit``
    only, so that the cost of a page does not grow with the table (a clerk pages through the first thousand;
    beyond that the answer is "more than 1000" and the filters are there to narrow it)."""
    where = _scope(session, principal, query)
    if where is None:
        return Page([], 0, True, query.page, query.per_page)
    if query.definition:
        where.append(Case.definition_key == query.definition)
    if query.state:
        where.append(Case.state == query.state)
    if query.level:
        where.append(Case.level == query.level)
    # On PostgreSQL the due-time order is walked on ix_cases_due_last, (due_at, or infinity when none; id), and
    # "not late" is a range of it: a case closed has no due time (ck_cases_closed_no_due), so a case is not late
    # exactly when it is not marked overdue and its due time, if any, is still ahead.
    due_last = (sa.func.coalesce(Case.due_at, sa.text("'infinity'::timestamptz"))
                if session.get_bind().dialect.name == "postgresql" else None)
    if query.overdue is not None:
        where.extend(_lateness(query.overdue, now, due_last))
    if query.q:
        needle = query.q.strip()
        where.append(sa.or_(Case.number == needle, Case.party.contains(needle, autoescape=True)))
    matches = sa.select(Case).where(*where)
    total, exact = count_capped(session, matches, count_limit)
    by_due = [due_last, Case.id] if due_last is not None else [Case.due_at.asc().nulls_last(), Case.id]
    order = (by_due if query.sort == "due_at"
             else [Case.created_at.desc(), Case.id.desc()])
    items = list(session.scalars(matches.order_by(*order)
                                 .limit(query.per_page).offset((query.page - 1) * query.per_page)))
    return paged(items, total, exact, query.page, query.per_page)


def _scope(session: Session, principal: Principal, query: CaseQuery) -> list[Any] | None:
    """The conditions of the cases the query may see: the caller's scope, narrowed to one unit and those below it
    (None when that unit is unknown or outside the scope), or the cases the caller's unit was ever involved in."""
    scope_path = principal.org_path
    if query.org_unit:
        unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == query.org_unit))
        if unit is None or not principal.sees(unit.path):
            return None
        scope_path = unit.path
    in_scope = Case.org_path.startswith(scope_path, autoescape=True)
    if not query.involved:
        return [in_scope]
    involved = Case.id.in_(ownership.involved_case_ids(principal.org_unit_id))
    return [involved, in_scope] if query.org_unit else [involved]


def _lateness(overdue: bool, now: datetime, due_last: Any) -> list[Any]:
    """The conditions of the cases late (``overdue``) or not late at ``now``."""
    late = sa.or_(Case.overdue.is_(True), sa.and_(Case.closed.is_(False), Case.due_at <= now))
    if overdue:
        return [late]
    if due_last is not None:
        return [sa.not_(Case.overdue), due_last > now]
    return [sa.not_(late)]


def worklist(session: Session, engine: Engine, principal: Principal, limit: int, offset: int = 0, *,
             definition_key: str | None = None, state: str | None = None,
             unit_path: str | None = None) -> list[Case]:
    """Open cases in scope on which the caller can act now: overdue first, then by due time (``limit`` of them
    from ``offset``); narrowed, when asked, to one lifecycle (``definition_key``), one state, and the cases of
    one unit and those below it (``unit_path``) — in the query, so that the page holds the first ``limit`` cases
    that match."""
    query = _worklist(engine, principal, definition_key=definition_key, state=state, unit_path=unit_path)
    if query is None:
        return []
    return list(session.scalars(query.order_by(*_WORKLIST_ORDER).limit(limit).offset(offset)))


def worklist_page(session: Session, engine: Engine, principal: Principal, page: int, per_page: int,
                  count_limit: int = 1000) -> CasePage:
    """One page of the worklist, its cases counted up to ``count_limit``."""
    query = _worklist(engine, principal)
    if query is None:
        return Page([], 0, True, page, per_page)
    ordered = query.order_by(*_WORKLIST_ORDER)
    total, exact = count_capped(session, ordered, count_limit, ordered=True)
    items = list(session.scalars(ordered.limit(per_page).offset((page - 1) * per_page)))
    return paged(items, total, exact, page, per_page)


# overdue first, then by due time: the order of the partial index ix_cases_worklist, which also holds every
# column the worklist's conditions read (PostgreSQL), so that its count up to the cap is a walk of the index alone
_WORKLIST_ORDER = (Case.overdue.desc(), Case.due_at.asc().nulls_last(), Case.id)


@functools.lru_cache(maxsize=256)
def _actionable(engine: Engine, _generation: int, roles: frozenset[str], supervises: bool,
                warned: bool) -> sa.ColumnElement[bool] | None:
    """The condition "the caller can act on it now" for holders of ``roles`` (``supervises``: an administrator,
    who also acts on every overdue case; ``warned``: a street or city clerk or administrator, who gets every early
    warning); None when it holds for nothing. Built once per catalog generation and kind of caller: a condition
    over every version of every definition.

    Which open cases the caller can act on is a disjunction whose share the planner cannot estimate (states are
    open only on open cases; overdue ones are rare in the table, common among the open): taken apart it guesses a
    few dozen rows, ORs bitmaps of other indexes and sorts thousands. Behind a CASE it is one opaque condition of
    middling selectivity, and the plan is the walk of ix_cases_worklist in the worklist's own order that stops at
    the page, for the count as for the page (the plans: ``python -m bench --only scale``)."""
    clauses = [sa.and_(Case.definition_key == key, Case.definition_version == version, Case.state.in_(names))
               for (key, version), names in actionable_states(engine, roles).items()]
    if supervises:
        clauses.append(Case.overdue.is_(True))
    if warned:
        clauses.extend(sa.and_(Case.definition_key == definition.key,
                               Case.category.in_(definition.early_warning_categories))
                       for definition in engine.catalog.latest() if definition.early_warning_categories)
    return sa.case((sa.or_(*clauses), sa.true()), else_=sa.false()) if clauses else None


def _worklist(engine: Engine, principal: Principal, *, definition_key: str | None = None, state: str | None = None,
              unit_path: str | None = None) -> sa.Select[Case] | None:
    """The worklist's cases, unordered (None when the caller can act on nothing).

    Administrators also get every case marked overdue (督办) in their scope: supervising it is their job;
    street and city clerks get every early warning (a definition's ``early_warning_categories``).
    """
    narrowed: list[Any] = []
    if definition_key:
        narrowed.append(Case.definition_key == definition_key)
    if state:
        narrowed.append(Case.state == state)
    if unit_path:
        narrowed.append(Case.org_path.startswith(unit_path, autoescape=True))
    actionable = _actionable(engine, engine.catalog.generation, principal.acting_roles, "admin" in principal.roles,
                             principal.level in ("street", "city") and bool(principal.roles & {"clerk", "admin"}))
    if actionable is None:
        return None
    # "NOT closed" exactly as the partial index ix_cases_worklist says it, so that the planner can use it
    return sa.select(Case).where(sa.not_(Case.closed), Case.org_path.startswith(principal.org_path, autoescape=True),
                                 actionable, *narrowed)
