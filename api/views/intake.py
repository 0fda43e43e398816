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
from flask import request
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
from api.present import engine, local, masked_data
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


def _limited() -> Any:
    return ratelimit.refused(f"intake:{request.remote_addr}", "INTAKE", limit=5, window_seconds=600,
                             message="提交过于频繁，请稍后再试")


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
        refused = _limited()
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
        shown = masked_data(case, None)   # the reporter holds no account: the public's view
        return {"number": case.number, "state": case.state, "state_label": definition.states[case.state].label,
                "category": case.category, "submitted_at": local(case.created_at),
                "updated_at": local(case.updated_at), "feedback": shown.get("feedback"),
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
