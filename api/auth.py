"""Who is calling: bearer tokens for the API, the session cookie for the UI, and the caller's scope.

Tokens are random strings shown once; only their SHA-256 is stored. Session tokens expire after
``TOKEN_TTL_HOURS``; service tokens (counters) live until revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.exceptions import Forbidden, Unauthorized
from werkzeug.security import check_password_hash, generate_password_hash

from api.clock import now
from api.context import request_globals, this_app, this_request
from api.extensions import db
from api.models import ApiToken, OrgUnit, User
from api.token_cache import TokenCache

PASSWORD_METHOD = "scrypt"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller; ``org_path`` bounds what it may see."""

    user_id: int
    username: str
    roles: frozenset[str]
    org_unit: str
    org_unit_id: int
    org_path: str
    level: str

    def sees(self, org_path: str) -> bool:
        return org_path.startswith(self.org_path)

    @property
    def acting_roles(self) -> frozenset[str]:
        """The roles as the definitions name them: each role, and each role at this user's level."""
        return self.roles | {f"{role}@{self.level}" for role in self.roles}

    @classmethod
    def of(cls, user: User) -> Principal:
        unit = user.org_unit
        return cls(user.id, user.username, frozenset(user.roles), unit.code, unit.id, unit.path, unit.level)


def hash_password(password: str) -> str:
    method = current_app.config.get("PASSWORD_METHOD", PASSWORD_METHOD) if current_app else PASSWORD_METHOD
    return generate_password_hash(password, method=method)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def verify_credentials(username: str, password: str) -> User | None:
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)  # same work whether or not the user exists
        return None
    return user if check_password_hash(user.password_hash, password) else None


_DUMMY_HASH = generate_password_hash("not-a-password", method=PASSWORD_METHOD)
token_digest = _digest


def issue_token(user: User, *, kind: str = "session", label: str | None = None,
                at: datetime | None = None) -> tuple[str, ApiToken]:
    at = at or now()
    token = secrets.token_urlsafe(32)
    expires = None if kind == "service" else at + timedelta(hours=current_app.config["TOKEN_TTL_HOURS"])
    record = ApiToken(token_hash=_digest(token), user_id=user.id, kind=kind, label=label, expires_at=expires,
                      created_at=at, generation=user.session_generation or 0)
    db.session.add(record)
    db.session.flush()
    return token, record


def principal_from_token(token: str) -> Principal | None:
    """The caller a token stands for: from this process's cache while its last check is under
    ``TOKEN_CACHE_SECONDS`` old (``api.token_cache``), else one query for the columns needed.

    A session token also dies when its user's session generation has moved on (sign-out, a new password,
    an administrator ending the user's sessions); a service token lives until it is revoked."""
    digest, moment = _digest(token), now()
    cache = _token_cache()
    principal = cache.get(digest, moment)
    if principal is not None:
        return principal
    row = db.session.execute(
        sa.select(ApiToken.revoked_at, ApiToken.expires_at, ApiToken.kind, ApiToken.generation,
                  User.session_generation, User.active, User.id, User.username, User.roles,
                  OrgUnit.code, OrgUnit.id, OrgUnit.path, OrgUnit.level)
        .join(User, User.id == ApiToken.user_id).join(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(ApiToken.token_hash == digest)).first()
    if row is None:
        return None
    revoked_at, expires_at, kind, generation, user_generation, active, *identity = row
    if revoked_at is not None or not active or (expires_at is not None and expires_at <= moment):
        return None
    if kind == "session" and generation != user_generation:
        return None
    user_id, username, roles, unit_code, unit_id, unit_path, level = identity
    principal = Principal(user_id, username, frozenset(roles), unit_code, unit_id, unit_path, level)
    cache.put(digest, principal, expires_at)
    return principal


def _token_cache() -> TokenCache[Principal]:
    app = this_app()
    cache: TokenCache[Principal] | None = app.extensions.get("gonghui.token_cache")
    if cache is None:
        cache = app.extensions.setdefault(
            "gonghui.token_cache", TokenCache(float(app.config["TOKEN_CACHE_SECONDS"])))
    return cache


def bearer_principal() -> Principal:
    """The caller of an API request, or 401."""
    header = this_request().headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    principal = principal_from_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if principal is None:
        error = Unauthorized("缺少有效的访问令牌（Authorization: Bearer <token>），或令牌已过期、已吊销")
        error.data = {"headers": {"WWW-Authenticate": 'Bearer realm="gonghui"'}}  # type: ignore[attr-defined]
        raise error
    return principal


def current() -> Principal:
    globals_ = request_globals()
    principal: Principal | None = globals_.get("principal")
    if principal is None:
        principal = bearer_principal()
        globals_.principal = principal
    return principal


def require_role(*roles: str) -> Principal:
    principal = current()
    if not principal.roles & set(roles):
        raise Forbidden(f"需要以下角色之一：{', '.join(roles)}")
    return principal


def unit_by_code(code: str) -> OrgUnit | None:
    return db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))


# Endpoints any client may call without a token; every other /api/v1 endpoint needs one.
PUBLIC_ENDPOINTS = frozenset({
    "auth.Token", "api-docs.openapi_json", "api-docs.openapi_swagger_ui",
    "intake.IntakeReports", "intake.IntakeReport", "intake.IntakeReopen", "counters.ClaimStatus",
})


# Endpoints reserved to some roles: refused (403) before their arguments are even read.
ENDPOINT_ROLES: dict[str, frozenset[str]] = {
    "counters.ClaimCheck": frozenset({"counter"}), "counters.Claims": frozenset({"counter"}),
    "calendar.CalendarYears": frozenset({"admin"}), "admin.Users": frozenset({"admin"}),
    "admin.Tokens": frozenset({"admin"}), "admin.Token": frozenset({"admin"}),
    "admin.UserOne": frozenset({"admin"}), "admin.UserSessions": frozenset({"admin"}),
    "admin.UserLockout": frozenset({"admin"}), "admin.Log": frozenset({"admin"}),
    "enterprises.EnterpriseImport": frozenset({"clerk", "admin"}),
    "definition_admin.DefinitionDeploy": frozenset({"admin"}), "definition_admin.DefinitionDiff": frozenset({"admin"}),
    "definition_admin.DefinitionMigrations": frozenset({"admin"}),
}


def authenticate_api_request() -> None:
    """Before any argument parsing: a request to a protected API endpoint without a valid token is 401,
    and one to an endpoint reserved to other roles is 403."""
    current_request = this_request()
    endpoint = current_request.endpoint
    if current_request.path.startswith("/api/v1/") and endpoint not in PUBLIC_ENDPOINTS \
            and endpoint is not None and current_request.method != "OPTIONS":
        principal = current()
        needed = ENDPOINT_ROLES.get(endpoint)
        if needed and not principal.roles & needed:
            raise Forbidden(f"需要以下角色之一：{', '.join(sorted(needed))}")
