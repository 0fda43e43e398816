"""Webhooks delivered to a receiver on 127.0.0.1: signed bodies, retries with backoff, in order per case, at least
once, nothing lost while the receiver is down; the injected clock moves time (no sleep)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from api import webhooks
from api.extensions import db
from api.sweep import sweep_due
from tests.conftest import Api, FrozenClock, mediation_data, shanghai

SECRET = "receiver-shared-secret-0123456789"
LOCAL = frozenset({"127.0.0.1"})


class Receiver:
    """An HTTP receiver in a thread: checks each signature, can fail the first tries or be down."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.fail_next = 0
        self.down = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get("X-Gonghui-Signature", ""), expected):
                    receiver.bad_signatures += 1
                    status = 401
                elif receiver.down:
                    status = 503
                elif receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    status = 500
                else:
                    receiver.bodies.append(json.loads(body))
                    status = 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/gonghui"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ids(self) -> list[str]:
        return [body["id"] for body in self.bodies]

    def duplicates(self) -> int:
        return len(self.ids()) - len(set(self.ids()))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def allow_local(fresh: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setitem(fresh.config, "WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    return fresh


def deliver(app: Flask, at: datetime) -> int:
    with app.app_context():
        return webhooks.deliver_due(lambda: Session(db.engine), at, allow=LOCAL)


def register(api: Api, url: str, events: list[str]) -> dict[str, Any]:
    response = api.post("/admin/webhooks", "city_admin", {"url": url, "events": events, "secret": SECRET})
    assert response.status_code == 201, response.get_json()
    assert "secret" not in response.get_json()
    return dict(response.get_json())


def test_messages_are_signed_retried_with_backoff_and_delivered_in_order_per_case(
        allow_local: Flask, api: Api, clock: FrozenClock, receiver: Receiver) -> None:
    hook = register(api, receiver.url, ["case.opened", "case.assigned", "case.closed"])
    case = api.open_case("chengdong_clerk", "mediation_case", mediation_data())
    assert api.fire(case["id"], "assign", "city_admin", {"org_unit": "cd-e001", "instruction": "请调处"}).status_code \
        == 200
    assert api.fire(case["id"], "withdraw", "ent_clerk", {"reason": "撤回"}).status_code == 200
    receiver.fail_next = 2
    start = clock()
    assert deliver(allow_local, start) == 1              # the first message fails; the others of the case wait
    assert deliver(allow_local, start + timedelta(seconds=5)) == 0    # not due again yet
    assert deliver(allow_local, start + timedelta(seconds=10)) == 1   # second try, 10 s later: fails again
    assert deliver(allow_local, start + timedelta(seconds=29)) == 0   # the next wait is 20 s
    assert deliver(allow_local, start + timedelta(seconds=30)) == 3   # delivered, then the two after it
    assert [body["type"] for body in receiver.bodies] == ["case.opened", "case.assigned", "case.closed"]
    assert receiver.bad_signatures == 0 and receiver.duplicates() == 0
    first = receiver.bodies[0]
    assert set(first) == {"id", "type", "at", "case"}
    assert first["case"]["number"] == case["number"] and first["case"]["org_unit"] == "chengdong"
    assert receiver.bodies[1]["case"]["org_unit"] == "cd-e001" and receiver.bodies[2]["case"]["state"] == "withdrawn"
    assert "331081199805201237" not in json.dumps(receiver.bodies, ensure_ascii=False)   # masked as for a viewer
    assert first["case"]["data"]["applicants"][0]["id_number"].endswith("1237")
    log = api.get(f"/admin/webhooks/{hook['id']}/deliveries", "city_admin").get_json()
    assert log["total"] == 5
    assert [item["status_code"] for item in log["items"]] == [200, 200, 200, 500, 500]
    assert [item["attempt"] for item in log["items"]] == [1, 1, 3, 2, 1]
    assert deliver(allow_local, start + timedelta(hours=1)) == 0   # nothing twice


def test_a_receiver_down_for_an_hour_loses_nothing(allow_local: Flask, api: Api, clock: FrozenClock,
                                                   receiver: Receiver) -> None:
    register(api, receiver.url, ["case.opened", "case.escalated"])
    cases = [api.open_case("ent_clerk", "mediation_case", mediation_data()) for _ in range(3)]
    receiver.down = True
    start = clock()
    for minutes in range(0, 61, 5):
        deliver(allow_local, start + timedelta(minutes=minutes))
    with allow_local.app_context():   # the sweep escalates them meanwhile: more messages queue behind
        sweep_due(lambda: Session(db.engine), allow_local.extensions["gonghui.engine"], shanghai(2026, 11, 28))
    assert receiver.bodies == []
    receiver.down = False
    deliver(allow_local, start + timedelta(minutes=61))
    deliver(allow_local, shanghai(2026, 11, 28, 1, 0))
    assert receiver.duplicates() == 0
    for case in cases:
        types = [body["type"] for body in receiver.bodies if body["case"]["id"] == case["id"]]
        assert types == ["case.opened", "case.escalated"]


def test_a_message_is_given_up_after_a_day_and_the_next_of_its_case_goes_on(
        allow_local: Flask, api: Api, clock: FrozenClock, receiver: Receiver) -> None:
    hook = register(api, receiver.url, ["case.opened", "case.closed"])
    case = api.open_case("chengdong_clerk", "mediation_case", mediation_data())
    receiver.down = True
    start = clock()
    moment = start
    while moment < start + timedelta(hours=24, minutes=30):
        deliver(allow_local, moment)
        moment += timedelta(minutes=30)
    assert api.fire(case["id"], "withdraw", "chengdong_clerk", {"reason": "撤回"}).status_code == 200
    receiver.down = False
    deliver(allow_local, moment)
    assert [body["type"] for body in receiver.bodies] == ["case.closed"]
    log = api.get(f"/admin/webhooks/{hook['id']}/deliveries?per_page=200", "city_admin").get_json()["items"]
    assert log[0]["delivered"] is True and log[1]["message_status"] == "failed"


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "ftp://hooks.example.org/x", "events": ["case.opened"]}, "url"),
    ({"url": "http://127.0.0.1:9/x", "events": ["case.opened"]}, "url"),
    ({"url": "http://10.1.2.3/x", "events": ["case.opened"]}, "url"),
    ({"url": "http://[::1]/x", "events": ["case.opened"]}, "url"),
    ({"url": "http://localhost/x", "events": ["case.opened"]}, "url"),
    ({"url": "http://169.254.169.254/latest", "events": ["case.opened"]}, "url"),
    ({"url": "https://hooks.example.org/x", "events": ["case.vanished"]}, "events"),
])
def test_unsafe_targets_and_unknown_events_are_refused(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.post("/admin/webhooks", "city_admin", {**body, "secret": SECRET})
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert api.get("/admin/webhooks", "city_admin").get_json() == []


def test_only_administrators_manage_webhooks(api: Api) -> None:
    body = {"url": "https://hooks.example.org/x", "events": ["case.opened"], "secret": SECRET}
    assert api.post("/admin/webhooks", "city_clerk", body).status_code == 403
    created = api.post("/admin/webhooks", "city_admin", body)
    assert created.status_code == 201 and created.get_json()["events"] == ["case.opened"]


def test_the_allow_list_admits_a_loopback_target(allow_local: Flask, api: Api) -> None:
    body = {"url": "http://127.0.0.1:8080/hook", "events": ["claim.paid"], "secret": SECRET}
    assert api.post("/admin/webhooks", "city_admin", body).status_code == 201


def test_the_target_is_checked_again_before_each_delivery(fresh: Flask, api: Api, clock: FrozenClock,
                                                          receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(fresh.config, "WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    hook = register(api, receiver.url, ["case.opened"])
    api.open_case("chengdong_clerk", "mediation_case", mediation_data())
    with fresh.app_context():   # the allow-list was narrowed since: the delivery is refused, not sent
        webhooks.deliver_due(lambda: Session(db.engine), clock(), allow=frozenset())
    assert receiver.bodies == []
    (attempt,) = api.get(f"/admin/webhooks/{hook['id']}/deliveries", "city_admin").get_json()["items"]
    assert attempt["status_code"] is None and "127.0.0.1" in attempt["error"]


def test_gonghui_webhooks_deliver_delivers_what_is_due(allow_local: Flask, api: Api, receiver: Receiver,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import cli

    monkeypatch.setenv("GONGHUI_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    register(api, receiver.url, ["case.opened"])
    api.open_case("chengdong_clerk", "mediation_case", mediation_data())
    result = allow_local.test_cli_runner().invoke(cli, ["webhooks", "deliver", "--at", "2026-11-24T10:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "1 delivery attempt(s)" in result.output
    assert [body["type"] for body in receiver.bodies] == ["case.opened"]


def test_the_scheduler_job_delivers_with_the_app_clock_and_settings(allow_local: Flask, api: Api,
                                                                    receiver: Receiver) -> None:
    from api.scheduler import run_deliveries

    register(api, receiver.url, ["case.opened"])
    api.open_case("chengdong_clerk", "mediation_case", mediation_data())
    assert run_deliveries(allow_local) == 1
    assert run_deliveries(allow_local) == 0
    assert [body["type"] for body in receiver.bodies] == ["case.opened"] and receiver.bad_signatures == 0
