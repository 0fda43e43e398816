"""Concurrency and faults on PostgreSQL: many clerks at once lose no update; a worker killed mid-request
leaves no half-written case; the database going away is answered 503 and recovered from by itself."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from api.audit import verify
from api.extensions import db
from api.models import Case, CaseHistory
from tests.conftest import Api, mediation_data

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
EVENT_DATA = {
    "accept": {"mediator": "李调解"}, "extend": {"parties_consent": True, "days": 10},
    "agree": {"agreement": {"terms": "分期支付", "amount": "100.00", "perform_by": "2026-12-31"}},
    "fail": {"reason": "拒绝调解"}, "reject": {"reason": "不属受理范围"}, "withdraw": {"reason": "撤回"},
    "fulfil": {}, "breach": {},   # (no escalate: the case would leave the clerk's scope)
}


def assert_no_lost_update(app: Flask) -> int:
    """Every case's history is gapless and ends at the case's version; returns the fired events."""
    with app.app_context():
        fired = 0
        for case in db.session.scalars(sa.select(Case)):
            seqs = list(db.session.scalars(sa.select(CaseHistory.seq).where(CaseHistory.case_id == case.id)
                                           .order_by(CaseHistory.seq)))
            assert seqs == list(range(1, case.version + 1)), (case.number, seqs, case.version)
            fired += case.version - 1
        assert list(verify(db.session)) == []
        return fired


def test_sixteen_clerks_firing_at_twenty_cases_lose_no_update(fresh: Flask, api: Api) -> None:
    ids = [api.open_case("chengdong_mediator", "mediation_case", mediation_data())["id"] for _ in range(20)]
    token = api.token("chengdong_mediator")
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    operations = int(os.environ.get("CONCURRENCY_OPERATIONS", "25"))   # per thread

    def clerk(seed: int) -> None:
        rng = random.Random(seed)
        client = fresh.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(operations):
            case = client.get(f"/api/v1/cases/{rng.choice(ids)}", headers=headers).get_json()
            allowed = [event for event in case["allowed_events"] if event in EVENT_DATA]
            if not allowed:
                continue
            event = rng.choice(allowed)
            response = client.post(f"/api/v1/cases/{case['id']}/events/{event}", json={"data": EVENT_DATA[event]},
                                   headers={**headers, "If-Match": f'"{case["version"]}"'})
            with lock:
                statuses[response.status_code] += 1

    threads = [threading.Thread(target=clerk, args=(seed,)) for seed in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {200, 409, 412}, statuses
    assert statuses[200] == assert_no_lost_update(fresh)
    assert statuses[200] > 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_worker_killed_mid_request_leaves_no_half_written_case(fresh: Flask, api: Api) -> None:
    ids = [api.open_case("chengdong_mediator", "mediation_case", mediation_data())["id"] for _ in range(10)]
    for case_id in ids:
        api.fire(case_id, "accept", "chengdong_mediator", {"mediator": "李调解"})
    # gunicorn runs on the real clock: a service token does not expire
    token = api.post("/admin/tokens", "city_admin", {"username": "chengdong_mediator"}).get_json()["token"]
    with fresh.app_context():
        db.session.commit()
    with gunicorn(fresh.config["SQLALCHEMY_DATABASE_URI"]) as (server, base):
        stop = threading.Event()
        outcomes: Counter[str] = Counter()
        threads = [threading.Thread(target=extend_at_random, args=(base, token, ids, stop, outcomes))
                   for _ in range(6)]
        for thread in threads:
            thread.start()
        killed = kill_each_worker_in_flight(server, outcomes)
        stop.set()
        for thread in threads:
            thread.join()
    assert killed == 2 and outcomes["200"] > 0, outcomes
    assert set(outcomes) <= {"200", "409", "cut", "502", "503"}, outcomes
    assert assert_no_lost_update(fresh) >= outcomes["200"]


@contextlib.contextmanager
def gunicorn(database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The app served by gunicorn (2 workers of 2 threads) on a free port, once it answers /healthz."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url, "GONGHUI_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "2",
                               "--no-control-socket", "--bind", f"127.0.0.1:{port}", "api.wsgi:app"],
                              env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 (loopback)
                break
            except OSError:
                time.sleep(0.05)
        yield server, base
    finally:
        server.terminate()
        server.wait(timeout=30)


def extend_at_random(base: str, token: str, ids: list[int], stop: threading.Event, outcomes: Counter[str]) -> None:
    """Extend one of the cases after another until ``stop``, counting the answers (or the cut connections)."""
    rng = random.Random()
    while not stop.is_set():
        request = urllib.request.Request(
            f"{base}/api/v1/cases/{rng.choice(ids)}/events/extend", method="POST",
            data=b'{"data": {"parties_consent": true, "days": 10}}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (loopback)
                outcomes[str(answer.status)] += 1
        except urllib.error.HTTPError as error:
            outcomes[str(error.code)] += 1
        except OSError:
            outcomes["cut"] += 1   # the killed worker's connection


def kill_each_worker_in_flight(server: subprocess.Popen[bytes], outcomes: Counter[str]) -> int:
    """kill -9 each of the server's workers while requests are in flight (40 answers apart), then wait for 40
    answers more; the workers killed."""
    killed = 0
    workers = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True,
                                                  text=True).stdout.split()]
    for pid in workers:
        while sum(outcomes.values()) < 40 * (killed + 1):
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        killed += 1
    while sum(outcomes.values()) < 40 * (killed + 2):
        time.sleep(0.01)
    return killed


class Proxy:
    """A TCP proxy to PostgreSQL that the test can cut and restore, standing in for a database restart."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.close()
                except OSError:
                    pass

    def cut(self) -> None:
        self.up = False
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.connections.clear()

    def restore(self) -> None:
        self.up = True


def test_healthz_is_503_while_the_database_is_away_and_recovers_by_itself(fresh: Flask) -> None:
    from api import create_app

    url = sa.make_url(fresh.config["SQLALCHEMY_DATABASE_URI"])
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    app = create_app({"SQLALCHEMY_DATABASE_URI": url.set(host="127.0.0.1", port=proxy.port)
                      .render_as_string(hide_password=False), "TESTING": True})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    proxy.cut()
    down = client.get("/healthz")
    assert down.status_code == 503 and down.get_json()["database"] == "unreachable"
    proxy.restore()
    assert client.get("/healthz").status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_a_sweep_during_an_outage_is_logged_and_retried(fresh: Flask, api: Api, caplog: Any) -> None:
    from api import create_app, scheduler

    api.open_case("ent_clerk", "mediation_case", mediation_data())
    url = sa.make_url(fresh.config["SQLALCHEMY_DATABASE_URI"])
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    from tests.conftest import shanghai

    app = create_app({"SQLALCHEMY_DATABASE_URI": url.set(host="127.0.0.1", port=proxy.port)
                      .render_as_string(hide_password=False), "CLOCK": lambda: shanghai(2026, 11, 28, 1),
                      "AUDIT_KEY_FILE": fresh.config["AUDIT_KEY_FILE"],
                      "AUDIT_CHECKPOINTS": fresh.config["AUDIT_CHECKPOINTS"]})
    proxy.cut()
    assert scheduler.run_sweep(app) == 0
    assert "sweep failed, retrying at the next interval: OperationalError" in caplog.text
    assert "connection" not in caplog.text.split("retrying at the next interval:")[1].splitlines()[0]  # no message
    proxy.restore()
    assert scheduler.run_sweep(app) == 1
    with app.app_context():
        db.engine.dispose()
