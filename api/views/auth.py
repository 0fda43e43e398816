"""Sign-in for API clients: username and password for a bearer token."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import Unauthorized

from api import auth
from api.extensions import db
from api.present import local
from api.schemas import TokenRequestSchema, TokenSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录：用户名和密码换取访问令牌")


def login_throttled(username: str) -> Any:
    """10 attempts per username and client address per 5 minutes (shared by every process): then 429."""
    from flask import request

    from api import ratelimit

    return ratelimit.refused(f"login:{username[:64]}:{request.remote_addr}", "LOGIN", limit=10, window_seconds=300,
                             message="登录尝试过于频繁，请稍后再试")


@blp.route("/token")
class Token(MethodView):
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    @blp.doc(security=[])
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Exchange a username and password for a bearer token (attempts are limited per user and address)."""
        refused = login_throttled(body["username"])
        if refused is not None:
            return refused
        user = auth.verify_credentials(body["username"], body["password"])
        if user is None:
            raise Unauthorized("用户名或密码错误")
        token, record = auth.issue_token(user)
        db.session.flush()
        return {"token": token, "expires_at": local(record.expires_at),
                "user": {"username": user.username, "roles": user.roles, "org_unit": user.org_unit.code}}
