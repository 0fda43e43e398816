"""gunicorn settings for ``gonghui serve`` (loaded with ``--config python:api.gunicorn_conf``).

Errors: what gunicorn itself answers (a request line over its limit — 414, headers too large — 431, a
malformed request — 400) is an RFC 9457 problem document like every other error of the service, not
gunicorn's own HTML page. gunicorn writes those answers with ``gunicorn.util.write_error`` before any
application code runs; this file replaces that function in the master process, so every worker forked from
it answers in JSON.

Metrics: every worker counts into the files of ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up
(``api.metrics``). ``gonghui serve`` makes that directory (and empties it) before it starts gunicorn and the
scheduler; gunicorn started by hand gets a new empty one here (``on_starting``: in the master, before any worker
imports prometheus-client), removed when gunicorn stops.
A worker that exits is marked dead, so that its live gauges (none today) drop out; its counts stay.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

from gunicorn import util

MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
_made: list[str] = []


def on_starting(_server: Any) -> None:
    """In the master, before any worker is forked (and imports prometheus-client): where they count."""
    if not os.environ.get(MULTIPROC):
        os.environ[MULTIPROC] = tempfile.mkdtemp(prefix="gonghui-metrics-")
        _made.append(os.environ[MULTIPROC])


def child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(_server: Any) -> None:
    for made in _made:
        shutil.rmtree(made, ignore_errors=True)

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
