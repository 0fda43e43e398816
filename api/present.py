"""How stored records are shown: times in Asia/Shanghai, personal data masked per role."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app

from api import ownership
from api.auth import Principal
from api.deadlines import SHANGHAI
from api.lifecycles import LIFECYCLES
from api.models import Case, CaseHistory
from api.services import view_of
from workflow.engine import Engine


def engine() -> Engine:
    found: Engine = current_app.extensions["gonghui.engine"]
    return found


def local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(SHANGHAI) if moment else None


def masked_data(case: Case, principal: Principal | None) -> dict[str, Any]:
    lifecycle = LIFECYCLES.get(case.definition_key)
    if principal is None or lifecycle is None or lifecycle.mask is None:
        return case.data
    return lifecycle.mask(case.data, principal, case)


def case_resource(case: Case, principal: Principal, now: datetime) -> dict[str, Any]:
    the_engine = engine()
    definition = the_engine.definition(view_of(case))
    due_soon = bool(case.due_at and not case.overdue and case.warn_at and case.warn_at <= now < case.due_at)
    lifecycle = LIFECYCLES.get(case.definition_key)
    extra = lifecycle.extra(case) if lifecycle is not None and lifecycle.extra is not None else {}
    return {
        **extra,
        "id": case.id, "number": case.number, "definition": case.definition_key,
        "definition_version": case.definition_version, "state": case.state,
        "state_label": definition.states[case.state].label, "level": case.level,
        "org_unit": case.org_unit.code, "org_unit_name": case.org_unit.name,
        "data": masked_data(case, principal), "due_at": local(case.due_at),
        "due_soon": due_soon, "overdue": case.overdue or bool(case.due_at and case.due_at <= now and not case.closed),
        "provisional": case.due_provisional, "escalations": case.escalations, "version": case.version,
        "created_at": local(case.created_at), "updated_at": local(case.updated_at), "closed": case.closed,
        # none on a case the caller's unit only once held (read-only); supervision only from above
        "allowed_events": ownership.allowed_events(the_engine, case, principal, view_of(case)),
    }


def history_resource(row: CaseHistory) -> dict[str, Any]:
    return {"seq": row.seq, "event": row.event, "from_state": row.from_state, "to_state": row.to_state,
            "level_from": row.level_from, "level_to": row.level_to, "org_from": row.org_from,
            "org_to": row.org_to, "actor": row.actor, "at": local(row.at), "data": row.data,
            "comment": row.comment, "hash": row.hash}
