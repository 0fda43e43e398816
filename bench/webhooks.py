"""Webhook deliveries per second with one delivering process (``webhooks.deliver_due``: read the due messages,
sign, POST, log the attempts, mark them delivered) to a local receiver on 127.0.0.1, against the baseline of
plain POSTs of the same bodies with the same HTTP client (``webhooks.post``) from the same process, measured in
the same run on PostgreSQL. The receiver is ``http.server`` in a thread of this process: it costs both sides
the same."""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench.pg import prepared_app, scratch_database
from bench.sweep import OPENED_AT, _dispose, open_cases

ALLOW = frozenset({"127.0.0.1"})


class _Receiver(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:   # noqa: N802 (the name http.server calls)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _receiver() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def _prepare(app: Any, count: int, url: str) -> list[bytes]:
    """A webhook subscribed to ``case.opened``, then ``count`` cases opened: ``count`` messages due. Returns
    their bodies."""
    from api import webhooks
    from api.auth import Principal
    from api.extensions import db
    from api.models import User
    from api.models_ownership import WebhookOutbox

    with app.app_context():
        admin = Principal.of(db.session.scalar(sa.select(User).where(User.username == "ent_clerk")))
        webhooks.register(db.session, admin, url, ["case.opened"], "bench-secret", OPENED_AT, ALLOW)
        db.session.commit()
    open_cases(app, count)
    with app.app_context():
        return [body.encode() for body in db.session.scalars(sa.select(WebhookOutbox.body)
                                                              .order_by(WebhookOutbox.id))]


def _deliveries(app: Any) -> tuple[int, float]:
    from api import webhooks
    from api.extensions import db

    with app.app_context():
        started = time.perf_counter()
        attempts = webhooks.deliver_due(lambda: Session(db.engine), datetime.now(UTC), allow=ALLOW)
        return attempts, time.perf_counter() - started


def _plain_posts(url: str, bodies: list[bytes]) -> float:
    from api import webhooks

    headers = {"Content-Type": "application/json; charset=utf-8"}
    started = time.perf_counter()
    for body in bodies:
        answer = webhooks.post(url, body, headers)
        assert answer.status == 204, answer
    return time.perf_counter() - started


def _delivered(app: Any) -> int:
    from api.extensions import db
    from api.models_ownership import WebhookOutbox

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(WebhookOutbox)
                                 .where(WebhookOutbox.status == "delivered")) or 0


def run(count: int, *, repeats: int = 3) -> dict[str, Any]:
    """``count`` messages delivered by ``deliver_due`` and posted plainly, ``repeats`` times (median)."""
    server, url = _receiver()
    delivered: list[float] = []
    plain: list[float] = []
    try:
        for _ in range(repeats):
            with scratch_database() as database:
                app = prepared_app(database)
                bodies = _prepare(app, count, url)
                assert len(bodies) == count, (len(bodies), count)
                before = _Receiver.received
                attempts, seconds = _deliveries(app)
                assert attempts == count and _delivered(app) == count, (attempts, count)
                assert _Receiver.received - before == count
                delivered.append(count / seconds)
                plain.append(count / _plain_posts(url, bodies))
                _dispose(app)
    finally:
        server.shutdown()
        server.server_close()
    return {"messages": count, "repeats": repeats, "body_bytes": round(statistics.mean(len(b) for b in bodies)),
            "deliver_due": {"per_s": round(statistics.median(delivered), 1), "runs": [round(r, 1) for r in delivered]},
            "plain_posts": {"per_s": round(statistics.median(plain), 1), "runs": [round(r, 1) for r in plain]}}
