"""What ``/metrics`` tells operators, counted with prometheus-client.

Under gunicorn every worker process counts into files of the directory ``PROMETHEUS_MULTIPROC_DIR`` (made and
emptied by ``gonghui serve``, or by ``api/gunicorn_conf.py`` for gunicorn started by hand), and ``/metrics``,
whichever worker answers it, adds up the files of every process — workers alive or gone, and the scheduler
process. prometheus-client picks its mode when it is first imported, so the variable must be set before that
(in the process that forks the workers); without it (``gonghui run``, the tests) the counts are the one
process's.

- ``gonghui_http_requests_total{method, endpoint, status}``: requests answered (endpoint ``unknown``: no route)
- ``gonghui_http_request_seconds`` (``_sum``, ``_count``): time spent answering them
- ``gonghui_timers_fired_total{action}``: deadline timers fired by the sweep (``escalate``, ``remind``, an event)
"""

from __future__ import annotations

import time

from flask import Response
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Summary,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)

from api.context import request_globals, this_request

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

disable_created_metrics()   # no *_created series beside the counts: the same text in both modes

REQUESTS = Counter("gonghui_http_requests", "HTTP requests by method, endpoint and status.",
                   ["method", "endpoint", "status"])
DURATION = Summary("gonghui_http_request_seconds", "Time spent answering requests.")
TIMERS_FIRED = Counter("gonghui_timers_fired", "Deadline timers fired by the sweep, by what they did.", ["action"])


def multiprocess_mode() -> bool:
    """Whether this process counts into PROMETHEUS_MULTIPROC_DIR (decided when prometheus-client was imported)."""
    return values.ValueClass is not values.MutexValue


def exposition() -> bytes:
    """The Prometheus text of every process counting into the directory, or of this process alone."""
    if not multiprocess_mode():
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


def start_timer() -> None:
    request_globals().started = time.perf_counter()


def count_request(response: Response) -> Response:
    current_request, started = this_request(), request_globals().get("started")
    REQUESTS.labels(current_request.method, current_request.endpoint or "unknown", str(response.status_code)).inc()
    if started is not None:
        DURATION.observe(time.perf_counter() - started)
    return response


def count_fired(actions: list[str]) -> None:
    for action in actions:
        TIMERS_FIRED.labels(action).inc()
