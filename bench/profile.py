"""Where a fired event's time goes on the server: ``python -m bench.profile [--seconds 20] [--connections 8]``.

One gunicorn sync worker runs the API under a CPU-time sampler (``bench/profiled_app.py``) while wrk fires
``extend`` as ``python -m bench --only http`` does; then the CPU time is summed by package (own time of each
function) and the costliest functions are listed; the wall time per request beside the CPU time says how
long the worker waited (for PostgreSQL, and for a CPU on a busy machine). Prints the summary and writes it to
``bench/results/profile-<time>.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.http import ROOT, prepare, serving, wrk
from bench.pg import scratch_database

# package (by the path of the function's file) → the group it is counted in
GROUPS = [
    ("psycopg", "database driver (psycopg, incl. waiting for PostgreSQL)"),
    ("sqlalchemy/orm", "SQLAlchemy ORM (unit of work, loading, attributes)"),
    ("sqlalchemy/sql", "SQLAlchemy Core (statements, compiling, cache keys)"),
    ("sqlalchemy/engine", "SQLAlchemy engine (execution, results)"),
    ("sqlalchemy", "SQLAlchemy, other"),
    ("flask_sqlalchemy", "Flask-SQLAlchemy"),
    ("marshmallow", "marshmallow (validation, dumping)"),
    ("flask_smorest", "flask-smorest"),
    ("webargs", "webargs (request parsing)"),
    ("werkzeug", "Werkzeug (HTTP)"),
    ("flask/", "Flask"),
    ("transitions", "transitions (state machine)"),
    ("/workflow/", "gonghui engine (workflow/)"),
    ("/api/", "gonghui API (api/)"),
    ("json", "json"),
    ("gunicorn", "gunicorn"),
]


def group_of(path: str) -> str:
    if path == "~":
        return "built-ins"
    for marker, label in GROUPS:
        if (marker if marker.startswith("/") else f"/{marker}") in path or path.startswith(marker):
            return label
    return "Python standard library and other"


def summarise(samples: dict[str, Any], top: int = 30) -> dict[str, Any]:
    """Samples → CPU time per request: by package of the function running (own time), the costliest
    functions, and the cumulative time of our own functions (any sample with them on the stack). The
    kernel delivers the timer's signals at its own tick (often 4 ms), so the samples give the shares and
    the worker's measured CPU time the milliseconds."""
    requests = max(samples["requests"], 1)
    cpu_ms = float(samples["cpu_s"]) * 1000 / requests
    own: Counter[str] = Counter()
    by_group: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    total = 0
    for stack, count in samples["stacks"]:
        leaf = stack[-1]
        own[leaf] += count
        by_group[group_of(leaf.rsplit(":", 2)[0])] += count
        total += count
        for frame in set(stack):
            if "/api/" in frame or "/workflow/" in frame:
                cumulative[frame] += count

    def ms(count: int) -> float:
        return round(count * cpu_ms / max(total, 1), 3)

    return {
        "requests": samples["requests"], "samples": total,
        "by_group": [{"group": group, "share": round(count / max(total, 1), 3), "ms_per_request": ms(count)}
                     for group, count in by_group.most_common()],
        "top_own_time": [{"function": _name(frame), "own_ms_per_request": ms(count)}
                         for frame, count in own.most_common(top)],
        "top_cumulative": [{"function": _name(frame), "ms_per_request": ms(count)}
                           for frame, count in cumulative.most_common(top)],
    }


def _name(frame: str) -> str:
    path, line, name = frame.rsplit(":", 2)
    return f"{_short(path)}:{line} {name}"


def _short(path: str) -> str:
    for marker in ("/api/", "/workflow/"):
        if marker in path:
            return marker.strip("/") + "/" + path.split(marker, 1)[1]
    return Path(path).name


def render(summary: dict[str, Any]) -> str:
    out = io.StringIO()
    times = summary["times"]
    out.write(f"{summary['requests']} fired events through one sync worker at {summary['wrk']['rps']:.0f} req/s; "
              f"per request {times['wall_ms_per_request']} ms wall, {times['cpu_ms_per_request']} ms CPU of the "
              f"worker ({summary['samples']} samples of the stack, by CPU time)\n\nCPU time by package (own time of "
              "the function running):\n")
    for row in summary["by_group"]:
        out.write(f"  {row['share'] * 100:5.1f} %  {row['ms_per_request']:7.3f} ms  {row['group']}\n")
    out.write("\ncostliest functions (own time per request):\n")
    for row in summary["top_own_time"][:20]:
        out.write(f"  {row['own_ms_per_request']:7.3f} ms  {row['function']}\n")
    out.write("\nour code, cumulative time per request:\n")
    for row in summary["top_cumulative"][:25]:
        out.write(f"  {row['ms_per_request']:7.3f} ms  {row['function']}\n")
    return out.getvalue()


def run(seconds: int, connections: int, cases: int) -> dict[str, Any]:
    with scratch_database() as url, tempfile.TemporaryDirectory() as folder:
        environment = prepare(url, cases)
        out = str(Path(folder) / "fire-samples.json")
        with serving("bench.profiled_app:app", url, workers=1, threads=1,
                     extra={"BENCH_PROFILE_OUT": out}) as (_process, port):
            figure = wrk(port, connections, seconds, environment)
        samples = json.loads(Path(out).read_text())
        summary = summarise(samples)
        summary["wrk"] = figure
        requests = max(samples["requests"], 1)
        summary["times"] = {"wall_ms_per_request": round(samples["wall_s"] * 1000 / requests, 3),
                            "cpu_ms_per_request": round(samples["cpu_s"] * 1000 / requests, 3)}
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        (ROOT / "bench" / "results" / f"profile-{stamp}.json").write_text(
            json.dumps(summary, indent=2, ensure_ascii=False))
        summary["written"] = f"bench/results/profile-{stamp}.json"
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--cases", type=int, default=500)
    arguments = parser.parse_args()
    summary = run(arguments.seconds, arguments.connections, arguments.cases)
    print(render(summary))
    print(f"written to {summary['written']}")


if __name__ == "__main__":
    main()
