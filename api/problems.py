"""The one place where errors become RFC 9457 problem documents (``application/problem+json``).

Views, use cases and request hooks raise; nothing else builds a problem. The domain's errors
(``workflow.errors``) and the edge's (``api.errors``: a malformed request, a missing header, too many requests)
are mapped by ``STATUS_OF``; Werkzeug's HTTP exceptions (routing, flask-smorest's validation) by
``from_http_exception``. A 404 on a web page (not under ``/api/``) is the page's own "not found" page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, NotFound

from api.errors import HeaderRequired, MalformedRequest, RateLimited, TooLarge, Unauthenticated, described, loggable
from workflow.errors import (
    Conflict,
    DefinitionError,
    EventNotAllowed,
    InvalidData,
    RecordNotFound,
    RoleNotPermitted,
    StaleVersion,
    UnknownDefinition,
    UnknownEvent,
    WorkflowError,
)

log = logging.getLogger(__name__)

TITLES = {
    400: "请求格式错误", 401: "未登录或令牌无效", 403: "无权访问", 404: "未找到", 405: "不支持的请求方法",
    409: "冲突", 412: "版本已过期", 413: "请求体过大", 415: "不支持的媒体类型", 422: "数据校验未通过",
    428: "缺少必需的请求头", 429: "请求过于频繁", 500: "服务器内部错误", 503: "服务暂不可用",
}

STATUS_OF: list[tuple[type[WorkflowError], int]] = [
    (RecordNotFound, 404), (UnknownDefinition, 404), (EventNotAllowed, 409), (UnknownEvent, 409),
    (RoleNotPermitted, 403), (InvalidData, 422), (Conflict, 409), (DefinitionError, 500),
    (MalformedRequest, 400), (Unauthenticated, 401), (TooLarge, 413), (HeaderRequired, 428), (RateLimited, 429),
]


def problem(status: int, detail: str, *, title: str | None = None, errors: dict[str, list[str]] | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": f"https://gonghui.example/problems/{status}",
        "title": title or TITLES.get(status, "错误"),
        "status": status,
        "detail": detail,
        "instance": request.path if request else None,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
                        mimetype="application/problem+json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict → {"data.applicants.0.name": ["..."]}."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        return {prefix or "_schema": list(messages)}
    return {prefix or "_schema": [str(messages)]}


def status_of(error: WorkflowError) -> int:
    if isinstance(error, StaleVersion):
        return 412 if error.precondition else 409
    return next(code for kind, code in STATUS_OF + [(WorkflowError, 400)] if isinstance(error, kind))


def from_workflow_error(error: WorkflowError) -> Response:
    status = status_of(error)
    if status >= 500:
        log.error("definition error surfaced in a request: %s", error.detail)
        return problem(500, "服务器内部错误")
    if status == 404 and not _api_request():
        return current_app.handle_http_exception(NotFound(error.detail))  # type: ignore[return-value]
    extra = _public(error.context)
    errors = extra.pop("errors", None)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    return problem(status, error.detail, title=error.title, errors=errors or None, headers=headers, **extra)


def _public(context: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in context.items() if isinstance(value, str | int | list | bool | dict)}


def _api_request() -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/metrics")


def from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    headers: dict[str, str] = {}
    errors = None
    data = getattr(error, "data", None) or {}
    if "messages" in data:  # webargs / flask-smorest validation errors, by location
        errors = {}
        for location, messages in data["messages"].items():
            errors.update(flatten(messages, "" if location == "json" else location))
        if status == 400 or (status == 422 and "_schema" in errors and len(errors) == 1):
            status = 400 if status == 400 else 422
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    if error.response is not None and error.response.headers.get("WWW-Authenticate"):
        headers["WWW-Authenticate"] = error.response.headers["WWW-Authenticate"]
    for name in ("Retry-After", "WWW-Authenticate"):
        if isinstance(data.get("headers"), dict) and name in data["headers"]:
            headers[name] = data["headers"][name]
    detail = data.get("message") or error.description or TITLES.get(status, "")
    if errors and status == 400:
        detail = "请求体不是有效的 JSON" if any("JSON" in m for ms in errors.values() for m in ms) else detail
    if status == 422 and errors:
        detail = "以下字段有误：" + "、".join(sorted(errors))
    return problem(status, str(detail), errors=errors, headers=headers)


# addresses answered as the API answers (problem documents), whatever the client accepts
API_PREFIX, OPERATOR_PATHS = "/api/", ("/healthz", "/metrics")


def register(app: Flask, pages_not_found: Sequence[tuple[str, Callable[[], Any]]] = ()) -> None:
    """The error handlers of the app. ``pages_not_found``: (address prefix, the pages' own 404 page), the
    first prefix that matches wins; the API's and operators' addresses are answered with a problem document."""
    app.register_error_handler(WorkflowError, from_workflow_error)
    app.register_error_handler(HTTPException, from_http_exception)

    @app.errorhandler(404)
    def not_found(error: HTTPException) -> Any:
        """The one 404 of the app: an unknown address, or a page or resource that is not there (or not yours)."""
        if not request.path.startswith(API_PREFIX) and request.path not in OPERATOR_PATHS:
            for prefix, page in pages_not_found:
                if request.path.startswith(prefix):
                    return page()
        return from_http_exception(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return from_http_exception(error)
        if _database_away(error):
            log.warning("database connection lost on %s %s: %s", request.method, request.path, described(error))
            return problem(503, "数据库暂不可用，请稍后重试", headers={"Retry-After": "1"})
        log.error("unhandled error on %s %s: %s", request.method, request.path, loggable(error))
        return problem(500, "服务器内部错误，已记录，请稍后重试")


def _database_away(error: Exception) -> bool:
    """A lost or refused database connection (the pool replaces it): worth retrying, not a fault of ours."""
    import sqlalchemy as sa

    return isinstance(error, sa.exc.DBAPIError) and (error.connection_invalidated
                                                     or isinstance(error, sa.exc.OperationalError))
