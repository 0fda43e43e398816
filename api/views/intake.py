"""Public intake of worker reports (the WeChat platform, the phone operator): no account needed.

A reporter gets a report number and a short secret; with both they read the state and the feedback, and
may ask to reopen. Only the secret's SHA-256 is stored. Each client address may file a few reports per
window (429 with Retry-After beyond that).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import sqlalchemy as sa
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api import ratelimit, services
from api.auth import Principal
from api.clock import now
from api.extensions import db
from api.lifecycles.worker_report import KEY, WorkerReportSchema
from api.models import Case
from api.models_reports import ReportSecret
from api.present import engine, local
from api.problems import problem
from api.schemas import CaseSchema  # noqa: F401  (documented alongside)

blp = Blueprint("intake", __name__, url_prefix="/api/v1/intake", description="职工反映问题：公众渠道（无需账号）")

INTAKE = Principal(user_id=0, username="intake", roles=frozenset({"system"}), org_unit="wenling", org_unit_id=0,
                   org_path="", level="city")


class IntakeReceiptSchema(Schema):
    number = fields.String()
    secret = fields.String()


class IntakeStatusSchema(Schema):
    number = fields.String()
    state = fields.String()
    state_label = fields.String()
    category = fields.String()
    submitted_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")
    feedback = fields.String(allow_none=True)
    can_reopen = fields.Boolean()


class ReopenRequestSchema(Schema):
    reason = fields.String(required=True)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _from_platform() -> bool:
    """Whether the request comes from the WeChat platform's server (``GONGHUI_INTAKE_PLATFORM_ADDRESSES``,
    comma-separated addresses or networks), which relays every reporter's report from its one address."""
    import ipaddress

    configured = str(current_app.config.get("INTAKE_PLATFORM_ADDRESSES") or "")
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    for network in filter(None, (part.strip() for part in configured.split(","))):
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def _limited(report: dict[str, Any] | None = None) -> Any:
    """Each client address may file a few reports per window; through the WeChat platform (one address for
    everyone) the count is kept per reporter contact instead (reports without a contact share one count)."""
    client = f"intake:{request.remote_addr}"
    if report is not None and _from_platform():
        contact = "".join(ch for ch in str(report.get("contact") or "") if ch.isalnum()).lower()
        client = f"intake:platform:{hashlib.sha256(contact.encode()).hexdigest()[:32]}" if contact else \
            f"intake:platform-no-contact:{request.remote_addr}"
    return ratelimit.refused(client, "INTAKE", limit=5, window_seconds=600, message="提交过于频繁，请稍后再试")


def _found(number: str) -> Case | None:
    """The report, only when the secret matches; the same answer otherwise (no hint whether it exists)."""
    secret = request.headers.get("X-Report-Secret", "")
    case = db.session.scalar(sa.select(Case).where(Case.number == number, Case.definition_key == KEY))
    stored = db.session.get(ReportSecret, case.id) if case is not None else None
    if stored is None or not hmac.compare_digest(stored.secret_hash, _digest(secret)):
        return None
    return case


NOT_FOUND = "没有找到该反映（请核对编号和查询码）"


@blp.route("/worker-reports")
class IntakeReports(MethodView):
    @blp.arguments(WorkerReportSchema)
    @blp.response(201, IntakeReceiptSchema)
    @blp.doc(security=[])
    def post(self, report: dict[str, Any]) -> Any:
        """File a report without an account; the answer holds the number and the secret to follow it."""
        refused = _limited(report)
        if refused is not None:
            return refused
        data = WorkerReportSchema().dump(report)
        data["channel"] = report.get("channel", "wechat")
        case = services.open_case(db.session, engine(), INTAKE,
                                  services.OpenRequest(definition=KEY, org_unit=None, data=data), now())
        secret = secrets.token_urlsafe(9)
        db.session.add(ReportSecret(case_id=case.id, secret_hash=_digest(secret)))
        return {"number": case.number, "secret": secret}, 201


@blp.route("/worker-reports/<case_number:number>")
class IntakeReport(MethodView):
    @blp.response(200, IntakeStatusSchema)
    @blp.doc(security=[], parameters=[{"in": "header", "name": "X-Report-Secret", "required": True,
                                       "schema": {"type": "string"}}])
    def get(self, number: str) -> Any:
        """The state and the feedback, for the reporter holding the secret (404 otherwise)."""
        case = _found(number)
        if case is None:
            return problem(404, NOT_FOUND)
        definition = engine().catalog.get(case.definition_key, case.definition_version)
        return {"number": case.number, "state": case.state, "state_label": definition.states[case.state].label,
                "category": case.category, "submitted_at": local(case.created_at),
                "updated_at": local(case.updated_at), "feedback": case.data.get("feedback"),
                "can_reopen": case.state == "resolved"}


@blp.route("/worker-reports/<case_number:number>/reopen")
class IntakeReopen(MethodView):
    @blp.arguments(ReopenRequestSchema)
    @blp.response(200, IntakeStatusSchema)
    @blp.doc(security=[], parameters=[{"in": "header", "name": "X-Report-Secret", "required": True,
                                       "schema": {"type": "string"}}])
    def post(self, body: dict[str, Any], number: str) -> Any:
        """The reporter is not satisfied: reopen within 15 days of the resolution."""
        case = _found(number)
        if case is None:
            return problem(404, NOT_FOUND)
        services.fire_event(db.session, engine(), None, case, services.FireRequest(
            event="reopen", data={"reason": body["reason"]}, comment="反映人对办理结果不满意，要求重新办理"), now(),
            actor="reporter")
        return IntakeReport().get(number)
