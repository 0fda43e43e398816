"""The roster import of the web page as a job whose progress another request can read (the page's bar).

The upload's own request runs the import, as one transaction, as before; nothing runs in the background and
no second process is needed. Around it:

- :func:`start` writes the job's row (``roster_imports``) and commits it at once, in a short transaction of
  its own, before the import writes anything, so that the page polling the job finds it;
- :class:`JobProgress`, handed to ``roster.import_roster`` as its ``progress``, records rows read, accepted
  and rejected every few hundred rows where a poll sees them: on PostgreSQL in the job's row, each time in a
  short transaction of its own connection (it touches only that row, which the import's transaction never
  locks before it ends); on SQLite, whose single writer is the import's open transaction until it commits,
  in a table in this process's memory (SQLite serves one process);
- :func:`finish` writes the result into the job's row in the import's own transaction, so a job reads
  ``done`` exactly when what it imported is committed; :func:`fail` marks it failed (after the rollback);
- :func:`status` is what the poll answers; a running job not heard of for ``STALLED_AFTER`` (its process
  died, its commit failed) reads ``stalled``.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import Principal
from api.extensions import db
from api.models import OrgUnit
from api.models_roster import RosterImport
from api.roster import ImportResult, Progress, Roster

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")
STALLED_AFTER = timedelta(minutes=5)
ROLES = frozenset({"clerk", "admin"})
CASE_NUMBERS_KEPT = 20      # the result page links the first cases opened; the count is kept whole
REJECTED_KEPT = 500         # the result page lists the first rejected rows; all of them are in the CSV


def new_token() -> str:
    return secrets.token_urlsafe(16)


def start(token: str | None, principal: Principal, filename: str, now: datetime) -> str:
    """Write the job's row (running) and commit it in a transaction of its own; its token. The page names
    the token it will poll (``token``); one not well formed or already used is replaced by a new one."""
    for _ in range(3):
        if token is None or not TOKEN.fullmatch(token):
            token = new_token()
        try:
            with Session(db.engine) as own:
                own.add(RosterImport(token=token, username=principal.username, org_unit_id=principal.org_unit_id,
                                     filename=filename[:200], status="running", rows_read=0, rows_rejected=0,
                                     started_at=now, updated_at=now))
                own.commit()
            return token
        except IntegrityError:
            token = None
    raise RuntimeError("no free token for a roster import")   # three random tokens taken: not reached


class _Board:
    """The progress of the imports running in this process (SQLite only), by token; the oldest are dropped."""

    SIZE = 200

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def put(self, token: str, values: dict[str, Any]) -> None:
        with self._lock:
            self._jobs[token] = values
            self._jobs.move_to_end(token)
            while len(self._jobs) > self.SIZE:
                self._jobs.popitem(last=False)

    def get(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._jobs.get(token)
            return dict(found) if found is not None else None

    def drop(self, token: str) -> None:
        with self._lock:
            self._jobs.pop(token, None)


BOARD = _Board()


def _shared() -> bool:
    """Whether a second connection may write while the import's transaction is open (not on SQLite)."""
    return db.engine.dialect.name != "sqlite"


class JobProgress:
    """``roster.import_roster``'s ``progress``: rows read, rejected and the file's total, where a poll reads
    them (see the module's docstring)."""

    def __init__(self, token: str, roster: Roster, clock: Any) -> None:
        self.token, self.roster, self.clock = token, roster, clock
        self.shared = _shared()

    def __call__(self, progress: Progress) -> None:
        if progress.done:
            return   # the result is written by the import's own transaction (``finish``)
        values = {"rows_read": progress.read, "rows_rejected": progress.rejected, "rows_total": self.roster.total,
                  "updated_at": self.clock()}
        if not self.shared:
            BOARD.put(self.token, values)
            return
        with db.engine.begin() as connection:
            connection.execute(sa.update(RosterImport).where(RosterImport.token == self.token,
                                                             RosterImport.status == "running").values(**values))


def finish(session: Session, token: str, result: ImportResult, now: datetime) -> None:
    """The result, written by the import's own transaction (it commits with what was imported)."""
    summary = result.summary()
    kept = {**summary, "case_numbers": summary["case_numbers"][:CASE_NUMBERS_KEPT],
            "rejected": summary["rejected"][:REJECTED_KEPT], "candidates": []}
    report = result.rejected_csv()
    result.rejected.close()
    session.execute(sa.update(RosterImport).where(RosterImport.token == token).values(
        status="done", rows_total=result.rows, rows_read=result.rows, rows_rejected=result.rejected.count,
        result=kept, rejected_csv=report, updated_at=now, finished_at=now))


def fail(token: str, problem: str, now: datetime) -> None:
    """Mark the job failed, in a transaction of its own (the import's was rolled back)."""
    with Session(db.engine) as own:
        own.execute(sa.update(RosterImport).where(RosterImport.token == token).values(
            status="failed", problem=problem[:500], updated_at=now, finished_at=now))
        own.commit()
    BOARD.drop(token)


def may_see(principal: Principal) -> bool:
    """Street and city clerks and administrators import rosters and follow their imports."""
    return principal.level != "enterprise" and bool(principal.roles & ROLES)


def find(session: Session, principal: Principal, token: str) -> RosterImport | None:
    """The job, if ``principal`` may see it: one started at the caller's unit or a unit below."""
    if not may_see(principal) or not TOKEN.fullmatch(token):
        return None
    return session.scalar(sa.select(RosterImport).join(OrgUnit, RosterImport.org_unit_id == OrgUnit.id).where(
        RosterImport.token == token, OrgUnit.path.startswith(principal.org_path, autoescape=True)))


def recent(session: Session, principal: Principal, limit: int = 10) -> list[RosterImport]:
    """The latest jobs the caller may see, newest first."""
    if not may_see(principal):
        return []
    return list(session.scalars(sa.select(RosterImport).join(OrgUnit, RosterImport.org_unit_id == OrgUnit.id)
                                .where(OrgUnit.path.startswith(principal.org_path, autoescape=True))
                                .order_by(RosterImport.started_at.desc(), RosterImport.id.desc()).limit(limit)))


def status(job: RosterImport, now: datetime) -> dict[str, Any]:
    """How far the job is, as the page's poll answers it: ``status`` running | done | failed | stalled, rows
    read of the total, accepted and rejected, and ``percent`` (of rows read; None while the total is unknown)."""
    values: dict[str, Any] = {"rows_total": job.rows_total, "rows_read": job.rows_read,
                              "rows_rejected": job.rows_rejected, "updated_at": job.updated_at}
    state = job.status
    if state == "running":
        live = BOARD.get(job.token)
        if live is not None and live["rows_read"] >= values["rows_read"]:
            values.update(live)
        if now - values["updated_at"] >= STALLED_AFTER:
            state = "stalled"
    else:
        BOARD.drop(job.token)
    total, read = values["rows_total"], values["rows_read"]
    percent: int | None = None   # while the file's rows are not counted yet
    if state == "done":
        percent = 100
    elif total is not None:
        percent = min(99, read * 100 // total) if total else 0
    return {"status": state, "rows_total": total, "rows_read": read, "rows_accepted": read - values["rows_rejected"],
            "rows_rejected": values["rows_rejected"], "percent": percent, "problem": job.problem}
