"""Several sweeper processes over the same due timers on PostgreSQL: every timer fires exactly once,
also when a sweeper is killed (kill -9) in the middle of its work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
import sqlalchemy as sa
from flask import Flask

from api.auth import Principal
from api.cases import OpenRequest, open_case
from api.extensions import db
from api.models import Case, CaseHistory, Timer, User
from tests.conftest import mediation_data

pytestmark = pytest.mark.postgres
DUE_AT = "2026-11-28T00:00:00+08:00"


def open_many(app: Flask, count: int) -> None:
    """``count`` unaccepted cases at an enterprise, all due at the end of 2026-11-27."""
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "ent_clerk"))
        principal = Principal.of(user)
        engine = app.extensions["gonghui.engine"]
        now = app.config["CLOCK"]()
        request = OpenRequest("mediation_case", None, mediation_data())
        for _ in range(count):
            open_case(db.session, engine, principal, request, now)
        db.session.commit()


def sweeper(app: Flask, batch: int = 100) -> subprocess.Popen[str]:
    environment = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "api.cli", "sweep", "--at", DUE_AT, "--batch", str(batch)],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def escalations(app: Flask) -> Counter[int]:
    with app.app_context():
        rows = db.session.scalars(sa.select(CaseHistory.case_id).where(CaseHistory.event == "escalate"))
        return Counter(rows)


def assert_each_fired_once(app: Flask, count: int) -> None:
    assert escalations(app) == Counter({case_id: 1 for case_id in range(1, count + 1)})
    with app.app_context():
        pending = db.session.scalar(sa.select(sa.func.count()).select_from(Timer).where(
            Timer.status == "pending", Timer.due_at <= sa.func.cast(DUE_AT, sa.DateTime(timezone=True))))
        assert pending == 0
        levels = dict(db.session.execute(sa.select(Case.level, sa.func.count()).group_by(Case.level)).all())
        assert levels == {"street": count}


def test_two_sweeper_processes_fire_each_of_2000_timers_exactly_once(fresh: Flask) -> None:
    open_many(fresh, 2000)
    processes = [sweeper(fresh), sweeper(fresh)]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes)
    fired = [line for output in outputs for line in output.splitlines() if "escalated to chengdong" in line]
    assert len(fired) == 2000
    assert all(" escalate " in line or "escalate" in line for line in fired)
    assert_each_fired_once(fresh, 2000)


def test_a_sweeper_killed_mid_batch_loses_and_doubles_nothing(fresh: Flask) -> None:
    open_many(fresh, 600)
    victim = sweeper(fresh, batch=50)
    assert victim.stdout is not None
    seen = 0
    for line in victim.stdout:  # wait until it is well into the batch, then kill it without warning
        seen += "escalated" in line
        if seen >= 150:
            break
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    half_done = sum(escalations(fresh).values())
    assert 150 <= half_done < 600
    assert max(escalations(fresh).values()) == 1
    survivor = sweeper(fresh)
    survivor.communicate(timeout=300)
    assert survivor.returncode == 0
    assert_each_fired_once(fresh, 600)


def test_two_sweepers_and_clerks_at_once_fire_every_timer_once(fresh: Flask) -> None:
    """While two sweepers escalate, clerks accept some of the same cases: each case is either accepted or
    escalated once (or accepted after its escalation), never escalated twice, and no update is lost."""
    import threading

    from api.auth import issue_token
    from tests.integration.test_reliability import assert_no_lost_update

    open_many(fresh, 400)
    with fresh.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "chengdong_mediator"))
        token, _ = issue_token(user, kind="service")
        db.session.commit()
    processes = [sweeper(fresh, batch=50), sweeper(fresh, batch=50)]
    statuses: Counter[int] = Counter()
    assert processes[0].stdout is not None
    processes[0].stdout.readline()   # the clerks start once the sweepers are escalating, whatever their start-up costs

    def clerk(offset: int) -> None:
        client = fresh.test_client()
        for case_id in range(1 + offset, 401, 4):
            response = client.post(f"/api/v1/cases/{case_id}/events/accept", json={"data": {"mediator": "李"}},
                                   headers={"Authorization": f"Bearer {token}"})
            statuses[response.status_code] += 1

    clerks = [threading.Thread(target=clerk, args=(offset,)) for offset in range(4)]
    for thread in clerks:
        thread.start()
    for thread in clerks:
        thread.join()
    for process in processes:
        process.communicate(timeout=300)
    assert set(statuses) <= {200, 409}, statuses   # a case escalated to 城东 stays in the mediator's scope
    assert max(escalations(fresh).values(), default=0) == 1
    assert_no_lost_update(fresh)
    with fresh.app_context():
        pending = db.session.scalar(sa.select(sa.func.count()).select_from(Timer).where(
            Timer.status == "pending", Timer.state == "registered",
            Timer.due_at <= sa.func.cast(DUE_AT, sa.DateTime(timezone=True))))
        assert pending == 0
