"""Accounts: users, their roles, and service tokens (issued once, revocable)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api import auth, demo
from api.models import ApiToken, OrgUnit, User
from workflow.definitions import ROLES
from workflow.errors import InvalidData

USER_ROLES = sorted(ROLES - {"system"})


def save_user(session: Session, username: str, org: str, roles: list[str], password: str, now: datetime) -> User:
    faults: dict[str, list[str]] = {}
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").isalnum():
        faults["username"] = ["用户名须为 1–64 位字母、数字、下划线或连字符"]
    unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == org))
    if unit is None:
        faults["org"] = [f"未知的组织：{org}"]
    unknown = [role for role in roles if role not in USER_ROLES]
    if not roles or unknown:
        faults["roles"] = [f"角色须为以下之一：{', '.join(USER_ROLES)}"]
    if len(password) < 8 and password != demo.DEMO_PASSWORD:
        faults["password"] = ["密码至少 8 位"]
    if faults:
        raise InvalidData(faults)
    assert unit is not None
    user = demo.upsert_user(session, username, unit, sorted(set(roles)), password, now)
    user.password_hash = auth.hash_password(password)
    return user


def issue_service_token(session: Session, username: str, label: str | None) -> str:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise InvalidData({"username": [f"没有用户 {username}"]})
    token, _ = auth.issue_token(user, kind="service", label=label or f"{username} service token")
    return token


def revoke_token(session: Session, token_id: int, now: datetime) -> bool:
    record = session.get(ApiToken, token_id)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = now
    session.flush()
    return True


def list_users(session: Session) -> list[User]:
    return list(session.scalars(sa.select(User).order_by(User.username)))


def list_tokens(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(sa.select(ApiToken).where(ApiToken.kind == "service").order_by(ApiToken.id))
    return [{"id": token.id, "user": token.user.username, "label": token.label, "created_at": token.created_at,
             "revoked_at": token.revoked_at} for token in rows]
