"""Administration API: users, their sessions, tokens and the administrators' log (admin role only)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import accounts, admin_log, auth, login_guard, passwords
from api.clock import now
from api.extensions import current_session
from api.models import User
from api.present import local
from api.schemas import ORG_CODE_RULE
from workflow.errors import RecordNotFound

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="管理：用户、会话、令牌与管理日志")

USERNAME = r"^[A-Za-z0-9_-]{1,64}$"


class UserSchema(Schema):
    username = fields.String(required=True, validate=[validate.Length(min=1, max=64), validate.Regexp(USERNAME)])
    org_unit = fields.String(required=True, validate=ORG_CODE_RULE)
    roles = fields.List(fields.String(validate=validate.OneOf(accounts.USER_ROLES)), required=True,
                        validate=validate.Length(min=1))
    password = passwords.field(required=True)
    active = fields.Boolean(dump_only=True)


class UserChangeSchema(Schema):
    org_unit = fields.String(validate=ORG_CODE_RULE)
    roles = fields.List(fields.String(validate=validate.OneOf(accounts.USER_ROLES)), validate=validate.Length(min=1))
    active = fields.Boolean(metadata={"description": "false 停用（其全部会话随即结束），true 启用"})
    password = passwords.field()


class ServiceTokenRequestSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    label = fields.String(validate=validate.Length(max=100))


class ServiceTokenSchema(Schema):
    id = fields.Integer()
    user = fields.String()
    kind = fields.String(metadata={"description": "service（服务令牌）或 session（登录令牌）"})
    label = fields.String(allow_none=True)
    created_at = fields.DateTime(format="iso")
    expires_at = fields.DateTime(format="iso", allow_none=True)
    revoked_at = fields.DateTime(format="iso", allow_none=True)
    active = fields.Boolean()
    token = fields.String()


class TokenQuerySchema(Schema):
    user = fields.String(validate=validate.Length(min=1, max=64))
    kind = fields.String(validate=validate.OneOf(["service", "session"]))


class LogQuerySchema(Schema):
    action = fields.String(validate=validate.OneOf(sorted(admin_log.ACTIONS)))
    target = fields.String(validate=validate.Length(min=1, max=120))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class LogEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime(format="iso")
    actor = fields.String()
    action = fields.String()
    action_label = fields.String()
    target = fields.String()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


class LogPageSchema(Schema):
    items = fields.List(fields.Nested(LogEntrySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


def _user(username: str) -> User:
    try:
        return accounts.find_user(current_session(), username)
    except accounts.UnknownUser:
        raise RecordNotFound(f"没有用户 {username}") from None


def _token_resource(token: dict[str, Any]) -> dict[str, Any]:
    return {**token, "created_at": local(token["created_at"]), "expires_at": local(token["expires_at"]),
            "revoked_at": local(token["revoked_at"])}


@blp.route("/users")
class Users(MethodView):
    @blp.response(200, UserSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every user with its unit, roles and whether it may sign in."""
        auth.require_role("admin")
        return [accounts.summary(user) for user in accounts.list_users(current_session())]

    @blp.arguments(UserSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(409, description="用户名已存在（不会覆盖已有用户）")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a user; an existing username is 409 (change one with PATCH /admin/users/{username})."""
        principal = auth.require_role("admin")
        user = accounts.create_user(current_session(), actor=principal.username, username=body["username"],
                                    org=body["org_unit"], roles=body["roles"], password=body["password"], now=now())
        return accounts.summary(user)


@blp.route("/users/<string(maxlength=64):username>")
class UserOne(MethodView):
    @blp.arguments(UserChangeSchema)
    @blp.response(200, UserSchema)
    def patch(self, body: dict[str, Any], username: str) -> Any:
        """Change a user's unit, roles, password or whether it may sign in (each change is logged)."""
        principal = auth.require_role("admin")
        user = _user(username)
        moment = now()
        accounts.update_user(current_session(), actor=principal.username, user=user, now=moment,
                             org=body.get("org_unit"), roles=body.get("roles"), active=body.get("active"))
        if "password" in body:
            accounts.set_password(current_session(), actor=principal.username, user=user, password=body["password"],
                                  now=moment)
        return accounts.summary(user)


@blp.route("/users/<string(maxlength=64):username>/sessions")
class UserSessions(MethodView):
    @blp.response(204)
    def delete(self, username: str) -> Any:
        """End every browser session and session token of the user at once (service tokens stay)."""
        principal = auth.require_role("admin")
        user = _user(username)
        accounts.end_sessions(current_session(), actor=principal.username, user=user, now=now())
        return None


@blp.route("/users/<string(maxlength=64):username>/lockout")
class UserLockout(MethodView):
    @blp.response(204)
    def delete(self, username: str) -> Any:
        """Lift the sign-in lock of a user locked after too many failed sign-ins."""
        principal = auth.require_role("admin")
        _user(username)
        login_guard.unlock(current_session(), actor=principal.username, username=username, now=now())
        return None


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.arguments(TokenQuerySchema, location="query")
    @blp.response(200, ServiceTokenSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Service tokens (revoked ones too) and the session tokens that still work, of anyone (never a secret)."""
        auth.require_role("admin")
        tokens = accounts.list_tokens(current_session(), now(), username=args.get("user"), kind=args.get("kind"))
        return [_token_resource(token) for token in tokens]

    @blp.arguments(ServiceTokenRequestSchema)
    @blp.response(201, ServiceTokenSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Issue a long-lived service token (for a counter); the token is shown in this answer only."""
        principal = auth.require_role("admin")
        token = accounts.issue_service_token(current_session(), actor=principal.username, username=body["username"],
                                             label=body.get("label"), now=now())
        return {"token": token, "user": body["username"], "label": body.get("label"), "kind": "service",
                "active": True}


@blp.route("/tokens/<int(max=2147483647):token_id>")
class Token(MethodView):
    @blp.response(204)
    def delete(self, token_id: int) -> Any:
        """Revoke a token, a service or a session one: it stops working at once."""
        principal = auth.require_role("admin")
        if not accounts.revoke_token(current_session(), actor=principal.username, token_id=token_id, now=now()):
            raise RecordNotFound("没有这个有效的令牌")
        return None


@blp.route("/log")
class Log(MethodView):
    @blp.arguments(LogQuerySchema, location="query")
    @blp.response(200, LogPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The administrators' log, newest first: who did what to which user, token or calendar, with the
        state before and after (append-only)."""
        auth.require_role("admin")
        rows, total = admin_log.entries(current_session(), action=args.get("action"), target=args.get("target"),
                                        page=args["page"], per_page=args["per_page"])
        return {"items": [{"id": row.id, "at": local(row.at), "actor": row.actor, "action": row.action,
                           "action_label": admin_log.ACTIONS.get(row.action, row.action), "target": row.target,
                           "before": row.before, "after": row.after} for row in rows],
                "total": total, "page": args["page"], "per_page": args["per_page"]}
