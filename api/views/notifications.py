"""The caller's notifications: cases that arrived at its unit, were urged, are due soon or overdue."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api import auth, ownership
from api.clock import now
from api.extensions import current_session
from api.pagination import PageQuerySchema
from api.schemas import ISO

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="通知：新到、上报、交办、催办、到期提醒")


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "arrived|escalated|assigned|taken_over|urged|due_soon|overdue"})
    kind_label = fields.String()
    case = fields.Integer()
    number = fields.String()
    title = fields.String()
    at = fields.DateTime(format=ISO)
    read = fields.Boolean()


class NotificationPageSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema))
    total = fields.Integer()
    unread = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class NotificationQuerySchema(PageQuerySchema):   # page and per_page, as every list pages
    unread = fields.Boolean(load_default=False)


class ReadAllSchema(Schema):
    marked = fields.Integer()


@blp.route("/notifications")
class Notifications(MethodView):
    @blp.arguments(NotificationQuerySchema, location="query")
    @blp.response(200, NotificationPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The caller's notifications, newest first (``unread=true``: only those not read yet)."""
        principal = auth.current()
        found = ownership.notices(current_session(), principal.user_id, unread_only=args["unread"], page=args["page"],
                                  per_page=args["per_page"])
        return {"items": found.items, "total": found.total, "unread": found.unread, "page": args["page"],
                "per_page": args["per_page"]}


@blp.route("/notifications/<int(max=2147483647):notification_id>/read")
class NotificationRead(MethodView):
    @blp.response(200, NotificationSchema)
    def post(self, notification_id: int) -> dict[str, Any]:
        """Mark one notification read; another user's notification is 404."""
        return ownership.mark_read(current_session(), auth.current().user_id, notification_id, now())


@blp.route("/notifications/read-all")
class NotificationsReadAll(MethodView):
    @blp.response(200, ReadAllSchema)
    def post(self) -> dict[str, Any]:
        """Mark every notification of the caller read."""
        return {"marked": ownership.mark_all_read(current_session(), auth.current().user_id, now())}
