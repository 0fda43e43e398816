"""How stored records are shown: times in Asia/Shanghai, personal data masked per role.

:func:`masked_data` is the one way case data leaves the service: the case resource (one case, lists, the
worklist, events' answers, the counters' receipts), history rows, the web pages and whatever else shows a
case's data call it. It applies the definition's ``personal:`` rules (``workflow/privacy.py``) for the caller
and records every personal field shown unmasked (``api/access.py``). :func:`employer_contact` is the one way
an employer's roster contact leaves it, under the same rules (``workflow.privacy.EMPLOYER_CONTACT``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, overload

from api import access, ownership
from api.auth import Principal
from api.cases.data import view_of
from api.context import this_app
from api.deadlines import SHANGHAI
from api.extensions import current_session, db
from api.lifecycles import registry
from api.models import Case, CaseHistory, Employer
from api.writers import CaseRecord
from workflow import privacy
from workflow.engine import Engine


def engine() -> Engine:
    found: Engine = this_app().extensions["gonghui.engine"]
    return found


@overload
def local(moment: datetime) -> datetime: ...
@overload
def local(moment: None) -> None: ...
@overload
def local(moment: datetime | None) -> datetime | None: ...
def local(moment: datetime | None) -> datetime | None:
    """The instant as a time in Shanghai (None stays None)."""
    return moment.astimezone(SHANGHAI) if moment else None


def viewer(case: CaseRecord, principal: Principal | None) -> privacy.Viewer:
    """Who is looking, as the personal-data rules see it; ``None`` is the public or an outside system."""
    if principal is None:
        return privacy.PUBLIC
    return privacy.Viewer(roles=principal.roles, level=principal.level, owner=principal.org_unit_id == case.org_unit_id,
                          in_scope=principal.sees(case.org_path))


def masked_data(case: CaseRecord, principal: Principal | None, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """``data`` (by default the case's data; a history row passes its own) as ``principal`` may see it: every
    personal field the case's definition declares is masked unless the caller is one who sees it, and every one
    shown unmasked is recorded. ``principal`` None (the public, a webhook, a notice sent out) sees all masked."""
    rules = engine().catalog.get(case.definition_key, case.definition_version).personal
    shown = case.data if data is None else data
    if not rules:
        return shown
    result = privacy.apply(rules, shown, viewer(case, principal), facts=case.data)
    if result.shown and principal is not None:
        access.record(current_session(), case.id, principal, result.shown)
    return result.data


def case_resource(case: Case, principal: Principal, now: datetime) -> dict[str, Any]:
    the_engine = engine()
    definition = the_engine.definition(view_of(case))
    due_soon = bool(case.due_at and not case.overdue and case.warn_at and case.warn_at <= now < case.due_at)
    lifecycle = registry().get(case.definition_key)
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


def history_resource(row: CaseHistory, case: Case | None = None, principal: Principal | None = None) -> dict[str, Any]:
    """A history row as ``principal`` may see it (its data through :func:`masked_data`)."""
    case = case if case is not None else db.session.get(Case, row.case_id)
    assert case is not None and case.id == row.case_id
    return {"seq": row.seq, "event": row.event, "from_state": row.from_state, "to_state": row.to_state,
            "level_from": row.level_from, "level_to": row.level_to, "org_from": row.org_from,
            "org_to": row.org_to, "actor": row.actor, "at": local(row.at),
            "data": masked_data(case, principal, row.data or {}), "comment": row.comment, "hash": row.hash}


def employer_contact(employer: Employer, principal: Principal | None,
                     street_path: str | None = None) -> dict[str, str | None]:
    """The roster's contact of ``employer`` (联系人, 联系电话) as ``principal`` may see it
    (``workflow.privacy.EMPLOYER_CONTACT``: whole for the clerks forming unions in scope, masked for everyone
    else); a contact shown whole is recorded. ``street_path``: the employer's street's, if the caller has it."""
    if street_path is None and employer.street_unit is not None:
        street_path = employer.street_unit.path
    seen_by = privacy.PUBLIC if principal is None else privacy.Viewer(
        roles=principal.roles, level=principal.level, owner=principal.org_unit_id == employer.street_unit_id,
        in_scope=street_path is not None and principal.sees(street_path))
    result = privacy.apply(privacy.EMPLOYER_CONTACT, {"contact_name": employer.contact_name,
                                                      "contact_phone": employer.contact_phone}, seen_by)
    if result.shown and principal is not None:
        access.record_employer(current_session(), employer.id, principal, result.shown)
    return result.data
