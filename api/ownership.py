"""Who holds a case, who may supervise it, and who hears of it.

- **Supervision (督办)**: the events of action ``assign`` (交办), ``take_over`` (提级办理) and ``urge`` (催办) are
  fired by a clerk or administrator of a unit above the owner (``assign`` also by the owner itself, sending the
  case down; ``urge`` also by an administrator of the owner when the case is overdue at the top).
- **Involvement**: every unit a case is owned by is written down (``case_involvements``) when the case opens
  there or moves there, so that the unit keeps seeing the case, read-only, once it has moved on.
- **Notifications**: when a case arrives at a unit (opened, escalated, assigned, taken over, returned by someone
  outside the unit) or is urged, due soon or overdue, every user of the owning unit who can act on it gets a
  notice, written with the change.

The rows go through the ``CaseWriter`` the caller passes (``api.writers``): row by row in a request, collected
by the sweep's batch and ``api.cases.open_many``. Imports: models, auth, writers, workflow — never the use cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.auth import Principal
from api.deadlines import SHANGHAI
from api.models import Case, OrgUnit, User
from api.models_ownership import CaseInvolvement, Notification
from api.transaction_cache import per_transaction
from api.writers import CaseRecord, CaseWriter, affected_rows, insert_statement
from workflow.definitions import LEVELS, Definition, EventDef
from workflow.engine import Engine, Outcome, parent_level
from workflow.errors import CaseNotFound, InvalidData, RecordNotFound, RoleNotPermitted

KINDS = ("arrived", "escalated", "assigned", "taken_over", "urged", "due_soon", "overdue")
KIND_LABELS = {"arrived": "新到案件", "escalated": "上报", "assigned": "交办", "taken_over": "提级办理",
               "urged": "催办", "due_soon": "即将到期", "overdue": "超期督办"}
MOVES = {"assign": "assigned", "take_over": "taken_over"}


# ---- supervision ---------------------------------------------------------------------------------------

def may_supervise(principal: Principal, case: Case, definition: Definition, event: EventDef) -> bool:
    """Whether the caller's unit stands where ``event`` (a supervision event) may be fired from."""
    owner, mine = case.org_path, principal.org_path
    if not owner.startswith(mine):
        return False
    above = owner != mine
    if event.action == "assign":   # down to a unit below the caller's, at a level that may own the case
        return any(LEVELS.index(level) < LEVELS.index(principal.level) for level in definition.owner_levels)
    if event.action == "take_over":
        return above and principal.level in definition.owner_levels
    if event.action == "urge":
        return above or (bool(case.overdue) and "admin" in principal.roles)
    return True


def check_supervision(principal: Principal, case: Case, definition: Definition, event: EventDef) -> None:
    if event.supervises and not may_supervise(principal, case, definition, event):
        reason = {"assign": "只有承办单位或其上级单位的干事、管理员可以向下级单位交办",
                  "take_over": "只有承办单位的上级单位可以提级办理",
                  "urge": "只有承办单位的上级单位可以催办"}[event.action or ""]
        raise RoleNotPermitted(f"不能对本案件执行“{event.label}”：{reason}", event=event.name)


def allowed_events(engine: Engine, case: Case, principal: Principal, view: Any) -> list[str]:
    """The events the caller may fire on the case now: none on a closed case or on one the caller's unit only
    once held (read-only); supervision events only from where they may be fired."""
    if case.closed or not principal.sees(case.org_path):
        return []
    definition = engine.definition(view)
    return [name for name in engine.allowed_events(view, principal.acting_roles, supervision=True)
            if may_supervise(principal, case, definition, definition.events[name])]


def prepare_move(session: Session, principal: Principal, case: Case, definition: Definition, event: EventDef,
                 data: dict[str, Any]) -> dict[str, Any]:
    """The unit an assignment or take-over moves the case to, checked and named in the event's data."""
    if event.action == "take_over":
        return {**data, "org_unit": principal.org_unit}
    if event.action != "assign":
        return data
    code = data.get("org_unit")
    unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code)) if code else None
    if unit is None or not unit.path.startswith(principal.org_path) or unit.path == principal.org_path:
        raise InvalidData({"data.org_unit": [f"单位“{code}”不存在或不在本单位下级范围内，不能交办"]},
                          detail=f"不能交办给“{code}”")
    if unit.level not in definition.owner_levels:
        raise InvalidData({"data.org_unit": [f"“{unit.name}”（{code}）所在层级不能承办“{definition.title}”案件"]},
                          detail=f"不能交办给“{unit.name}”")
    return data


def move_target(session: Session, outcome: Outcome) -> OrgUnit | None:
    """The unit an outcome of ``assign`` or ``take_over`` moves the case to (checked by ``prepare_move``)."""
    if outcome.action not in MOVES:
        return None
    return session.scalar(sa.select(OrgUnit).where(OrgUnit.code == outcome.changes["org_unit"]))


# ---- involvement ---------------------------------------------------------------------------------------

def involve(writer: CaseWriter, case: CaseRecord, now: datetime) -> None:
    """Write down that the case's current unit holds it."""
    writer.add(CaseInvolvement, {"case_id": case.id, "org_unit_id": case.org_unit_id, "at": now})


def involved_case_ids(unit_id: int) -> sa.Select[int]:
    return sa.select(CaseInvolvement.case_id).where(CaseInvolvement.org_unit_id == unit_id)


MAX_ID = 2**31 - 1   # ids are 32-bit integers on PostgreSQL
_CASE_BY_ID = sa.select(Case).where(Case.id == sa.bindparam("case_id"))


def case_by_id(session: Session, case_id: int) -> Case | None:
    """``session.get(Case, case_id)`` (None when there is no such case), read with one statement built once:
    ``session.get`` builds its statement and works out its cache key again on every call (about a tenth of the
    CPU of reading a case over the API)."""
    if not 0 < case_id <= MAX_ID:
        return None
    known = session.identity_map.get(session.identity_key(Case, case_id))
    if known is not None:
        return known  # type: ignore[no-any-return]
    return session.execute(_CASE_BY_ID, {"case_id": case_id}).scalar_one_or_none()


def readable_case(session: Session, principal: Principal, case_id: int) -> Case:
    """A case in the caller's scope, or one the caller's unit once held (to be shown read-only); else 404."""
    case = case_by_id(session, case_id)
    if case is not None and not principal.sees(case.org_path) and session.scalar(
            involved_case_ids(principal.org_unit_id).where(CaseInvolvement.case_id == case_id).limit(1)) is None:
        case = None
    if case is None:
        raise CaseNotFound(f"案件 {case_id} 不存在", case_id=case_id)
    return case


# ---- notifications -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Member:
    id: int
    username: str
    roles: frozenset[str]


_MEMBERS = "gonghui.unit_members"


def _members(session: Session, unit_ids: Iterable[int]) -> dict[int, list[_Member]]:
    """The active users of each unit, read once per transaction for all the units asked about."""
    known: dict[int, list[_Member]] = per_transaction(session, _MEMBERS, dict)
    missing = {unit_id for unit_id in unit_ids if unit_id not in known}
    if missing:
        for unit_id in missing:
            known[unit_id] = []
        for user_id, username, unit_id, roles in session.execute(
                sa.select(User.id, User.username, User.org_unit_id, User.roles)
                .where(User.org_unit_id.in_(missing), User.active.is_(True))):
            known[unit_id].append(_Member(user_id, username, frozenset(roles or ())))
    return known


_ACTING: dict[tuple[str, int, str, str], tuple[Definition, frozenset[str]]] = {}


def acting_roles(definition: Definition, state: str, level: str) -> frozenset[str]:
    """The roles (as definitions name them) that can move a case on in ``state`` at a unit of ``level``
    (worked out once per definition, state and level)."""
    key = (definition.key, definition.version, state, level)
    cached = _ACTING.get(key)
    if cached is None or cached[0] is not definition:
        cached = _ACTING[key] = (definition, _acting_roles(definition, state, level))
    return cached[1]


def _acting_roles(definition: Definition, state: str, level: str) -> frozenset[str]:
    roles: set[str] = set()
    for event in definition.events_from(state):
        if event.supervises or (event.escalates and parent_level(level) is None):
            continue
        roles |= event.roles
    roles.discard("system")
    return frozenset(roles)


def recipients(session: Session, definition: Definition, state: str, unit_id: int, level: str, *,
               supervisors: bool = False) -> list[int]:
    """The users of the unit who can act on a case of ``definition`` in ``state`` there (and its
    administrators, when ``supervisors``)."""
    wanted = acting_roles(definition, state, level)
    found = []
    for member in _members(session, [unit_id])[unit_id]:
        held = member.roles | {f"{role}@{level}" for role in member.roles}
        if held & wanted or (supervisors and "admin" in member.roles):
            found.append(member.id)
    return found


def _title(definition: Definition, case: CaseRecord | _Shown, kind: str, detail: str | None) -> str:
    head = f"{case.number}（{definition.title}）"
    unit = case.org_unit.name
    texts = {
        "arrived": f"{head}已在{unit}登记，请及时办理",
        "returned": f"{head}已转为“{definition.states[case.state].label}”，请{unit}及时办理",
        "escalated": f"{head}已上报至{unit}，请及时办理",
        "assigned": f"{head}已交办至{unit}",
        "taken_over": f"{head}已由{unit}提级办理",
        "urged": f"{head}被催办",
        "due_soon": f"{head}即将到期",
        "overdue": f"{head}已超过期限，请督办",
    }
    text = texts[kind]
    if detail:
        text = f"{text}：{detail}"
    return text[:300]


def notify(writer: CaseWriter, definition: Definition, case: CaseRecord, kind: str, now: datetime, *,
           detail: str | None = None, deadline: datetime | None = None, returned: bool = False) -> int:
    """A notice of ``kind`` to every user of the owning unit who can act on the case; returns how many.
    ``returned``: an ``arrived`` notice of a case that came back to the unit (a report reopened by its reporter)."""
    users = recipients(writer.session, definition, case.state, case.org_unit_id, case.level,
                       supervisors=kind in ("overdue", "urged"))
    if not users:
        return 0
    title = _title(definition, case, "returned" if returned else kind, detail)
    rows = [{"user_id": user_id, "case_id": case.id, "kind": kind, "title": title, "at": now,
             "deadline": deadline, "read_at": None} for user_id in users]
    writer.insert(Notification.__table__, rows)
    return len(rows)


def notify_due_soon(session: Session, engine: Engine, at: datetime, limit: int = 5000) -> int:
    """Notices for the open cases whose warning time has come and whose deadline has not passed, once per case
    and deadline (cases already told, by this sweeper or another, are passed over; the unique constraint
    settles a race). Returns the number of notices written."""
    told = sa.select(Notification.id).where(Notification.case_id == Case.id, Notification.kind == "due_soon",
                                            Notification.deadline == Case.due_at).exists()
    # a case still before its deadline entered its warning time at most the longest warning ago: the scan of the
    # open cases' warning times stops there (cases long overdue are not walked again at every sweep)
    since = at - longest_warning(engine)
    cases = list(session.execute(
        sa.select(Case.id, Case.number, Case.definition_key, Case.definition_version, Case.state, Case.level,
                  Case.org_unit_id, Case.due_at, OrgUnit.name)
        .join(OrgUnit, OrgUnit.id == Case.org_unit_id)
        .where(sa.not_(Case.closed), Case.warn_at <= at, Case.warn_at > since, Case.due_at > at, sa.not_(told))
        .order_by(Case.warn_at).limit(limit)))
    if not cases:
        return 0
    _members(session, {row.org_unit_id for row in cases})
    written = 0
    rows: list[dict[str, Any]] = []
    for row in cases:
        definition = engine.catalog.get(row.definition_key, row.definition_version)
        shown = _Shown(row.id, row.number, row.state, row.level, row.org_unit_id, _Unit(row.name))
        due = row.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        users = recipients(session, definition, row.state, row.org_unit_id, row.level)
        title = _title(definition, shown, "due_soon", f"期限 {due}")
        rows += [{"user_id": user_id, "case_id": row.id, "kind": "due_soon", "title": title, "at": at,
                  "deadline": row.due_at, "read_at": None} for user_id in users]
    if rows:
        written = affected_rows(session.execute(insert_statement(session, Notification.__table__), rows))
    return max(written, 0)


def longest_warning(engine: Engine) -> timedelta:
    """The longest ``warn_before`` of any definition, in calendar time: working days counted twice over plus ten
    days (a weekend per week and the longest holiday, Spring Festival or National Day, with its make-up days)."""
    longest = timedelta(days=1)
    for definition in engine.catalog.all():
        for state in definition.states.values():
            warn = state.deadline.warn_before if state.deadline else None
            if warn is not None:
                days = warn.count * 2 + 10 if warn.unit == "working_days" else warn.count
                longest = max(longest, timedelta(days=days + 1))
    return longest


@dataclass(frozen=True)
class _Unit:
    name: str


@dataclass(frozen=True)
class _Shown:
    id: int
    number: str
    state: str
    level: str
    org_unit_id: int
    org_unit: _Unit


# ---- what a change means for notices, involvement and webhooks --------------------------------------------

Enqueue = Callable[[CaseWriter, Definition, Any, str, datetime, int], None]


def on_open(writer: CaseWriter, definition: Definition, case: CaseRecord, now: datetime, enqueue: Enqueue) -> None:
    involve(writer, case, now)
    notify(writer, definition, case, "arrived", now)
    enqueue(writer, definition, case, "case.opened", now, 1)


def after_outcome(writer: CaseWriter, definition: Definition, case: Case, outcome: Outcome, now: datetime,
                  moved: bool, version: int, enqueue: Enqueue) -> None:
    """Called once an outcome is applied to the case (before it is written)."""
    if moved:
        involve(writer, case, now)
    kind = "escalated" if outcome.escalated else MOVES.get(outcome.action or "")
    if outcome.action == "urge":
        kind = "urged"
    if kind is not None:
        detail = (outcome.changes.get("instruction") or outcome.changes.get("note")
                  or outcome.changes.get("reason"))
        notify(writer, definition, case, kind, now, detail=str(detail)[:120] if detail else None)
    elif outcome.from_state != outcome.to_state and not case.closed and not _member_of(writer.session, case,
                                                                                        outcome.actor):
        # moved on by someone outside the unit (a reporter reopening a report, the system, a unit above): the case
        # is back on the unit's desk in a new state
        notify(writer, definition, case, "arrived", now, returned=True)
    for kind_of_hook in webhook_types(definition, outcome, case.closed):
        enqueue(writer, definition, case, kind_of_hook, now, version)


def _member_of(session: Session, case: Case, username: str) -> bool:
    return any(member.username == username for member in _members(session, [case.org_unit_id])[case.org_unit_id])


# events of a lifecycle told to other systems under a name of their own
NAMED_EVENTS = {("medical_aid_claim", "pay"): "claim.paid"}


def webhook_types(definition: Definition, outcome: Outcome, closed: bool) -> list[str]:
    types = []
    if outcome.escalated:
        types.append("case.escalated")
    if outcome.action in MOVES or outcome.action == "urge":
        types.append({"assign": "case.assigned", "take_over": "case.taken_over", "urge": "case.urged"}[
            outcome.action or ""])
    named = NAMED_EVENTS.get((definition.key, outcome.event))
    if named:
        types.append(named)
    if closed and outcome.from_state != outcome.to_state:
        types.append("case.closed")
    return types


def on_overdue(writer: CaseWriter, definition: Definition, case: Case, now: datetime, version: int,
               enqueue: Enqueue) -> None:
    """A deadline passed where the case stays (督办 at the top, a reminder): its owners and supervisors hear."""
    notify(writer, definition, case, "overdue", now, deadline=case.due_at or now)
    enqueue(writer, definition, case, "case.overdue", now, version)


# ---- reading notices -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NoticePage:
    items: list[dict[str, Any]]
    total: int
    unread: int


def _notice(row: Any) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "kind_label": KIND_LABELS.get(row.kind, row.kind), "case": row.case_id,
            "number": row.number, "title": row.title, "at": row.at.astimezone(SHANGHAI),
            "read": row.read_at is not None}


def notices(session: Session, user_id: int, *, unread_only: bool, page: int, per_page: int) -> NoticePage:
    """A user's notices, newest first."""
    where = [Notification.user_id == user_id]
    unread = session.scalar(sa.select(sa.func.count()).select_from(Notification)
                            .where(*where, Notification.read_at.is_(None))) or 0
    if unread_only:
        where.append(Notification.read_at.is_(None))
        total = unread
    else:
        total = session.scalar(sa.select(sa.func.count()).select_from(Notification).where(*where)) or 0
    rows = session.execute(
        sa.select(Notification.id, Notification.kind, Notification.case_id, Notification.title, Notification.at,
                  Notification.read_at, Case.number)
        .join(Case, Case.id == Notification.case_id).where(*where)
        .order_by(Notification.id.desc()).limit(per_page).offset((page - 1) * per_page))
    return NoticePage([_notice(row) for row in rows], total, unread)


def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Notification)
                          .where(Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def mark_read(session: Session, user_id: int, notice_id: int, now: datetime) -> dict[str, Any]:
    """Mark one of the user's notices read (another user's is not found: 404)."""
    notice = session.get(Notification, notice_id) if 0 < notice_id <= MAX_ID else None
    if notice is None or notice.user_id != user_id:
        raise RecordNotFound(f"通知 {notice_id} 不存在")
    if notice.read_at is None:
        notice.read_at = now
        session.flush()
    row = session.execute(
        sa.select(Notification.id, Notification.kind, Notification.case_id, Notification.title, Notification.at,
                  Notification.read_at, Case.number)
        .join(Case, Case.id == Notification.case_id).where(Notification.id == notice_id)).one()
    return _notice(row)


def mark_all_read(session: Session, user_id: int, now: datetime) -> int:
    done = session.execute(sa.update(Notification).where(Notification.user_id == user_id,
                                                         Notification.read_at.is_(None)).values(read_at=now))
    return affected_rows(done)
