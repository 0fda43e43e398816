"""What a worker without an account may do, shared by the public JSON API and the public pages: file a report
and receive its 查询码, follow the report (and ask to reopen it), follow a claim with its number and the last six
characters of the ID number.

Misses are answered with one message and counted per number and per client (``api.ratelimit``): past the
limit every look-up of that number, or by that client, is refused until the window ends.
May import the models, the use cases and the lifecycles; never a view.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from api import lookups
from api.auth import Principal
from api.cases import FireRequest, OpenRequest, fire_event, open_case
from api.deadlines import last_day
from api.extensions import current_session, db
from api.lifecycles import context
from api.models import Case
from api.models_reports import ReportSecret
from api.present import engine, local, masked_data
from workflow.engine import Outcome

NOT_FOUND = "未找到，请核对编号和查询码"
TOO_MANY = "查询失败次数过多，请 {minutes} 分钟后再试"

INTAKE = Principal(user_id=0, username="intake", roles=frozenset({"system"}), org_unit="wenling", org_unit_id=0,
                   org_path="", level="city")
REPORT = "worker_report"
CLAIM = "medical_aid_claim"


# ---- worker reports ------------------------------------------------------------------------------------

def issue_secret(case: Case) -> str:
    """A new 查询码 for the report (only its SHA-256 is kept): shown once, to be read out or photographed."""
    secret = secrets.token_urlsafe(9)
    found = db.session.get(ReportSecret, case.id)
    if found is None:
        db.session.add(ReportSecret(case_id=case.id, secret_hash=lookups.secret_digest(secret)))
    else:
        found.secret_hash = lookups.secret_digest(secret)
    return secret


def file_report(data: dict[str, Any], moment: datetime) -> tuple[Case, str]:
    """A report from the public (web form or WeChat platform): routed by its employer; the number and 查询码."""
    case = open_case(current_session(), engine(), INTAKE,
                              OpenRequest(definition=REPORT, org_unit=None, data=data), moment)
    return case, issue_secret(case)


def report_status(case: Case, moment: datetime) -> dict[str, Any]:
    """What the reporter reads: the state in words, the handling unit, the deadline, the feedback, and while the
    report may be reopened (the rule the guard applies), the last day to ask."""
    from api.lifecycles.worker_report import reopen_last_day

    definition = engine().catalog.get(case.definition_key, case.definition_version)
    reopen_until = reopen_last_day(context(current_session(), engine(), definition, None, moment), case)
    can_reopen = reopen_until is not None
    shown = masked_data(case, None)   # the reporter holds no account: the public's view
    return {"number": case.number, "state": case.state, "state_label": definition.states[case.state].label,
            "category": case.category, "submitted_at": local(case.created_at), "updated_at": local(case.updated_at),
            "feedback": shown.get("feedback"), "can_reopen": can_reopen,
            "unit_name": case.org_unit.name, "due_on": None if can_reopen else last_day(case.due_at),
            "reopen_until": reopen_until,
            "decline_reason": shown.get("reason") if case.state == "declined" else None}


def reopen_report(case: Case, reason: str, moment: datetime) -> Outcome:
    """The reporter is not satisfied: back to handling, within the window (the definition's guard decides)."""
    return fire_event(current_session(), engine(), None, case, FireRequest(
        event="reopen", data={"reason": reason}, comment="反映人对办理结果不满意，要求重新办理"), moment,
        actor="reporter")


# ---- claims --------------------------------------------------------------------------------------------

def masked_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1)


def claim_status(case: Case) -> dict[str, Any]:
    """What the applicant reads: state, dates, amounts and what is still missing, with personal data masked."""
    from api.lifecycles.medical_aid_claim import missing_items, notice_text

    definition = engine().catalog.get(case.definition_key, case.definition_version)
    shown = masked_data(case, None)   # the applicant holds no account: the public's view
    missing = missing_items(definition, shown) if case.state == "awaiting_documents" else []
    return {"number": case.number, "state": case.state, "state_label": definition.states[case.state].label,
            "member": masked_name(str(shown["member"]["name"])), "claim_type": case.category,
            "submitted_at": local(case.created_at), "updated_at": local(case.updated_at),
            "amount_claimed": shown["eligible_self_pay"], "amount_computed": shown.get("amount_computed"),
            "amount_approved": shown.get("approved_amount"), "paid_on": shown.get("paid_on"),
            "missing": missing, "notice": notice_text(definition, missing, case.number, case.due_at) if missing else "",
            "supplement_by": last_day(case.due_at) if missing else None, "unit_name": case.org_unit.name,
            "due_on": last_day(case.due_at) if not case.closed else None}
