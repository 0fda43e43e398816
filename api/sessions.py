"""Sign-in state that the server can end: a per-user session generation.

The browser's session cookie carries the generation its user had at sign-in, and so does every session
token; each request compares it with the user's current one. Raising the generation (``end_all``) ends at
once every browser session and session token of the user: sign-out, a new password, deactivation, or an
administrator's 结束全部会话. A copied cookie is worth nothing after that. Service tokens are revoked one by one.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, Request, g
from flask import session as cookie
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy.orm import Session

from api.models import User


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; a request that sends no session cookie (every API call: they carry bearer
    tokens) gets an empty session without the cookie's signer being built for it."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def start(user: User) -> None:
    """A fresh browser session for ``user`` (nothing of the previous one kept, not even its CSRF token: the
    next form gets a new one)."""
    cookie.clear()
    g.pop("csrf_token", None)   # Flask-WTF's token of this request, made for the session just cleared
    cookie["user_id"], cookie["gen"] = user.id, user.session_generation or 0


def user_of_cookie(session: Session) -> User | None:
    """The signed-in user of this browser, while the account is active and the session not ended."""
    user_id = cookie.get("user_id")
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or not user.active or cookie.get("gen") != user.session_generation:
        cookie.clear()
        return None
    return user


def end_all(session: Session, user: User) -> None:
    """End every browser session and session token of ``user`` (one atomic increment)."""
    session.execute(sa.update(User).where(User.id == user.id)
                    .values(session_generation=User.session_generation + 1)
                    .execution_options(synchronize_session=False))
    session.expire(user, ["session_generation"])
