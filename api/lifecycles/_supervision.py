"""The data of the supervision (督办) events every definition declares: assign (交办), take_over (提级办理),
urge (催办). Shared by every lifecycle; a lifecycle may still give its own schema for one of them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class AssignSchema(Schema):
    org_unit = fields.String(required=True, validate=validate.Length(min=1, max=64))
    instruction = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    due_in_working_days = fields.Integer(validate=validate.Range(min=1, max=250), allow_none=True)


class TakeOverSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class UrgeSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


SUPERVISION_SCHEMAS: dict[str, type[Schema]] = {
    "assign": AssignSchema, "take_over": TakeOverSchema, "urge": UrgeSchema,
}
