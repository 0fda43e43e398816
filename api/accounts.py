"""Accounts: users, their roles, passwords and sign-in sessions, and tokens (service tokens issued once, any
token revocable). Every change is written to the administrators' log (``api/admin_log.py``) by the use case
itself, so the API, the 管理 page and the command line leave the same trace."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api import admin_log, auth, passwords, sessions
from api.models import ApiToken, OrgUnit, User
from workflow.definitions import ROLES
from workflow.errors import Conflict, InvalidData

USER_ROLES = sorted(ROLES - {"system"})


class UnknownUser(LookupError):
    """No user by that name (the API answers 404)."""


def summary(user: User) -> dict[str, Any]:
    """What the log and the API show of a user (never the password hash)."""
    return {"username": user.username, "org_unit": user.org_unit.code, "roles": sorted(user.roles),
            "active": user.active}


def find_user(session: Session, username: str) -> User:
    user: User | None = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise UnknownUser(username)
    return user


def _unit(session: Session, org: str, faults: dict[str, list[str]]) -> OrgUnit | None:
    unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == org))
    if unit is None:
        faults["org_unit"] = [f"未知的组织：{org}" if org else "请选择单位"]
    return unit


def _check_roles(roles: list[str], faults: dict[str, list[str]]) -> None:
    if not roles or any(role not in USER_ROLES for role in roles):
        faults["roles"] = [f"角色须为以下之一：{', '.join(USER_ROLES)}"]


def create_user(session: Session, *, actor: str, username: str, org: str, roles: list[str], password: str,
                now: datetime) -> User:
    """A new user; an existing username is a conflict (409), never overwritten."""
    faults: dict[str, list[str]] = {}
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").isalnum() \
            or not username.isascii():
        faults["username"] = ["用户名须为 1–64 位字母、数字、下划线或连字符"]
    unit = _unit(session, org, faults)
    _check_roles(roles, faults)
    if password_faults := passwords.faults(password, username):
        faults["password"] = password_faults
    if faults:
        raise InvalidData(faults)
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户名 {username} 已存在；修改已有用户请用“修改用户”", username=username)
    assert unit is not None
    user = User(username=username, password_hash=auth.hash_password(password), org_unit=unit, org_unit_id=unit.id,
                roles=sorted(set(roles)), active=True, created_at=now, session_generation=0)
    session.add(user)
    session.flush()
    admin_log.record(session, actor=actor, action="user.create", target=username, at=now, after=summary(user))
    return user


def update_user(session: Session, *, actor: str, user: User, now: datetime, org: str | None = None,
                roles: list[str] | None = None, active: bool | None = None) -> User:
    """Change a user's unit, roles or whether it may sign in; deactivation ends its sessions."""
    faults: dict[str, list[str]] = {}
    unit = _unit(session, org, faults) if org is not None else None
    if roles is not None:
        _check_roles(roles, faults)
    if active is False and actor == user.username:
        faults["active"] = ["不能停用自己的账号"]
    if faults:
        raise InvalidData(faults)
    before = summary(user)
    if unit is not None:
        user.org_unit, user.org_unit_id = unit, unit.id
    if roles is not None:
        user.roles = sorted(set(roles))
    if active is not None:
        user.active = active
    session.flush()
    after = summary(user)
    if {key: value for key, value in before.items() if key != "active"} != \
            {key: value for key, value in after.items() if key != "active"}:
        admin_log.record(session, actor=actor, action="user.update", target=user.username, at=now,
                         before=before, after=after)
    if before["active"] != after["active"]:
        if not user.active:
            sessions.end_all(session, user)
        admin_log.record(session, actor=actor, action="user.activate" if user.active else "user.deactivate",
                         target=user.username, at=now, before={"active": before["active"]},
                         after={"active": after["active"]})
    return user


def set_password(session: Session, *, actor: str, user: User, password: str, now: datetime) -> None:
    """A new password (by the policy); every session of the user ends."""
    if password_faults := passwords.faults(password, user.username):
        raise InvalidData({"password": password_faults})
    user.password_hash = auth.hash_password(password)
    sessions.end_all(session, user)
    admin_log.record(session, actor=actor, action="user.password", target=user.username, at=now)


def change_own_password(session: Session, *, user: User, current: str, new: str, now: datetime) -> None:
    """The user changes its own password: the current one is required."""
    if auth.verify_credentials(user.username, current) is None:
        raise InvalidData({"current_password": ["当前密码不正确"]})
    if new == current:
        raise InvalidData({"new_password": ["新密码不能与当前密码相同"]})
    try:
        set_password(session, actor=user.username, user=user, password=new, now=now)
    except InvalidData as error:
        raise InvalidData({"new_password": error.errors["password"]}) from None


def end_sessions(session: Session, *, actor: str, user: User, now: datetime) -> None:
    """An administrator ends every browser session and session token of ``user``."""
    sessions.end_all(session, user)
    admin_log.record(session, actor=actor, action="user.sessions_revoked", target=user.username, at=now)


def issue_service_token(session: Session, *, actor: str, username: str, label: str | None, now: datetime) -> str:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise InvalidData({"username": [f"没有用户 {username}"]})
    token, record = auth.issue_token(user, kind="service", label=label or f"{username} service token", at=now)
    admin_log.record(session, actor=actor, action="token.issue", target=username, at=now,
                     after={"token_id": record.id, "kind": "service", "label": record.label})
    return token


def revoke_token(session: Session, *, actor: str, token_id: int, now: datetime) -> bool:
    record = session.get(ApiToken, token_id)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = now
    session.flush()
    admin_log.record(session, actor=actor, action="token.revoke", target=record.user.username, at=now,
                     before={"token_id": record.id, "kind": record.kind, "label": record.label})
    return True


def sign_out_token(session: Session, token: str, now: datetime) -> None:
    """The holder of ``token`` signs out: that token stops working (its user's other sessions go on)."""
    session.execute(sa.update(ApiToken).where(ApiToken.token_hash == auth.token_digest(token),
                                              ApiToken.revoked_at.is_(None)).values(revoked_at=now))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(sa.select(User).order_by(User.username)))


def token_live(token: ApiToken, now: datetime) -> bool:
    """Whether the token would be accepted now."""
    return (token.revoked_at is None and token.user.active
            and (token.expires_at is None or token.expires_at > now)
            and (token.kind != "session" or token.generation == token.user.session_generation))


def list_tokens(session: Session, now: datetime, *, username: str | None = None,
                kind: str | None = None) -> list[dict[str, Any]]:
    """Service tokens (revoked ones too) and the session tokens that still work, oldest first; never a secret."""
    query = sa.select(ApiToken).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if username:
        query = query.where(User.username == username)
    if kind:
        query = query.where(ApiToken.kind == kind)
    query = query.where(sa.or_(ApiToken.kind == "service",
                               sa.and_(ApiToken.revoked_at.is_(None), ApiToken.expires_at > now,
                                       ApiToken.generation == User.session_generation)))
    return [{"id": token.id, "user": token.user.username, "kind": token.kind, "label": token.label,
             "created_at": token.created_at, "expires_at": token.expires_at, "revoked_at": token.revoked_at,
             "active": token_live(token, now)} for token in session.scalars(query)]
