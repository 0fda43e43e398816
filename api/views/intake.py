"""Public intake of worker reports (the WeChat platform, the phone operator): no account needed.

A reporter gets a report number and a short secret; with both they read the state and the feedback, and
may ask to reopen. Only the secret's SHA-256 is stored. Each client address may file a few reports per
window (429 with Retry-After beyond that).
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api import addresses, lookups, ratelimit, self_service
from api.clock import now
from api.extensions import current_session
from api.lifecycles.worker_report import WorkerReportSchema
from api.models import Case
from api.schemas import CaseSchema  # noqa: F401  (documented alongside)
from workflow.errors import RecordNotFound

blp = Blueprint("intake", __name__, url_prefix="/api/v1/intake", description="职工反映问题：公众渠道（无需账号）")

INTAKE = self_service.INTAKE


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
    unit_name = fields.String(metadata={"description": "承办单位"})
    due_on = fields.Date(allow_none=True, metadata={"description": "办理期限（最后一日）"})
    reopen_until = fields.Date(allow_none=True, metadata={"description": "可要求重新办理的最后一日"})
    decline_reason = fields.String(allow_none=True)


class ReopenRequestSchema(Schema):
    reason = fields.String(required=True)


def _from_platform() -> bool:
    """Whether the request comes from the WeChat platform's server (``GONGHUI_INTAKE_PLATFORM_ADDRESSES``,
    comma-separated addresses or networks), which relays every reporter's report from its one address."""
    return addresses.listed(request.remote_addr, str(current_app.config.get("INTAKE_PLATFORM_ADDRESSES") or ""))


def _limit(report: dict[str, Any] | None = None) -> None:
    """Each client address may file a few reports per window; through the WeChat platform (one address for
    everyone) the count is kept per reporter contact instead (reports without a contact share one count)."""
    client = f"intake:{request.remote_addr}"
    if report is not None and _from_platform():
        contact = "".join(ch for ch in str(report.get("contact") or "") if ch.isalnum()).lower()
        client = f"intake:platform:{hashlib.sha256(contact.encode()).hexdigest()[:32]}" if contact else \
            f"intake:platform-no-contact:{request.remote_addr}"
    ratelimit.enforce(client, "INTAKE", limit=5, window_seconds=600, message="提交过于频繁，请稍后再试")


def _found(number: str) -> Case:
    """The report, only when the secret matches; the same 404 otherwise (no hint whether it exists).
    Misses are limited per number and per client (``api.lookups``)."""
    case = lookups.find_report_for_reporter(current_session(), number, request.headers.get("X-Report-Secret", ""),
                                            client=request.remote_addr, now=now())
    if case is None:
        raise RecordNotFound(NOT_FOUND)
    return case


NOT_FOUND = lookups.REPORT_NOT_FOUND


@blp.route("/worker-reports")
class IntakeReports(MethodView):
    @blp.arguments(WorkerReportSchema)
    @blp.response(201, IntakeReceiptSchema)
    @blp.doc(security=[])
    def post(self, report: dict[str, Any]) -> Any:
        """File a report without an account; the answer holds the number and the secret to follow it."""
        _limit(report)
        data = WorkerReportSchema().dump(report)
        data["channel"] = report.get("channel", "wechat")
        case, secret = self_service.file_report(data, now())
        return {"number": case.number, "secret": secret}, 201


@blp.route("/worker-reports/<case_number:number>")
class IntakeReport(MethodView):
    @blp.response(200, IntakeStatusSchema)
    @blp.doc(security=[], parameters=[{"in": "header", "name": "X-Report-Secret", "required": True,
                                       "schema": {"type": "string"}}])
    def get(self, number: str) -> Any:
        """The state and the feedback, for the reporter holding the secret (404 otherwise)."""
        return self_service.report_status(_found(number), now())


@blp.route("/worker-reports/<case_number:number>/reopen")
class IntakeReopen(MethodView):
    @blp.arguments(ReopenRequestSchema)
    @blp.response(200, IntakeStatusSchema)
    @blp.doc(security=[], parameters=[{"in": "header", "name": "X-Report-Secret", "required": True,
                                       "schema": {"type": "string"}}])
    def post(self, body: dict[str, Any], number: str) -> Any:
        """The reporter is not satisfied: reopen within 15 days of the resolution."""
        self_service.reopen_report(_found(number), body["reason"], now())
        return IntakeReport().get(number)
