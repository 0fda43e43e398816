"""Instructions per fired event, counted by valgrind: ``python -m bench.instructions [--requests 100]
[NAME=CHECKOUT …]``.

Throughput and CPU time on a shared machine move by a third between runs, too much to tell a change of a few per
cent. ``valgrind --tool=callgrind`` counts the instructions a process executes instead: the same code, data and
requests give the same count (within about 1 %), whatever else the machine is doing. Here each app is driven in
a process of its own under callgrind, through WSGI in the process (no HTTP server, no wrk): ``extend`` on many
cases, each with its own ``Idempotency-Key``, as ``bench.http`` fires it. Counting is off while the app starts
and serves its first requests (caches warm, as in a worker that has served a while), on for ``--requests``
requests. What PostgreSQL does is not counted (another process), nor is the HTTP server.

Each CHECKOUT is a directory holding the project with its ``.venv`` (as ``bench.compare``); without any, this
checkout is counted. Beside them, as ``bench.http`` runs them: the floor (``bench/floor_app.py``: the writes in
hand-written SQL) and the ORM baseline (``bench/baseline_app.py``: the same writes through Flask-SQLAlchemy's ORM
and nothing else, which tells what the ORM alone costs). Prints instructions per request and the ratio to the
floor, and writes ``bench/results/instructions-<time>.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLOOR = "floor"   # as bench.compare names it (not imported here: the child runs this file in any checkout)
BASELINE = "baseline"   # as bench.http names it
# the figures counted beside the checkouts, each from this checkout: name → WSGI app
REFERENCES = {BASELINE: "bench.baseline_app:app", FLOOR: "bench.floor_app:app"}
WARM_UP = 60
BODY = b'{"data": {"parties_consent": true, "days": 10}}'


def run(requests: int, checkouts: dict[str, Path], cases: int = 300) -> dict[str, Any]:
    from bench.compare import commit_of
    from bench.http import prepare
    from bench.pg import scratch_database, vacuum

    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        return {"skipped": "valgrind is not installed (Debian package valgrind)"}
    results: dict[str, Any] = {"requests": requests, "warm_up": WARM_UP, "counted": {}}
    with scratch_database() as url:
        environment = prepare(url, cases)
        vacuum(url)
        for name, (root, target) in {**{name: (root, "api.wsgi:app") for name, root in checkouts.items()},
                                     **{name: (ROOT, app) for name, app in REFERENCES.items()}}.items():
            results["counted"][name] = {"checkout": str(root), "commit": commit_of(root),
                                        **counted(root, target, url, environment, requests, name)}
    floor = results["counted"][FLOOR]["instructions_per_request"]
    for figure in results["counted"].values():
        figure["to_floor"] = round(figure["instructions_per_request"] / floor, 2)
    return results


def counted(root: Path, target: str, url: str, environment: dict[str, str], requests: int,
            run_name: str) -> dict[str, Any]:
    """Instructions per request of ``target`` run by ``root``'s virtual environment under callgrind."""
    from bench.compare import python_of

    python = python_of(root)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        child = {**os.environ, **environment, "DATABASE_URL": url, "GONGHUI_LOG_LEVEL": "WARNING",
                 "GONGHUI_SECRET_KEY": "b" * 64, "PYTHONPATH": f"{root}{os.pathsep}{ROOT}",
                 "BENCH_TARGET": target, "BENCH_REQUESTS": str(requests), "BENCH_RUN": run_name}
        finished = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                   f"--callgrind-out-file={out}", str(python), "-c", _CHILD, __file__],
                                  env=child, cwd=root, capture_output=True, text=True, timeout=1800)
        if finished.returncode != 0:
            raise RuntimeError(f"{target} under callgrind failed: {finished.stderr[-2000:]}")
        totals = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
        if totals is None:
            raise RuntimeError("callgrind wrote no totals")
    return {"instructions_per_request": round(int(totals.group(1)) / requests)}


# the child runs this file by its path (the checkout counted may not have it) without putting bench/ on sys.path
_CHILD = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='bench_instructions_child')"


def child() -> None:
    """Under callgrind: the app from ``BENCH_TARGET``, warmed up, then counted for ``BENCH_REQUESTS`` requests
    (counting switched on and off with ``callgrind_control``)."""
    import importlib

    module, attribute = os.environ["BENCH_TARGET"].split(":")
    app = getattr(importlib.import_module(module), attribute)
    first, cases = int(os.environ["BENCH_FIRST_ID"]), int(os.environ["BENCH_CASES"])
    token, run_name = os.environ["BENCH_TOKEN"], os.environ["BENCH_RUN"]

    def fire(number: int) -> None:
        case_id = first + (number * 97) % cases
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": f"/api/v1/cases/{case_id}/events/extend",
                   "SCRIPT_NAME": "", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
                   "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(BODY),
                   "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True,
                   "wsgi.run_once": False, "wsgi.version": (1, 0), "CONTENT_TYPE": "application/json",
                   "CONTENT_LENGTH": str(len(BODY)), "HTTP_AUTHORIZATION": f"Bearer {token}",
                   "HTTP_IDEMPOTENCY_KEY": f"count-{run_name}-{os.getpid()}-{number}", "REMOTE_ADDR": "127.0.0.1"}
        status: list[str] = []
        body = b"".join(app(environ, lambda line, _headers, _info=None: status.append(line)))
        if not status[0].startswith("200"):
            raise RuntimeError(f"{status[0]}: {body[:500]!r}")

    for number in range(WARM_UP):
        fire(number)
    switch = ["callgrind_control", "--instr=on", str(os.getpid())]
    subprocess.run(switch, check=True, capture_output=True)
    for number in range(WARM_UP, WARM_UP + int(os.environ["BENCH_REQUESTS"])):
        fire(number)
    subprocess.run([*switch[:1], "--instr=off", *switch[2:]], check=True, capture_output=True)


def render(results: dict[str, Any]) -> str:
    return "\n".join(f"  {name:<12} ({figure['commit']})  {figure['instructions_per_request'] / 1e6:7.3f} M "
                     f"instructions a fired event  ({figure['to_floor']:.2f}× the floor)"
                     for name, figure in results["counted"].items())


def main() -> None:
    from bench.compare import checkouts_from

    parser = argparse.ArgumentParser(prog="python -m bench.instructions")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("checkouts", nargs="*", metavar="NAME=CHECKOUT")
    arguments = parser.parse_args()
    results = run(arguments.requests, checkouts_from(parser, arguments.checkouts, tuple(REFERENCES)) or {"this": ROOT})
    if "skipped" in results:
        print(results["skipped"])
        return
    print(render(results))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    written = ROOT / "bench" / "results" / f"instructions-{stamp}.json"
    written.write_text(json.dumps(results, indent=2))
    print(f"written to {written.relative_to(ROOT)}")


if __name__ == "bench_instructions_child":
    child()
elif __name__ == "__main__":
    main()
