"""Signing in and out, who is signed in, and what every page has.

The user comes from the session cookie (HttpOnly, SameSite=Lax; ``api.sessions``). Every form carries the CSRF
token of Flask-WTF (``csrf_token()``; checked for every page by ``CSRFProtect``, see ``api.extensions``): a form
sent with a missing or stale token, or after the session expired, keeps what was typed — signed out, the login
page carries it and, once signed in, the form comes back filled in; signed in, it comes back now. The pages
whose forms may be kept register the page that shows them again (``replayable``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from api import accounts, auth, forms, login_guard, ownership, passwords, ratelimit, sessions
from api.clock import now
from api.extensions import current_session, db
from api.models import User
from api.present import engine, local
from api.redirects import local_path
from api.ui import blp
from api.ui import errors as ui_errors
from api.ui import words as ui_words
from api.ui.labels import LEVELS, ROLES, choice_label, field_label
from workflow.errors import InvalidData

# ---- what every page has -----------------------------------------------------------------------------


@blp.app_template_filter("label")
def _label(name: str) -> str:
    return field_label(name)


@blp.app_template_filter("choice")
def _choice(value: Any) -> str:
    return choice_label(value)


@blp.app_template_filter("deadline")
def _deadline(moment: datetime | None) -> str:
    return ui_words.deadline_words(moment, now())


@blp.app_template_filter("moment")
def _moment(moment: datetime | None) -> str:
    return ui_words.moment_words(moment)


@blp.app_template_global("error_summary")
def _error_summary(errors: dict[str, list[str]], described: list[forms.FormField]) -> list[tuple[str | None, str]]:
    return ui_errors.summary(errors, described)


@blp.app_template_filter("local")
def _local(moment: datetime | None) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


@blp.context_processor
def _context() -> dict[str, Any]:
    principal = g.get("principal")
    return {"principal": principal, "LEVELS": LEVELS, "ROLES": ROLES, "me": g.get("me"),
            "lifecycles": engine().catalog.latest(),
            "unread_notifications": ownership.unread_count(current_session(), principal.user_id) if principal else 0}


def _sign_in_from_cookie() -> None:
    user = sessions.user_of_cookie(current_session())   # None once signed out, deactivated or sessions ended
    if user is not None:
        g.principal, g.me = auth.Principal.of(user), ui_words.person(user)


@blp.before_request
def _before() -> Any:
    """(The CSRF token was checked before this, by ``CSRFProtect``.) A page needs a signed-in user."""
    _sign_in_from_cookie()
    if g.get("principal") is None and request.endpoint not in ("ui.login", "ui.static"):
        return redirect(url_for("ui.login", next=request.full_path))   # the form is not read before sign-in
    return None


View = TypeVar("View", bound=Callable[..., Any])


def requires(*roles: str) -> Callable[[View], View]:
    """A page for holders of one of ``roles`` (anyone else: 403, in words)."""
    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not g.principal.roles & set(roles):
                return render_template("ui/error.html", status=403, message="您没有此项操作的权限。"), 403
            return view(*args, **kwargs)
        return cast(View, wrapped)
    return decorate


def not_found() -> Any:
    """The clerk pages' 404 (the app's one 404 handler, ``api.problems``, sends page addresses here)."""
    return render_template("ui/error.html", status=404, message="页面或案件不存在，或不在您的管辖范围内。"), 404


# ---- expired forms, kept -------------------------------------------------------------------------------

REPLAY_PREFIX = "replay."
# (view args, what was typed, notice) → the form's page filled in again
Restorer = Callable[[Mapping[str, Any], MultiDict[str, str], str], Any]


def restorers() -> dict[str, Restorer]:
    """The forms kept through an expired session, by endpoint, each with the page that shows it again."""
    from api.ui import cases, counter

    return {"ui.fire": cases.restore_fire, "ui.new_case": cases.restore_new_case, "ui.counter": counter.restore_counter}


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin.rstrip("/") == request.host_url.rstrip("/")


@blp.errorhandler(CSRFError)
def _expired_form(_error: CSRFError) -> Any:
    """A form sent after the session expired (or with a stale token) keeps what was typed: signed out, the
    login page carries it and, once signed in, the form comes back filled in; signed in, it comes back now."""
    _sign_in_from_cookie()
    if request.endpoint == "ui.login" and _same_origin():
        kept = [(name, value) for name, value in request.form.items(multi=True) if name.startswith(REPLAY_PREFIX)]
        return render_template("ui/login.html", error="页面已过期，请再登录一次。", next=request.args.get("next"),
                               replay=[(name.removeprefix(REPLAY_PREFIX), value) for name, value in kept],
                               replay_path=request.form.get("replay_path")), 400
    if request.endpoint not in restorers() or not _same_origin():
        return render_template("ui/error.html", status=400, message="表单已过期，请刷新页面后重试。"), 400
    kept = [(name, value) for name, value in request.form.items(multi=True) if name != "csrf_token"]
    if g.get("principal") is None:
        return render_template("ui/login.html", replay=kept, replay_path=request.path,
                               notice="登录已过期，请重新登录。您填写的内容已保留，登录后请核对并提交。",
                               next=request.path), 401
    return _restore(request.path, kept, "页面已过期，您填写的内容已保留，请核对后重新提交。")


def _restore(path: str, kept: list[tuple[str, str]], notice: str) -> Any:
    """The page of a form, filled in with what was typed before the session expired."""
    try:
        endpoint, view_args = current_app.url_map.bind("localhost").match(path, method="POST")
    except HTTPException:
        return redirect(url_for("ui.worklist"))
    restore = restorers().get(str(endpoint))
    if restore is None:
        return redirect(url_for("ui.worklist"))
    return restore(view_args, MultiDict(kept), notice)


# ---- sign-in ---------------------------------------------------------------------------------------

@blp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        try:
            user = login_guard.sign_in(request.form.get("username", ""), request.form.get("password", ""),
                                       request.remote_addr, now())
        except ratelimit.Throttled as refusal:
            return render_template("ui/login.html", error=refusal.description), 429, \
                {"Retry-After": str(refusal.retry_after)}
        kept = [(name.removeprefix(REPLAY_PREFIX), value) for name, value in request.form.items(multi=True)
                if name.startswith(REPLAY_PREFIX)]
        if user is not None:
            sessions.start(user)
            if request.form.get("replay_path"):
                g.principal, g.me = auth.Principal.of(user), ui_words.person(user)
                return _restore(request.form["replay_path"], kept,
                                "已重新登录。您此前填写的内容已恢复，请核对后提交。")
            return redirect(local_path(request.args.get("next"), url_for("ui.worklist")))
        error = "用户名或密码错误"
        if request.form.get("replay_path"):
            return render_template("ui/login.html", error=error, replay=kept, next=request.args.get("next"),
                                   replay_path=request.form["replay_path"]), 401
    return render_template("ui/login.html", error=error), 401 if error else 200


@blp.post("/logout")
def logout() -> Any:
    """Sign out everywhere: every browser session and session token of the user ends (a copied cookie too)."""
    user = db.session.get(User, g.principal.user_id)
    if user is not None:
        sessions.end_all(current_session(), user)
    session.clear()
    return redirect(url_for("ui.login"))


@blp.get("/")
def home() -> Any:
    return redirect(url_for("ui.worklist"))


# ---- one's own password -----------------------------------------------------------------------------------

@blp.route("/account/password", methods=["GET", "POST"])
def account_password() -> Any:
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if request.form.get("new_password", "") != request.form.get("confirm_password", ""):
            errors = {"confirm_password": ["两次输入的新密码不一致"]}
        else:
            user = db.session.get(User, g.principal.user_id)
            assert user is not None
            try:
                accounts.change_own_password(current_session(), user=user,
                                             current=request.form.get("current_password", ""),
                                             new=request.form.get("new_password", ""), now=now())
            except InvalidData as error:
                db.session.rollback()
                errors = error.errors
            else:
                session.clear()
                return render_template("ui/password.html", done=True, errors={}, password_rule=passwords.RULE)
    return render_template("ui/password.html", done=False, errors=errors, password_rule=passwords.RULE), \
        422 if errors else 200
