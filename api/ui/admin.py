"""管理 (``admin``): org units, users (create, change, reset a password, deactivate, end sessions, unlock),
service tokens and the administration log. The holiday schedule is ``calendar``, lifecycle versions
``definitions``."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask import g, redirect, render_template, request, session, url_for

from api import accounts, admin_log, login_guard, passwords
from api.clock import now
from api.extensions import current_session, db
from api.models import CalendarYear, OrgUnit, User
from api.ui import blp
from api.ui.labels import ROLES
from api.ui.session import requires
from workflow.errors import Conflict, InvalidData


@blp.route("/admin", methods=["GET"])
@requires("admin")
def admin() -> Any:
    moment = now()
    units = list(db.session.scalars(sa.select(OrgUnit).order_by(OrgUnit.path)))
    log, _ = admin_log.entries(current_session(), per_page=30)
    return render_template("ui/admin.html", units=units, users=accounts.list_users(current_session()),
                           tokens=accounts.list_tokens(current_session(), moment), years=list(db.session.scalars(
                               sa.select(CalendarYear).order_by(CalendarYear.year))),
                           lockouts=login_guard.locked_usernames(current_session(), moment), log=log,
                           actions=admin_log.ACTIONS, password_rule=passwords.RULE,
                           issued=session.pop("issued_token", None), message=session.pop("message", None),
                           errors=session.pop("admin_errors", None))


ADMIN_FIELDS = {"username": "用户名", "org": "单位", "org_unit": "单位", "roles": "角色", "password": "密码",
                "label": "说明"}


def _admin_words(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The faults of an administration form by the field's Chinese name, roles named in Chinese."""
    worded: dict[str, list[str]] = {}
    for name, messages in errors.items():
        for message in messages:
            for code, label in sorted(ROLES.items(), key=lambda item: -len(item[0])):
                message = re.sub(rf"\b{code}\b", label, message)
            worded.setdefault(ADMIN_FIELDS.get(name, "其他"), []).append(message)
    return worded


def _admin_action(action: Any) -> Any:
    """Run an administration change; its faults go back to the admin page."""
    try:
        action()
    except InvalidData as error:
        db.session.rollback()
        session["admin_errors"] = _admin_words(error.errors)
    except Conflict as error:
        db.session.rollback()
        session["admin_errors"] = _admin_words({"username": [error.detail]})
    except accounts.UnknownUser as error:
        db.session.rollback()
        session["admin_errors"] = _admin_words({"username": [f"没有用户 {error}"]})
    return redirect(url_for("ui.admin"))


@blp.post("/admin/users")
@requires("admin")
def admin_create_user() -> Any:
    def save() -> None:
        accounts.create_user(current_session(), actor=g.principal.username,
                             username=request.form.get("username", "").strip(), org=request.form.get("org", ""),
                             roles=request.form.getlist("roles"),
                             password=request.form.get("password", ""), now=now())
        session["message"] = "用户已创建"

    return _admin_action(save)


def _user(username: str) -> User:
    return accounts.find_user(current_session(), username)


@blp.post("/admin/users/change")
@requires("admin")
def admin_change_user() -> Any:
    username = request.form.get("username", "")

    def change() -> None:
        accounts.update_user(current_session(), actor=g.principal.username, user=_user(username),
                             now=now(), org=request.form.get("org") or None,
                             roles=request.form.getlist("roles") or None)   # nothing ticked: roles unchanged
        session["message"] = f"用户 {username} 已修改"

    return _admin_action(change)


@blp.post("/admin/users/password")
@requires("admin")
def admin_set_password() -> Any:
    username = request.form.get("username", "")

    def change() -> None:
        accounts.set_password(current_session(), actor=g.principal.username, user=_user(username),
                              password=request.form.get("password", ""), now=now())
        session["message"] = f"用户 {username} 的密码已重置，其全部会话已结束"

    return _admin_action(change)


@blp.post("/admin/users/<username>/active")
@requires("admin")
def admin_set_active(username: str) -> Any:
    active = request.form.get("active") == "1"

    def change() -> None:
        accounts.update_user(current_session(), actor=g.principal.username, user=_user(username),
                             now=now(), active=active)
        session["message"] = f"用户 {username} 已{'启用' if active else '停用，其全部会话已结束'}"

    return _admin_action(change)


@blp.post("/admin/users/<username>/sessions/end")
@requires("admin")
def admin_end_sessions(username: str) -> Any:
    def end() -> None:
        accounts.end_sessions(current_session(), actor=g.principal.username, user=_user(username),
                              now=now())
        session["message"] = f"用户 {username} 的全部会话已结束"

    return _admin_action(end)


@blp.post("/admin/users/<username>/unlock")
@requires("admin")
def admin_unlock(username: str) -> Any:
    def unlock() -> None:
        accounts.find_user(current_session(), username)
        login_guard.unlock(current_session(), actor=g.principal.username, username=username, now=now())
        session["message"] = f"用户 {username} 的登录锁定已解除"

    return _admin_action(unlock)


@blp.post("/admin/tokens")
@requires("admin")
def admin_issue_token() -> Any:
    def issue() -> None:
        session["issued_token"] = accounts.issue_service_token(
            current_session(), actor=g.principal.username, username=request.form.get("username", ""),
            label=request.form.get("label") or None, now=now())

    return _admin_action(issue)


@blp.post("/admin/tokens/<int(max=2147483647):token_id>/revoke")
@requires("admin")
def admin_revoke_token(token_id: int) -> Any:
    accounts.revoke_token(current_session(), actor=g.principal.username, token_id=token_id, now=now())
    session["message"] = "令牌已吊销"
    return redirect(url_for("ui.admin"))

