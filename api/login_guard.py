"""Sign-in with throttling, for the API's ``/auth/token`` and the sign-in page alike.

Two budgets, counted in the database so that every process shares them:
- attempts per username and client address: 10 per 5 minutes (``GONGHUI_LOGIN_LIMIT``, ``..._WINDOW_SECONDS``);
- failures per username from any address: 20 per hour (``GONGHUI_LOGIN_FAILURE_LIMIT``,
  ``..._WINDOW_SECONDS``). Once spent, the account is locked until the hour ends, even for the right
  password, and a notice goes to the administrators' log (action ``user.locked_out``), shown on the 管理 page,
  where an administrator can lift the lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from api import admin_log, auth, ratelimit
from api.extensions import current_session, db
from api.models import User

LOCKED = "该账号登录失败次数过多，已暂时锁定；请稍后再试，或请管理员解除锁定"
TOO_OFTEN = "登录尝试过于频繁，请稍后再试"


def _failures_key(username: str) -> str:
    return f"login-failures:{username[:64]}"


def _failure_budget() -> tuple[int, timedelta]:
    return (ratelimit.setting("LOGIN_FAILURE_LIMIT", 20),
            timedelta(seconds=ratelimit.setting("LOGIN_FAILURE_WINDOW_SECONDS", 3600)))


def sign_in(username: str, password: str, address: str | None, now: datetime) -> User | None:
    """The user, when the password is right and no budget is spent; None for wrong credentials.

    Raises ``ratelimit.Throttled`` (429 with Retry-After) when the username is locked or this address has
    tried too often."""
    limit, window = _failure_budget()
    locked = ratelimit.spent(current_session(), _failures_key(username), now, limit=limit, window=window)
    if locked is not None:
        raise ratelimit.Throttled(LOCKED, locked)
    retry = ratelimit.hit(current_session(), f"login:{username[:64]}:{address}", now,
                          limit=ratelimit.setting("LOGIN_LIMIT", 10),
                          window=timedelta(seconds=ratelimit.setting("LOGIN_WINDOW_SECONDS", 300)))
    if retry is not None:
        raise ratelimit.Throttled(TOO_OFTEN, retry)
    user = auth.verify_credentials(username, password)
    if user is None:
        _count_failure(username, now, limit, window)
    return user


def _count_failure(username: str, now: datetime, limit: int, window: timedelta) -> None:
    """One more failure for ``username``; the one that spends the budget writes the lockout notice (the
    budget was not spent when this attempt began)."""
    ratelimit.hit(current_session(), _failures_key(username), now, limit=limit, window=window)
    if ratelimit.spent(current_session(), _failures_key(username), now, limit=limit, window=window) is None:
        return
    with Session(db.engine) as own:  # kept although the failed request rolls back
        if own.scalar(sa.select(User.id).where(User.username == username)) is None:
            return
        admin_log.record(own, actor="system", action="user.locked_out", target=username, at=now,
                         after={"failures": limit, "window_seconds": int(window.total_seconds())})
        own.commit()
    current_app.logger.warning("sign-in locked for %s after %s failures", username, limit)


def locked_usernames(session: Session, now: datetime) -> list[dict[str, object]]:
    """The lockout notices of the current window that no administrator has lifted yet (for the 管理 page)."""
    _, window = _failure_budget()
    entries, _ = admin_log.entries(session, action="user.locked_out", since=now - window, per_page=100)
    notices = []
    for entry in entries:
        if ratelimit.spent(session, _failures_key(entry.target), now, limit=_failure_budget()[0],
                           window=window) is not None:
            notices.append({"username": entry.target, "at": entry.at})
    return notices


def unlock(session: Session, *, actor: str, username: str, now: datetime) -> None:
    """An administrator lifts the lock of ``username``."""
    ratelimit.forget(session, _failures_key(username))
    admin_log.record(session, actor=actor, action="user.unlocked", target=username, at=now)
