"""The API under a CPU-time sampler, for ``python -m bench.profile``. Run with one sync worker.

Every millisecond of CPU the worker spends (``ITIMER_PROF``: time it waits for PostgreSQL or for a CPU on a
busy machine does not count) the stack of the request being served is sampled; each request's wall and CPU
time are added up too. Written to ``BENCH_PROFILE_OUT`` (JSON) every 100 requests and when the worker exits.
Sampling costs little, so the figures are close to those of an unprofiled worker.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from api import create_app

application = create_app({"SECRET_KEY_GENERATE": False})
OUT = os.environ["BENCH_PROFILE_OUT"]
INTERVAL = 0.001
_stacks: Counter[tuple[str, ...]] = Counter()
_times = {"requests": 0, "wall_s": 0.0, "cpu_s": 0.0, "interval_s": INTERVAL}
_serving = [False]


def _sample(_signal: int, frame: FrameType | None) -> None:
    if not _serving[0]:
        return
    stack = []
    while frame is not None:
        code = frame.f_code
        stack.append(f"{code.co_filename}:{code.co_firstlineno}:{code.co_name}")
        frame = frame.f_back
    _stacks[tuple(reversed(stack))] += 1


def _dump() -> None:
    with open(OUT, "w") as out:
        json.dump({**_times, "stacks": [[list(stack), count] for stack, count in _stacks.items()]}, out)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    wall, cpu = time.perf_counter(), time.process_time()
    _serving[0] = True
    try:
        body = list(application(environ, start_response))
    finally:
        _serving[0] = False
    _times["wall_s"] += time.perf_counter() - wall
    _times["cpu_s"] += time.process_time() - cpu
    _times["requests"] += 1
    if _times["requests"] % 100 == 0:
        _dump()
    return body


signal.signal(signal.SIGPROF, _sample)
signal.setitimer(signal.ITIMER_PROF, INTERVAL, INTERVAL)
sys.setswitchinterval(0.005)
atexit.register(_dump)
