"""Cases: open, read, list, fire events, history; and the caller's worklist."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from api import auth, ownership
from api.cases import CaseQuery, FireRequest, OpenRequest, fire_event, list_cases, open_case, worklist_page
from api.clock import now
from api.errors import MalformedRequest
from api.extensions import current_session
from api.fields import is_whole_number
from api.history import history_of
from api.pagination import PageQuerySchema, count_limit, envelope, next_link
from api.present import case_resource, engine, history_resource
from api.schemas import (
    CaseCreateSchema,
    CasePageSchema,
    CaseQuerySchema,
    CaseSchema,
    EventRequestSchema,
    HistorySchema,
)
from workflow.errors import RoleNotPermitted

blp = Blueprint("cases", __name__, url_prefix="/api/v1", description="案件：开立、查询、办理（触发事件）、历史")


def _etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(header: str | None) -> int | None:
    if not header:
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not is_whole_number(value):
        raise MalformedRequest("If-Match 须为案件版本号，如 \"3\"", errors={"If-Match": ["须为案件版本号，如 \"3\""]})
    return int(value)


@blp.route("/cases")
class Cases(MethodView):
    @blp.arguments(CaseQuerySchema, location="query")
    @blp.response(200, CasePageSchema)
    def get(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """List the cases in the caller's scope (newest first, or ``sort=due_at``), a page at a time."""
        principal = auth.current()
        moment = now()
        found = list_cases(current_session(), principal, CaseQuery(**args), moment, count_limit())
        return envelope(found, [case_resource(case, principal, moment) for case in found.items]), next_link(found)

    @blp.arguments(CaseCreateSchema)
    @blp.response(201, CaseSchema)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Open a case of a definition at an org unit (default: the caller's)."""
        principal = auth.current()
        moment = now()
        case = open_case(current_session(), engine(), principal, OpenRequest(
            definition=body["definition"], org_unit=body.get("org_unit"), data=body["data"],
            comment=body.get("comment")), moment)
        return case_resource(case, principal, moment), {
            "Location": url_for("cases.Case", case_id=case.id), "ETag": _etag(case.version)}


@blp.route("/cases/<int(max=2147483647):case_id>")
class Case(MethodView):
    @blp.response(200, CaseSchema)
    def get(self, case_id: int) -> tuple[dict[str, Any], dict[str, str]]:
        """One case; 404 when it is outside the caller's scope (a case the caller's unit once held is shown
        read-only: ``allowed_events`` is empty)."""
        principal = auth.current()
        case = ownership.readable_case(current_session(), principal, case_id)
        return case_resource(case, principal, now()), {"ETag": _etag(case.version)}


@blp.route("/cases/<int(max=2147483647):case_id>/events/<string:event>")
class CaseEvent(MethodView):
    @blp.arguments(EventRequestSchema())   # an instance: parsed with it, not built anew on every request
    @blp.response(200, CaseSchema)
    @blp.alt_response(409, description="事件未知或当前状态不允许；或与同时提交的请求冲突")
    @blp.alt_response(412, description="If-Match 版本已过期")
    def post(self, body: dict[str, Any], case_id: int, event: str) -> tuple[dict[str, Any], dict[str, str]]:
        """Fire an event. ``If-Match: "<version>"`` makes it conditional on the version read."""
        from flask import request

        principal = auth.current()
        expected = parse_if_match(request.headers.get("If-Match"))
        case = ownership.readable_case(current_session(), principal, case_id)
        if not principal.sees(case.org_path):
            raise RoleNotPermitted("本单位曾承办此案件，案件已移交其他单位，现只能查看", event=event)
        moment = now()
        fire_event(current_session(), engine(), principal, case, FireRequest(
            event=event, data=body.get("data", {}), comment=body.get("comment"), expected_version=expected),
            moment)
        return case_resource(case, principal, moment), {"ETag": _etag(case.version)}


@blp.route("/cases/<int(max=2147483647):case_id>/history")
class CaseHistory(MethodView):
    @blp.response(200, HistorySchema(many=True))
    def get(self, case_id: int) -> list[dict[str, Any]]:
        """Every step of the case, oldest first."""
        principal = auth.current()
        case = ownership.readable_case(current_session(), principal, case_id)
        return [history_resource(row, case, principal) for row in history_of(current_session(), case)]


@blp.route("/worklist")
class Worklist(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, CaseSchema(many=True))
    def get(self, args: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """Open cases the caller can act on now (a list, as the contract has it): overdue first, then by due
        time, a page at a time (``page``/``per_page`` as every list); a ``Link: <…>; rel="next"`` header points
        at the next page while there is one, ``X-Total-Count`` counts the cases (up to the list's count limit)."""
        principal = auth.current()
        moment = now()
        found = worklist_page(current_session(), engine(), principal, args["page"], args["per_page"], count_limit())
        headers = {**next_link(found), "X-Total-Count": str(found.total)}
        return [case_resource(case, principal, moment) for case in found.items], headers
