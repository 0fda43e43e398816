"""Documents of a case (受理回执, 一次性告知书, 调解协议书, decisions, 建会告知书): the list a case's state allows,
and each as a PDF for the clerks who see the case (its data masked as their roles see it)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api import auth, documents
from api.cases import get_case
from api.clock import now
from api.extensions import current_session

blp = Blueprint("documents", __name__, url_prefix="/api/v1",
                description="文书：受理回执、一次性告知书、调解协议书等（PDF）")


class DocumentSchema(Schema):
    kind = fields.String(metadata={"description": "receipt | notice | agreement | decision | formation_notice"})
    title = fields.String()
    url = fields.String()


@blp.route("/cases/<int(max=2147483647):case_id>/documents")
class CaseDocuments(MethodView):
    @blp.response(200, DocumentSchema(many=True))
    def get(self, case_id: int) -> list[dict[str, str]]:
        """The documents this case's state allows; 404 when the case is outside the caller's scope."""
        case = get_case(current_session(), auth.current(), case_id)
        return documents.listing(case)


@blp.route("/cases/<int(max=2147483647):case_id>/documents/<string:kind>.pdf")
class CaseDocument(MethodView):
    @blp.response(200, content_type="application/pdf")
    @blp.alt_response(404, description="案件不存在或不在管辖范围内；或没有这种文书")
    @blp.alt_response(409, description="案件当前状态不能出具这种文书（问题详情列出可出具的文书）")
    def get(self, case_id: int, kind: str) -> Any:
        """One document as a PDF (A4, the Chinese font embedded, the text extractable)."""
        principal = auth.current()
        case = get_case(current_session(), principal, case_id)
        documents.check(case, kind)
        pdf = documents.render_pdf(case, kind, principal, now())
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{documents.filename(case, kind)}"',
            "Cache-Control": "private, no-store"})
