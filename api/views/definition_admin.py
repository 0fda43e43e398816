"""Changing definitions at runtime: deploy a version (or see its diff first), list the versions, migrate the
open cases of one version to a later one (admin role; the versions list for everyone signed in)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from api import auth, definition_migrations, definition_store
from api.clock import now
from api.context import this_app
from api.extensions import current_session, db
from api.present import engine, local
from api.schemas import DefinitionSchema
from api.views.definitions import definition_resource
from workflow.diff import Change, diff
from workflow.errors import InvalidData

blp = Blueprint("definition_admin", __name__, url_prefix="/api/v1", description="流程定义的运行时部署与案件迁移")

VERSION = validate.Range(min=1, max=100_000)


class DryRunQuerySchema(Schema):
    dry_run = fields.Boolean(load_default=False)


class ChangeSchema(Schema):
    kind = fields.String(metadata={"description": "added | removed | changed"})
    subject = fields.String(metadata={"description": "state | event | role | guard | effect | requires | deadline | "
                                                     "definition"})
    name = fields.String()
    text = fields.String(metadata={"description": "the change in words a clerk reads"})


class DeploymentSchema(DefinitionSchema):
    """The version (as ``GET /definitions/{key}?version=N`` shows it) and what its deploy did."""

    sha256 = fields.String()
    deployed_by = fields.String(allow_none=True)
    deployed_at = fields.DateTime(format="iso", allow_none=True)
    dry_run = fields.Boolean()
    created = fields.Boolean(metadata={"description": "false when nothing was stored (dry run, or the same text "
                                                      "deployed again)"})
    previous_version = fields.Integer(allow_none=True)
    changes = fields.List(fields.Nested(ChangeSchema))


class VersionSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    title = fields.String()
    latest = fields.Boolean()
    open_cases = fields.Integer()
    sha256 = fields.String(allow_none=True)
    deployed_by = fields.String(allow_none=True)
    deployed_at = fields.DateTime(format="iso", allow_none=True)


class DiffQuerySchema(Schema):
    from_version = fields.Integer(required=True, data_key="from", validate=VERSION)
    to_version = fields.Integer(required=True, data_key="to", validate=VERSION)


class DiffSchema(Schema):
    key = fields.String()
    from_version = fields.Integer()
    to_version = fields.Integer()
    changes = fields.List(fields.Nested(ChangeSchema))


class MigrationRequestSchema(Schema):
    definition = fields.String(validate=validate.Length(min=1, max=64),
                               metadata={"description": "the key of the target definition; only the same key"})
    from_version = fields.Integer(required=True, validate=VERSION)
    to_version = fields.Integer(required=True, validate=VERSION)
    state_map = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=64)),
                            values=fields.String(validate=validate.Length(min=1, max=64)), load_default=dict,
                            metadata={"description": "old state → new state; a state not named keeps its name"})
    recount_deadlines = fields.Boolean(load_default=True)
    dry_run = fields.Boolean(load_default=False)


class MovedCaseSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    org_unit = fields.String()
    org_unit_name = fields.String()
    old_state = fields.String()
    old_state_label = fields.String()
    new_state = fields.String()
    new_state_label = fields.String()
    old_due_at = fields.DateTime(format="iso", allow_none=True)
    new_due_at = fields.DateTime(format="iso", allow_none=True)


class ConflictSchema(Schema):
    number = fields.String()
    reason = fields.String()


class MigrationSchema(Schema):
    key = fields.String()
    from_version = fields.Integer()
    to_version = fields.Integer()
    dry_run = fields.Boolean()
    recount_deadlines = fields.Boolean()
    migration = fields.Integer(allow_none=True, metadata={"description": "the id of the run (not on a dry run)"})
    resumed = fields.Boolean(metadata={"description": "true when this request finished a run stopped half way"})
    count = fields.Integer()
    cases = fields.List(fields.Nested(MovedCaseSchema))
    conflicts = fields.List(fields.Nested(ConflictSchema),
                            metadata={"description": "cases a clerk changed meanwhile into a state outside the plan"})


def changes_resource(changes: list[Change]) -> list[dict[str, str]]:
    return [{"kind": change.kind, "subject": change.subject, "name": change.name, "text": change.text}
            for change in changes]


def _yaml_body() -> str:
    try:
        return request.get_data(cache=True).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidData({"definition": ["须为 UTF-8 编码的 YAML 文本"]}, detail="流程定义不是 UTF-8 文本") from error


@blp.route("/admin/definitions")
class DefinitionDeploy(MethodView):
    @blp.arguments(DryRunQuerySchema, location="query")
    @blp.doc(requestBody={"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}},
                          "description": "the definition's YAML text, as a file of definitions/"})
    @blp.response(201, DeploymentSchema, description="the new version, now the latest")
    @blp.alt_response(200, schema=DeploymentSchema, description="a dry run (the diff only), or the same text "
                                                                "deployed again (nothing changes)")
    def post(self, args: dict[str, Any]) -> Any:
        """Deploy a version of a definition (YAML body); ``?dry_run=true`` answers the diff against the latest
        version and stores nothing. A stored version never changes: the same number with another text is 409."""
        principal = auth.require_role("admin")
        deployment = definition_store.deploy_in_app(
            this_app(), current_session(), _yaml_body(),
            actor=principal.username, now=now(), origin="api", dry_run=args["dry_run"])
        return deployment_resource(deployment), 201 if deployment.created else 200


def deployment_resource(deployment: definition_store.Deployment) -> dict[str, Any]:
    row = deployment.row
    return {**definition_resource(deployment.definition), "sha256": deployment.sha256,
            "deployed_by": row.deployed_by if row is not None else None,
            "deployed_at": local(row.deployed_at) if row is not None else None,
            "dry_run": deployment.dry_run, "created": deployment.created,
            "previous_version": deployment.previous.version if deployment.previous else None,
            "changes": changes_resource(deployment.changes)}


@blp.route("/definitions/<string:key>/versions")
class DefinitionVersions(MethodView):
    @blp.response(200, VersionSchema(many=True))
    def get(self, key: str) -> list[dict[str, Any]]:
        """Every version of a lifecycle, oldest first, with its count of open cases."""
        auth.current()
        return [{"key": key, "version": info.definition.version, "title": info.definition.title,
                 "latest": info.latest, "open_cases": info.open_cases,
                 "sha256": info.row.sha256 if info.row else None,
                 "deployed_by": info.row.deployed_by if info.row else None,
                 "deployed_at": local(info.row.deployed_at) if info.row else None}
                for info in definition_store.versions(current_session(), engine(), key)]


@blp.route("/admin/definitions/<string:key>/diff")
class DefinitionDiff(MethodView):
    @blp.arguments(DiffQuerySchema, location="query")
    @blp.response(200, DiffSchema)
    def get(self, args: dict[str, Any], key: str) -> dict[str, Any]:
        """What changes from one version to another (``?from=1&to=2``), in words a clerk reads."""
        auth.require_role("admin")
        catalog = engine().catalog
        old, new = catalog.get(key, args["from_version"]), catalog.get(key, args["to_version"])
        return {"key": key, "from_version": old.version, "to_version": new.version,
                "changes": changes_resource(diff(old, new))}


@blp.route("/admin/definitions/<string:key>/migrations")
class DefinitionMigrations(MethodView):
    @blp.arguments(MigrationRequestSchema)
    @blp.response(200, MigrationSchema)
    def post(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        """Move the open cases of one version to a later one (``dry_run``: list them, move nothing). Refused
        (422, naming them) when a state has no place in the new version or a case's data does not fit it."""
        principal = auth.require_role("admin")
        plan = definition_migrations.make_plan(engine(), key, body)
        if body["dry_run"]:
            moves = definition_migrations.dry_run(current_session(), plan)
            return migration_resource(plan, moves, dry_run=True)
        result = definition_migrations.run(lambda: Session(db.engine), plan, actor=principal.username,
                                           now=now())
        return migration_resource(plan, result.moves, dry_run=False, result=result)


def migration_resource(plan: definition_migrations.Plan, moves: list[definition_migrations.Move], *,
                       dry_run: bool, result: definition_migrations.Result | None = None) -> dict[str, Any]:
    return {"key": plan.key, "from_version": plan.old.version, "to_version": plan.new.version, "dry_run": dry_run,
            "recount_deadlines": plan.recount, "count": len(moves),
            "migration": result.migration_id if result else None, "resumed": bool(result and result.resumed),
            "conflicts": result.conflicts if result else [],
            "cases": [{"id": move.case_id, "number": move.number, "org_unit": move.org_unit,
                       "org_unit_name": move.org_unit_name,
                       "old_state": move.old_state, "old_state_label": move.old_state_label,
                       "new_state": move.new_state, "new_state_label": move.new_state_label,
                       "old_due_at": local(move.old_due_at), "new_due_at": local(move.new_due_at)}
                      for move in moves]}
