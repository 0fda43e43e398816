"""Definitions (lifecycles) and their state diagrams."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api import auth, diagram
from api.cases import get_case
from api.extensions import current_session
from api.present import engine
from api.schemas import DefinitionQuerySchema, DefinitionSchema, DiagramQuerySchema
from workflow.definitions import Definition, Period

blp = Blueprint("definitions", __name__, url_prefix="/api/v1", description="流程定义与状态图")


def _period(period: Period | None) -> dict[str, int] | None:
    return {period.unit: period.count} if period else None


def definition_resource(definition: Definition) -> dict[str, Any]:
    states = []
    for state in definition.states.values():
        deadline = None
        if state.deadline:
            spec = state.deadline
            deadline = {"periods": {level: _period(period) for level, period in spec.periods.items()},
                        "since": spec.since, "until_field": spec.until_field,
                        "warn_before": _period(spec.warn_before), "on_timeout": spec.on_timeout}
        states.append({"name": state.name, "label": state.label, "terminal": state.terminal,
                       "deadline": deadline})
    events = [{"name": event.name, "label": event.label, "from_": list(event.sources), "to": event.dest,
               "roles": sorted(event.roles), "requires": list(event.requires), "action": event.action}
              for event in definition.events.values()]
    return {"key": definition.key, "version": definition.version, "title": definition.title,
            "initial": definition.initial, "states": states, "events": events}


@blp.route("/definitions")
class Definitions(MethodView):
    @blp.response(200, DefinitionSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The latest version of every lifecycle."""
        auth.current()
        return [definition_resource(definition) for definition in engine().catalog.latest()]


@blp.route("/definitions/<string:key>")
class DefinitionOne(MethodView):
    @blp.arguments(DefinitionQuerySchema, location="query")
    @blp.response(200, DefinitionSchema)
    def get(self, args: dict[str, Any], key: str) -> dict[str, Any]:
        """One lifecycle, latest version unless ``?version=N``."""
        auth.current()
        return definition_resource(engine().catalog.get(key, args.get("version")))


@blp.route("/definitions/<string:key>/diagram")
class Diagram(MethodView):
    @blp.arguments(DiagramQuerySchema, location="query")
    @blp.response(200, content_type="image/svg+xml")
    def get(self, args: dict[str, Any], key: str) -> Response:
        """The state diagram as SVG, or Mermaid text with ``Accept: text/plain``; ``?case=`` highlights."""
        principal = auth.current()
        version, current = args.get("version"), None
        if args.get("case"):
            case = get_case(current_session(), principal, args["case"])
            if case.definition_key == key:
                version, current = case.definition_version, case.state
        definition = engine().catalog.get(key, version)
        best = request.accept_mimetypes.best_match(["image/svg+xml", "text/plain"], default="image/svg+xml")
        if best == "text/plain":
            return Response(diagram.mermaid(definition, current), mimetype="text/plain")
        return Response(diagram.svg(definition, current), mimetype="image/svg+xml")
