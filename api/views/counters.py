"""The service counters' interface ("最多跑一次"): check a claim, submit it once, let the applicant look it up."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import auth, documents, lookups
from api.cases import OpenRequest, open_case
from api.clock import now
from api.errors import HeaderRequired
from api.extensions import current_session, db
from api.lifecycles.medical_aid_claim import KEY, ClaimSchema, missing_items, notice_text
from api.models import Case
from api.present import case_resource, engine
from api.schemas import CaseSchema
from workflow.errors import RecordNotFound

blp = Blueprint("counters", __name__, url_prefix="/api/v1/counters",
                description="服务窗口（最多跑一次）：医疗互助报销受理")


class MissingSchema(Schema):
    code = fields.String()
    label = fields.String()


class CheckResultSchema(Schema):
    complete = fields.Boolean()
    missing = fields.List(fields.Nested(MissingSchema))
    notice = fields.String()


class ReceiptSchema(CaseSchema):
    complete = fields.Boolean()
    missing = fields.List(fields.Nested(MissingSchema))
    notice = fields.String()
    notice_url = fields.String()


class StatusQuerySchema(Schema):
    id_last6 = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{5}[0-9Xx]$",
                                                                     error="身份证号后六位（最后一位可为 X）"))


class StatusSchema(Schema):
    number = fields.String()
    state = fields.String()
    state_label = fields.String()
    member = fields.String()
    claim_type = fields.String()
    submitted_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")
    amount_claimed = fields.String()
    amount_approved = fields.String(allow_none=True)
    missing = fields.List(fields.Nested(MissingSchema))
    notice = fields.String()
    supplement_by = fields.Date(allow_none=True, metadata={"description": "补正期限（最后一日）"})
    amount_computed = fields.String(allow_none=True)
    paid_on = fields.String(allow_none=True)
    unit_name = fields.String()
    due_on = fields.Date(allow_none=True)


def _require_counter() -> auth.Principal:
    return auth.require_role("counter")


@blp.route("/claims/check")
class ClaimCheck(MethodView):
    @blp.arguments(ClaimSchema)
    @blp.response(200, CheckResultSchema)
    def post(self, claim: dict[str, Any]) -> dict[str, Any]:
        """A dry run: every document still missing, as the one-time notice (一次性告知). Stores nothing."""
        _require_counter()
        data = ClaimSchema().dump(claim)
        definition = engine().catalog.get(KEY)
        missing = missing_items(definition, data)
        return {"complete": not missing, "missing": missing, "notice": notice_text(definition, missing)}


@blp.route("/claims")
class Claims(MethodView):
    @blp.arguments(ClaimSchema)
    @blp.response(201, ReceiptSchema)
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": True, "schema": {
        "type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x21-\\x7e]+( +[\\x21-\\x7e]+)*$"}}])
    def post(self, claim: dict[str, Any]) -> Any:
        """Submit a claim once: the Idempotency-Key is required, so a retry returns the same claim."""
        principal = _require_counter()
        if not request.headers.get("Idempotency-Key"):
            raise HeaderRequired("窗口提交须带 Idempotency-Key 请求头，以免重试时重复受理", "Idempotency-Key")
        moment = now()
        case = open_case(current_session(), engine(), principal, OpenRequest(
            definition=KEY, org_unit=None, data=ClaimSchema().dump(claim)), moment)
        definition = engine().catalog.get(case.definition_key, case.definition_version)
        missing = missing_items(definition, case.data)
        receipt = case_resource(case, principal, moment)
        notice = notice_text(definition, missing, case.number, case.due_at)
        receipt.update({"complete": not missing, "missing": missing, "notice": notice,
                        "notice_url": url_for("counters.ClaimNotice", number=case.number)})
        return receipt, 201, {"Location": url_for("cases.Case", case_id=case.id), "ETag": f'"{case.version}"'}


def _claim(number: str) -> Case | None:
    return db.session.scalar(sa.select(Case).where(Case.number == number, Case.definition_key == KEY))


@blp.route("/claims/<case_number:number>")
class ClaimStatus(MethodView):
    @blp.arguments(StatusQuerySchema, location="query")
    @blp.response(200, StatusSchema)
    @blp.doc(security=[], responses={"404": {"description": "没有这个申请，或身份证号后六位不符（同一答复）"},
                                     "429": {"description": "未命中次数过多（按编号、按客户端计），见 Retry-After"}})
    def get(self, args: dict[str, Any], number: str) -> Any:
        """The applicant's look-up: claim number plus the last six characters of the ID number (no account).
        Every miss is the same 404; misses are limited per number and per client (429 with Retry-After)."""
        status = lookups.claim_status_for_applicant(current_session(), number, args["id_last6"],
                                                    client=request.remote_addr, now=now())
        if status is None:
            raise RecordNotFound(lookups.CLAIM_NOT_FOUND)
        return status



@blp.route("/claims/<case_number:number>/notice")
class ClaimNotice(MethodView):
    @blp.response(200, content_type="text/html")
    def get(self, number: str) -> Response:
        """The one-time notice as a printable page (for the counter, or a clerk in scope)."""
        principal = auth.current()
        case = _claim(number)
        if case is None or not principal.sees(case.org_path):
            raise RecordNotFound("没有找到该申请")
        kind = "notice" if "notice" in documents.allowed(case) else "receipt"
        from api.headers import CSP  # the web pages' strict policy: no inline script or style

        return Response(documents.render_html(case, kind, principal, now()), mimetype="text/html",
                        headers={"Content-Security-Policy": CSP})
