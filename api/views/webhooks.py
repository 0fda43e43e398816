"""Webhooks (administrators): register a URL for event types; read each delivery attempt and its answer."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import auth, webhooks
from api.clock import now
from api.deadlines import SHANGHAI
from api.extensions import current_session, db
from api.models_ownership import Webhook
from api.pagination import PageQuerySchema
from api.schemas import ISO
from workflow.errors import RecordNotFound

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/admin",
                description="Webhook：向其他系统推送案件变化（管理员）")


@blp.before_request
def _administrators_only() -> None:
    """403 before the body is read: only administrators manage webhooks."""
    auth.require_role("admin")


class WebhookCreateSchema(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    events = fields.List(fields.String(validate=validate.Length(min=1, max=32)), required=True,
                         validate=validate.Length(min=1, max=20))
    secret = fields.String(required=True, validate=validate.Length(min=1, max=200),
                           metadata={"description": "签名密钥（X-Gonghui-Signature），建议 32 个字符以上；不再返回"})


class WebhookSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    events = fields.List(fields.String())
    active = fields.Boolean()
    created_by = fields.String()
    created_at = fields.DateTime(format=ISO)
    deliveries_url = fields.String()


class DeliverySchema(Schema):
    id = fields.Integer()
    event_id = fields.String()
    type = fields.String()
    case = fields.Integer()
    attempt = fields.Integer()
    at = fields.DateTime(format=ISO)
    status_code = fields.Integer(allow_none=True)
    response = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()
    delivered = fields.Boolean()
    message_status = fields.String(metadata={"description": "pending|delivered|failed（24 小时后放弃）"})


class DeliveryPageSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


def _resource(hook: Webhook) -> dict[str, Any]:
    return {"id": hook.id, "url": hook.url, "events": hook.events, "active": hook.active,
            "created_by": hook.created_by, "created_at": hook.created_at.astimezone(SHANGHAI),
            "deliveries_url": url_for("webhooks.WebhookDeliveries", webhook_id=hook.id)}


def _webhook(webhook_id: int) -> Webhook:
    hook = db.session.get(Webhook, webhook_id)
    if hook is None:
        raise RecordNotFound(f"Webhook {webhook_id} 不存在")
    return hook


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.response(200, WebhookSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The registered webhooks (secrets are never shown)."""
        return [_resource(hook) for hook in db.session.scalars(sa.select(Webhook).order_by(Webhook.id))]

    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookSchema)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Register a webhook: an http(s) URL (no loopback or private-network target unless allowed in
        ``GONGHUI_WEBHOOK_ALLOW_HOSTS``), the event types it wants, and the secret that signs each body."""
        hook = webhooks.register(current_session(), auth.current(), body["url"], body["events"], body["secret"], now(),
                                 webhooks.configured_allow_hosts(current_app.config))
        return _resource(hook), {"Location": url_for("webhooks.WebhookOne", webhook_id=hook.id)}


@blp.route("/webhooks/<int(max=2147483647):webhook_id>")
class WebhookOne(MethodView):
    @blp.response(200, WebhookSchema)
    def get(self, webhook_id: int) -> dict[str, Any]:
        return _resource(_webhook(webhook_id))

    @blp.response(204)
    def delete(self, webhook_id: int) -> None:
        """Stop a webhook: no new messages; those written already are still delivered."""
        _webhook(webhook_id).active = False
        db.session.flush()


@blp.route("/webhooks/<int(max=2147483647):webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, DeliveryPageSchema)
    def get(self, args: dict[str, Any], webhook_id: int) -> dict[str, Any]:
        """Every delivery attempt, newest first, with the receiver's status code and answer (or the error)."""
        _webhook(webhook_id)
        items, total = webhooks.deliveries(current_session(), webhook_id, args["page"], args["per_page"])
        return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}
