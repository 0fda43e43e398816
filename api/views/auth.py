"""Sign-in for API clients: username and password for a bearer token; sign-out; a new password."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import accounts, auth, login_guard, passwords
from api.clock import now
from api.errors import Unauthenticated
from api.extensions import current_session, db
from api.models import User
from api.present import local
from api.schemas import TokenRequestSchema, TokenSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录：用户名和密码换取访问令牌")


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))
    new_password = passwords.field(required=True)


@blp.route("/token")
class Token(MethodView):
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(429, description="登录尝试过于频繁，或该账号失败次数过多已暂时锁定（Retry-After）")
    @blp.doc(security=[])
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Exchange a username and password for a bearer token (attempts are limited per user and address,
        failures per user from every address)."""
        user = login_guard.sign_in(body["username"], body["password"], request.remote_addr, now())
        if user is None:
            raise Unauthenticated("用户名或密码错误")
        token, record = auth.issue_token(user)
        db.session.flush()
        return {"token": token, "expires_at": local(record.expires_at),
                "user": {"username": user.username, "roles": user.roles, "org_unit": user.org_unit.code}}


def _presented_token() -> str:
    return request.headers.get("Authorization", "").partition(" ")[2].strip()


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    def post(self) -> None:
        """Sign out: the token of this request stops working at once."""
        auth.current()
        accounts.sign_out_token(current_session(), _presented_token(), now())


@blp.route("/password")
class Password(MethodView):
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    def post(self, body: dict[str, Any]) -> None:
        """Change your own password (the policy: 12+ characters, not a common one). Every session and session
        token of yours ends, this one too: sign in again."""
        principal = auth.current()
        user = db.session.get(User, principal.user_id)
        assert user is not None
        accounts.change_own_password(current_session(), user=user, current=body["current_password"],
                                     new=body["new_password"], now=now())
