"""The API's own resources as marshmallow schemas; the OpenAPI document is generated from these."""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate
from marshmallow.decorators import POST_DUMP, PRE_DUMP

from api.pagination import PageQuerySchema, page_schema

ISO = "iso"


class ProblemSchema(Schema):
    """RFC 9457 problem details; a problem may carry more members (e.g. ``current_version``)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String(allow_none=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    allowed_events = fields.List(fields.String())


class TokenRequestSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class UserBriefSchema(Schema):
    username = fields.String()
    roles = fields.List(fields.String())
    org_unit = fields.String()


class TokenSchema(Schema):
    token = fields.String()
    expires_at = fields.DateTime(format=ISO, allow_none=True)
    user = fields.Nested(UserBriefSchema)


class OrgUnitSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent = fields.String(allow_none=True)
    children = fields.List(fields.Nested(lambda: OrgUnitSchema()))


class StateSchema(Schema):
    name = fields.String()
    label = fields.String()
    terminal = fields.Boolean()
    deadline = fields.Dict(allow_none=True)


class EventSchema(Schema):
    name = fields.String()
    label = fields.String()
    from_ = fields.List(fields.String(), data_key="from")
    to = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    requires = fields.List(fields.String())
    action = fields.String(allow_none=True)


class DefinitionSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    title = fields.String()
    initial = fields.String()
    states = fields.List(fields.Nested(StateSchema))
    events = fields.List(fields.Nested(EventSchema))


class DefinitionQuerySchema(Schema):
    version = fields.Integer(validate=validate.Range(min=1, max=1000))


class DiagramQuerySchema(Schema):
    version = fields.Integer(validate=validate.Range(min=1, max=1000))
    case = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))


class FlatDump(Schema):
    """A schema of mappings dumped field by field through each field's own formatting, without the look-up
    machinery around it (``Schema.dump`` asks every field to find its value through an accessor): a list page of
    50 cases is some 1,000 fields, a quarter of the request's CPU that way. The same answer —
    ``tests/unit/test_flat_dump.py`` compares it with ``Schema.dump`` — for a schema with no dump hooks; one with
    hooks is dumped as marshmallow does."""

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        if self._hooks.get(PRE_DUMP) or self._hooks.get(POST_DUMP):
            return super().dump(obj, many=many)
        many = self.many if many is None else bool(many)
        return [self._flat(item) for item in obj] if many else self._flat(obj)

    def _flat(self, item: Any) -> dict[str, Any]:
        return {field.data_key or name: None if item[name] is None else field._serialize(item[name], name, item)
                for name, field in self.dump_fields.items() if name in item}


class CaseSchema(FlatDump):
    id = fields.Integer()
    number = fields.String()
    definition = fields.String()
    definition_version = fields.Integer()
    state = fields.String()
    state_label = fields.String()
    level = fields.String()
    org_unit = fields.String()
    org_unit_name = fields.String()
    data = fields.Dict()
    due_at = fields.DateTime(format=ISO, allow_none=True)
    due_soon = fields.Boolean()
    overdue = fields.Boolean()
    provisional = fields.Boolean()
    escalations = fields.Integer()
    version = fields.Integer()
    created_at = fields.DateTime(format=ISO)
    updated_at = fields.DateTime(format=ISO)
    closed = fields.Boolean()
    early_warning = fields.Boolean()
    allowed_events = fields.List(fields.String())


# what an org unit's code looks like (wenling, chengdong, cd-e001, chengdong-u12): said in the document, checked
ORG_CODE = r"^[a-z0-9][a-z0-9-]{0,63}$"
ORG_CODE_RULE = validate.Regexp(ORG_CODE, error="组织代码须为小写字母、数字和连字符（至多 64 位）")


class CaseCreateSchema(Schema):
    # the loaded definitions' keys are listed as an enum in the document (api.openapi_rules)
    definition = fields.String(required=True, validate=validate.Length(min=1, max=64))
    org_unit = fields.String(validate=ORG_CODE_RULE)
    data = fields.Dict(required=True)
    comment = fields.String(validate=validate.Length(max=2000))


class EventRequestSchema(Schema):
    data = fields.Dict(load_default=dict)
    comment = fields.String(validate=validate.Length(max=2000), allow_none=True)


class CaseQuerySchema(PageQuerySchema):
    definition = fields.String(validate=validate.Length(max=64))
    state = fields.String(validate=validate.Length(max=64))
    level = fields.String(validate=validate.OneOf(["enterprise", "street", "city"]))
    org_unit = fields.String(validate=ORG_CODE_RULE)
    overdue = fields.Boolean()
    q = fields.String(validate=validate.Length(max=200))
    involved = fields.Boolean(metadata={"description": "true：本单位承办过（含正在承办）的案件，移交后只读"})
    sort = fields.String(load_default="created_at", validate=validate.OneOf(["created_at", "due_at"]))


# cases and the worklist answer pages of cases (api.pagination)
CasePageSchema = page_schema(CaseSchema, "CasePageSchema")


class HistorySchema(Schema):
    seq = fields.Integer()
    event = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    level_from = fields.String(allow_none=True)
    level_to = fields.String()
    org_from = fields.String(allow_none=True)
    org_to = fields.String()
    actor = fields.String()
    at = fields.DateTime(format=ISO)
    data = fields.Dict()
    comment = fields.String(allow_none=True)
    hash = fields.String()


class ReportQuerySchema(Schema):
    org_unit = fields.String(validate=ORG_CODE_RULE)
    from_ = fields.Date(data_key="from")
    to = fields.Date()


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()
