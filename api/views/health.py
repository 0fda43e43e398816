"""Liveness (no authentication) and metrics for operators: ``/metrics`` answers a request bearing
``GONGHUI_METRICS_TOKEN`` (``Authorization: Bearer ...``) or coming from an address of
``GONGHUI_METRICS_ALLOW`` (comma-separated addresses or networks; default the loopback addresses), and nobody
else. A request relayed by a proxy (``X-Forwarded-For`` or ``Forwarded``) is never taken for a local one."""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request

from api import addresses
from api.extensions import db
from workflow.errors import RoleNotPermitted

blp = Blueprint("health", __name__)


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
    """The counts of every process (``api.metrics``: added up across gunicorn workers and the scheduler)."""
    if not _operator():
        raise RoleNotPermitted("指标仅供运维：请携带 GONGHUI_METRICS_TOKEN 令牌，"
                               "或从 GONGHUI_METRICS_ALLOW 所列地址访问")
    from api import metrics as counted

    return Response(counted.exposition(), content_type=counted.CONTENT_TYPE)
