"""Each lifecycle's report for the caller's scope and a period."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from api import auth
from api.clock import now
from api.extensions import current_session, db
from api.lifecycles import context, registry
from api.models import OrgUnit
from api.present import engine
from api.reports import ReportScope
from api.schemas import ReportQuerySchema
from workflow.errors import InvalidData, UnknownDefinition

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="统计报表")


def scope_for(definition: str, args: dict[str, Any]) -> ReportScope:
    principal = auth.current()
    lifecycle = registry().get(definition)
    if lifecycle is None or lifecycle.report is None:
        raise UnknownDefinition(f"没有名为 {definition!r} 的报表", key=definition)
    path = principal.org_path
    if args.get("org_unit"):
        unit = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == args["org_unit"]))
        if unit is None or not principal.sees(unit.path):
            raise InvalidData({"org_unit": ["未知或不在本单位范围内的组织"]})
        path = unit.path
    if args.get("from_") and args.get("to") and args["from_"] > args["to"]:
        raise InvalidData({"from": ["起始日期不能晚于截止日期"]})
    return ReportScope(definition, path, args.get("from_"), args.get("to"))


@blp.route("/reports/<string:definition>")
class Report(MethodView):
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(200)
    def get(self, args: dict[str, Any], definition: str) -> dict[str, Any]:
        """The figures a lifecycle is judged by, for the caller's scope (``org_unit`` narrows it)."""
        scope = scope_for(definition, args)
        report = registry()[definition].report
        assert report is not None
        return report(current_session(), scope, context(current_session(), engine(), definition, auth.current(), now()))
