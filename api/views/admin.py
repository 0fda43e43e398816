"""Administration API: users and service tokens (admin role only)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import accounts, auth
from api.clock import now
from api.extensions import db
from api.present import local
from api.problems import problem
from api.schemas import ORG_CODE_RULE

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="管理：用户与服务令牌")


NEW_PASSWORD_MIN = 12   # a new password: 12 characters at least


class UserSchema(Schema):
    username = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9_-]{1,64}$", error="用户名须为 1–64 位字母、数字、下划线或连字符"))
    org_unit = fields.String(required=True, validate=ORG_CODE_RULE)
    roles = fields.List(fields.String(validate=validate.OneOf(accounts.USER_ROLES)), required=True,
                        validate=validate.Length(min=1))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=NEW_PASSWORD_MIN, max=200))


class ServiceTokenRequestSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    label = fields.String(validate=validate.Length(max=100))


class ServiceTokenSchema(Schema):
    id = fields.Integer()
    user = fields.String()
    label = fields.String(allow_none=True)
    created_at = fields.DateTime(format="iso")
    revoked_at = fields.DateTime(format="iso", allow_none=True)
    token = fields.String()


@blp.route("/users")
class Users(MethodView):
    @blp.response(200, UserSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every user with its unit and roles."""
        auth.require_role("admin")
        return [{"username": user.username, "org_unit": user.org_unit.code, "roles": user.roles}
                for user in accounts.list_users(db.session)]

    @blp.arguments(UserSchema)
    @blp.response(201, UserSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create or update a user."""
        auth.require_role("admin")
        user = accounts.save_user(db.session, body["username"], body["org_unit"], body["roles"], body["password"],
                                  now())
        return {"username": user.username, "org_unit": user.org_unit.code, "roles": user.roles}


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.response(200, ServiceTokenSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The service tokens (never their secret)."""
        auth.require_role("admin")
        return [{**token, "created_at": local(token["created_at"]), "revoked_at": local(token["revoked_at"])}
                for token in accounts.list_tokens(db.session)]

    @blp.arguments(ServiceTokenRequestSchema)
    @blp.response(201, ServiceTokenSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Issue a long-lived service token (for a counter); the token is shown in this answer only."""
        auth.require_role("admin")
        token = accounts.issue_service_token(db.session, body["username"], body.get("label"))
        return {"token": token, "user": body["username"], "label": body.get("label")}


@blp.route("/tokens/<int(max=2147483647):token_id>")
class Token(MethodView):
    @blp.response(204)
    def delete(self, token_id: int) -> Any:
        """Revoke a token: it stops working at once."""
        auth.require_role("admin")
        if not accounts.revoke_token(db.session, token_id, now()):
            return problem(404, "没有这个有效的令牌")
        return None
