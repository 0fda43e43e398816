"""Liveness (no authentication) and metrics for operators: ``/metrics`` answers a request bearing
``GONGHUI_METRICS_TOKEN`` (``Authorization: Bearer ...``) or coming from an address of
``GONGHUI_METRICS_ALLOW`` (comma-separated addresses or networks; default the loopback addresses), and nobody
else. A request relayed by a proxy (``X-Forwarded-For`` or ``Forwarded``) is never taken for a local one."""

from __future__ import annotations

import hmac
import time

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, request

from api import addresses
from api.extensions import db
from workflow.errors import RoleNotPermitted

blp = Blueprint("health", __name__)

_REQUESTS: dict[tuple[str, str, int], int] = {}
_DURATION: dict[str, float] = {"sum": 0.0, "count": 0}


@blp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}, 200


DEFAULT_METRICS_ALLOW = "127.0.0.1/32,::1/128"


def _operator() -> bool:
    token = str(current_app.config.get("METRICS_TOKEN") or "")
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
        return True
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    allowed = str(current_app.config.get("METRICS_ALLOW", DEFAULT_METRICS_ALLOW) or "")
    return addresses.listed(request.remote_addr, allowed)


@blp.get("/metrics")
def metrics() -> Response:
    if not _operator():
        raise RoleNotPermitted("指标仅供运维：请携带 GONGHUI_METRICS_TOKEN 令牌，"
                               "或从 GONGHUI_METRICS_ALLOW 所列地址访问")
    lines = ["# HELP gonghui_http_requests_total HTTP requests by method, endpoint and status.",
             "# TYPE gonghui_http_requests_total counter"]
    for (method, endpoint, status), count in sorted(_REQUESTS.items()):
        labels = f'method="{method}",endpoint="{endpoint}",status="{status}"'
        lines.append(f"gonghui_http_requests_total{{{labels}}} {count}")
    lines += ["# HELP gonghui_http_request_seconds Time spent answering requests.",
              "# TYPE gonghui_http_request_seconds summary",
              f"gonghui_http_request_seconds_sum {_DURATION['sum']:.6f}",
              f"gonghui_http_request_seconds_count {int(_DURATION['count'])}"]
    for key, value in current_app.extensions.get("gonghui.gauges", {}).items():
        lines.append(f"{key} {value}")
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")


def start_timer() -> None:
    g.started = time.perf_counter()


def count_request(response: Response) -> Response:
    key = (request.method, request.endpoint or "unknown", response.status_code)
    _REQUESTS[key] = _REQUESTS.get(key, 0) + 1
    if "started" in g:
        _DURATION["sum"] += time.perf_counter() - g.started
        _DURATION["count"] += 1
    return response
