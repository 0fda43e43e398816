"""The service counters' interface ("最多跑一次"): check a claim, submit it once, let the applicant look it up."""

from __future__ import annotations

from html import escape
from typing import Any

import sqlalchemy as sa
from flask import Response, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import auth, services
from api.clock import now
from api.extensions import db
from api.lifecycles.medical_aid_claim import KEY, ClaimSchema, missing_items, notice_text
from api.models import Case
from api.present import case_resource, engine, local
from api.problems import problem
from api.schemas import CaseSchema

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
    id_last4 = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{3}[0-9Xx]$", error="身份证号后四位"))


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
        missing = missing_items(data)
        return {"complete": not missing, "missing": missing, "notice": notice_text(missing)}


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
            return problem(428, "窗口提交须带 Idempotency-Key 请求头，以免重试时重复受理",
                           errors={"Idempotency-Key": ["必填"]})
        moment = now()
        case = services.open_case(db.session, engine(), principal, services.OpenRequest(
            definition=KEY, org_unit=None, data=ClaimSchema().dump(claim)), moment)
        missing = missing_items(case.data)
        receipt = case_resource(case, principal, moment)
        receipt.update({"complete": not missing, "missing": missing, "notice": notice_text(missing, case.number),
                        "notice_url": url_for("counters.ClaimNotice", number=case.number)})
        return receipt, 201, {"Location": url_for("cases.Case", case_id=case.id), "ETag": f'"{case.version}"'}


def _claim(number: str) -> Case | None:
    return db.session.scalar(sa.select(Case).where(Case.number == number, Case.definition_key == KEY))


@blp.route("/claims/<case_number:number>")
class ClaimStatus(MethodView):
    @blp.arguments(StatusQuerySchema, location="query")
    @blp.response(200, StatusSchema)
    @blp.doc(security=[])
    def get(self, args: dict[str, Any], number: str) -> Any:
        """The applicant's look-up: claim number plus the last four digits of the ID number (no account)."""
        case = _claim(number)
        if case is None or case.data["member"]["id_number"][-4:].upper() != args["id_last4"].upper():
            return problem(404, "没有找到该申请（请核对申请编号和身份证号后四位）")
        definition = engine().catalog.get(case.definition_key, case.definition_version)
        missing = missing_items(case.data) if case.state == "awaiting_documents" else []
        name = case.data["member"]["name"]
        return {"number": case.number, "state": case.state, "state_label": definition.states[case.state].label,
                "member": name[0] + "*" * (len(name) - 1), "claim_type": case.category,
                "submitted_at": local(case.created_at), "updated_at": local(case.updated_at),
                "amount_claimed": case.data["eligible_self_pay"], "amount_approved": case.data.get("approved_amount"),
                "missing": missing, "notice": notice_text(missing, case.number) if missing else ""}


NOTICE_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>一次性告知书 {number}</title>
<link rel="stylesheet" href="/ui-static/notice.css"><script src="/ui-static/app.js" defer></script></head><body>
<h1>一次性告知书</h1>
<div class="meta"><span>申请编号：{number}</span><span>受理窗口：{counter}</span><span>日期：{date}</span></div>
<p>{member}：您于 {date} 提交的职工医疗互助报销申请（{claim_type}）尚缺以下材料，现一次性告知如下：</p>
<table><tr><th>序号</th><th>所缺材料</th></tr>{rows}</table>
<p>请在 30 日内将上述材料交所在企业工会，或通过温岭市总工会线上平台补交，<strong>无需再到窗口</strong>。
材料补齐后即转入审核；逾期未补正的，申请终止。查询进度：申请编号加身份证号后四位。</p>
<p class="print"><button type="button" data-print>打印告知书</button></p>
</body></html>"""

TYPE_LABELS = {"inpatient": "住院", "special_outpatient": "门诊特殊病种", "critical_illness": "重大疾病"}


@blp.route("/claims/<case_number:number>/notice")
class ClaimNotice(MethodView):
    @blp.response(200, content_type="text/html")
    def get(self, number: str) -> Response:
        """The one-time notice as a printable page (for the counter, or a clerk in scope)."""
        principal = auth.current()
        case = _claim(number)
        if case is None or not principal.sees(case.org_path):
            return problem(404, "没有找到该申请")
        missing = missing_items(case.data)
        rows = "".join(f"<tr><td>{index}</td><td>{escape(item['label'])}</td></tr>"
                       for index, item in enumerate(missing, start=1)) or "<tr><td colspan=2>材料齐全</td></tr>"
        page = NOTICE_PAGE.format(number=escape(case.number), counter=escape(case.org_unit.name),
                                  date=local(case.created_at).date().isoformat(),  # type: ignore[union-attr]
                                  member=escape(case.data["member"]["name"]),
                                  claim_type=TYPE_LABELS.get(case.category or "", case.category), rows=rows)
        from api.views.ui import CSP  # the web pages' strict policy: no inline script or style

        return Response(page, mimetype="text/html", headers={"Content-Security-Policy": CSP})
