"""Look-ups without an account: an applicant's claim (number + last six characters of the ID number) and a
reporter's worker report (number + secret). The API and the public pages call these same functions.

Every miss looks the same (``None``: the caller answers one 404), and misses are limited per number and
per client address, so that neither a number nor a client can be used to guess: 5 misses per number and 20
per client per hour (``GONGHUI_LOOKUP_NUMBER_LIMIT``, ``GONGHUI_LOOKUP_CLIENT_LIMIT``,
``GONGHUI_LOOKUP_WINDOW_SECONDS``). Once either is spent every attempt — right or wrong — raises
``ratelimit.Throttled`` (429 with ``Retry-After``) until the window ends.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api import ratelimit
from api.models import Case
from api.models_reports import ReportSecret

CLAIM_NOT_FOUND = "没有找到该申请（请核对申请编号和身份证号后六位）"
REPORT_NOT_FOUND = "未找到，请核对编号和查询码"
TOO_MANY_MISSES = "查询未命中的次数过多，请稍后再试"


def _budgets(kind: str, number: str, client: str | None) -> list[tuple[str, int]]:
    # (a number is at most 32 characters; a longer one cannot exist and must not overflow the key)
    return [(f"lookup-{kind}:{number[:40]}", ratelimit.setting("LOOKUP_NUMBER_LIMIT", 5)),
            (f"lookup-client:{client}", ratelimit.setting("LOOKUP_CLIENT_LIMIT", 20))]


def _guarded(session: Session, kind: str, number: str, client: str | None, now: datetime,
             find: Callable[[], Case | None]) -> Case | None:
    """``find()`` unless a budget is spent; a miss (None) is counted against the number and the client."""
    window = timedelta(seconds=ratelimit.setting("LOOKUP_WINDOW_SECONDS", 3600))
    budgets = _budgets(kind, number, client)
    for key, limit in budgets:
        retry = ratelimit.spent(session, key, now, limit=limit, window=window)
        if retry is not None:
            raise ratelimit.Throttled(TOO_MANY_MISSES, retry)
    found = find()
    if found is None:
        for key, limit in budgets:
            ratelimit.hit(session, key, now, limit=limit, window=window)
    return found


def _case(session: Session, number: str, definition_key: str) -> Case | None:
    return session.scalar(sa.select(Case).where(Case.number == number, Case.definition_key == definition_key))


# ---- claims ---------------------------------------------------------------------------------------------

def find_claim_for_applicant(session: Session, number: str, id_last6: str, *, client: str | None,
                             now: datetime) -> Case | None:
    """The claim ``number`` when its member's ID number ends with ``id_last6`` (case of the X ignored)."""
    from api.lifecycles.medical_aid_claim import KEY

    def find() -> Case | None:
        case = _case(session, number, KEY)
        id_number = str(case.data.get("member", {}).get("id_number", "")) if case is not None else ""
        given = id_last6.strip().upper()
        if case is None or len(given) != 6 or not hmac.compare_digest(id_number[-6:].upper(), given):
            return None
        return case

    return _guarded(session, "claim", number, client, now, find)


def claim_status_for_applicant(session: Session, number: str, id_last6: str, *, client: str | None,
                               now: datetime) -> dict[str, Any] | None:
    """The applicant's look-up in one call: the status, or None for any miss (raises ``Throttled``)."""
    case = find_claim_for_applicant(session, number, id_last6, client=client, now=now)
    from api.self_service import claim_status

    return claim_status(case) if case is not None else None


# ---- worker reports -------------------------------------------------------------------------------------

def secret_digest(secret: str) -> str:
    """What is stored of a reporter's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def find_report_for_reporter(session: Session, number: str, secret: str, *, client: str | None,
                             now: datetime) -> Case | None:
    """The worker report ``number`` when ``secret`` is the one its reporter was given."""
    from api.lifecycles.worker_report import KEY

    def find() -> Case | None:
        case = _case(session, number, KEY)
        stored = session.get(ReportSecret, case.id) if case is not None else None
        if stored is None or not hmac.compare_digest(stored.secret_hash, secret_digest(secret)):
            return None
        return case

    return _guarded(session, "report", number, client, now, find)


def report_status_for_reporter(session: Session, number: str, secret: str, *, client: str | None,
                               now: datetime) -> dict[str, Any] | None:
    """The reporter's look-up in one call: the status, or None for any miss (raises ``Throttled``)."""
    case = find_report_for_reporter(session, number, secret, client=client, now=now)
    from api.self_service import report_status

    return report_status(case, now) if case is not None else None
