"""What gunicorn answers itself, before the application sees a request, is a problem document too."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from api.gunicorn_conf import problem_bytes

ROOT = Path(__file__).resolve().parents[2]


def test_the_problem_gunicorn_writes() -> None:
    head, _, body = problem_bytes(414, "URI Too Long", "line too long").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 URI Too Long\r\n") and b"application/problem+json" in head
    document = json.loads(body)
    assert document["status"] == 414 and document["title"] == "请求行过长" and f"{len(body)}".encode() in head


def test_a_long_query_string_gets_a_json_414_from_gunicorn(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'g.sqlite3'}", "GONGHUI_LOG_LEVEL": "WARNING",
                   "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "1", "--no-control-socket",
                               "--config", "python:api.gunicorn_conf", "--bind", f"127.0.0.1:{port}", "api.wsgi:app"],
                              env=environment, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):   # wait for the server to listen (not a clock in the test's logic)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/v1/cases?q=" + "x" * 9000)
        answer = connection.getresponse()
        body = answer.read()
        assert answer.status == 414 and answer.getheader("Content-Type") == "application/problem+json"
        assert json.loads(body)["detail"] == "请求行（路径和查询字符串）过长，请缩短查询条件"
    finally:
        server.terminate()
        server.wait(timeout=20)
