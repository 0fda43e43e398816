"""gunicorn settings for ``gonghui serve``: what gunicorn itself answers (a request line over its limit — 414,
headers too large — 431, a malformed request — 400) is an RFC 9457 problem document like every other error
of the service, not gunicorn's own HTML page.

gunicorn writes those answers with ``gunicorn.util.write_error`` before any application code runs; this file,
loaded with ``--config python:api.gunicorn_conf``, replaces that function in the master process, so every
worker forked from it answers in JSON.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util

TITLES = {400: "请求格式错误", 403: "无权访问", 414: "请求行过长", 417: "无法满足 Expect 请求头",
          431: "请求头过大", 500: "服务器内部错误", 501: "不支持的传输编码"}
DETAILS = {414: "请求行（路径和查询字符串）过长，请缩短查询条件", 431: "请求头过大，请减少或缩短请求头"}


def problem_bytes(status: int, reason: str, message: str) -> bytes:
    """The whole HTTP answer for an error gunicorn met before the application saw the request."""
    body = json.dumps({"type": f"https://gonghui.example/problems/{status}", "title": TITLES.get(status, reason),
                       "status": status, "detail": DETAILS.get(status, "请求格式错误，服务器无法解析"),
                       "instance": None}, ensure_ascii=False).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
            f"Content-Length: {len(body)}\r\nX-Content-Type-Options: nosniff\r\n\r\n")
    return head.encode("latin-1") + body


def write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    util.write_nonblock(sock, problem_bytes(int(status_int), reason, mesg))


util.write_error = write_problem   # gunicorn's workers call util.write_error(...) at the time of the error
