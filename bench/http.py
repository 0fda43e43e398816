"""HTTP cost on PostgreSQL under gunicorn, with wrk on 127.0.0.1: firing events (authenticated, validated,
with history, timers and idempotency keys) against a baseline app doing only the same database writes;
and the worklist and a filtered list. Every run is bounded in time and stops its servers."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import roundtrips
from bench.pg import prepared_app, scratch_database, vacuum

ROOT = Path(__file__).resolve().parent.parent
WORKERS, THREADS = 4, 2   # as `gonghui serve` starts them (the README explains the choice)
WARM_UP_SECONDS = 2       # every server is warmed up (all its workers loaded, pools filled) before it is measured


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(target: str, url: str, workers: int = WORKERS, threads: int = THREADS,
          extra: dict[str, str] | None = None, python: str = sys.executable,
          root: Path = ROOT) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn serving ``target`` over ``url``, with the code of the checkout ``root`` run by ``python``."""
    port = free_port()
    environment = {"GONGHUI_SECRET_KEY": secrets.token_hex(32), **os.environ, "DATABASE_URL": url,
                   "GONGHUI_LOG_LEVEL": "WARNING", "PYTHONPATH": str(root), **(extra or {})}
    process = subprocess.Popen([python, "-m", "gunicorn", "--workers", str(workers), "--threads",
                                str(threads), "--no-control-socket", "--bind", f"127.0.0.1:{port}", target],
                               env=environment, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)  # noqa: S310 (loopback)
            return process, port
        except OSError as error:
            if getattr(error, "code", None) == 404:   # the baseline app has no /healthz: it is up
                return process, port
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{target} did not start")


@contextmanager
def serving(target: str, url: str, **options: Any) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``start``'s server and port for the block; stopped after it, whatever happened."""
    process, port = start(target, url, **options)
    try:
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=60)


def wrk(port: int, connections: int, seconds: int, environment: dict[str, str]) -> dict[str, float]:
    output = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
                             str(ROOT / "bench" / "fire.lua"), f"http://127.0.0.1:{port}"],
                            env={**os.environ, **environment, "BENCH_RUN": secrets.token_hex(6)},
                            capture_output=True, text=True, timeout=seconds + 30)
    text = output.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    latency = {share: _ms(re.search(rf"\s{share}%\s+([\d.]+\w+)", text).group(1))  # type: ignore[union-attr]
               for share in ("50", "99")}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": rate, "p50_ms": latency["50"], "p99_ms": latency["99"],
            "non_2xx": int(errors.group(1)) if errors else 0}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit], 3)


def worker_rss_mb(master: int) -> list[float]:
    """Resident memory of each gunicorn worker of ``master``."""
    pids = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    sizes = []
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(round(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024, 1))  # type: ignore[union-attr]
    return sizes


def prepare(url: str, cases: int) -> dict[str, str]:
    from api.auth import Principal, issue_token
    from api.cases import FireRequest, OpenRequest, fire_event, open_case
    from api.extensions import db
    from api.models import User

    app = prepared_app(url)
    data = {"applicants": [{"name": "王小明"}], "respondent": {"name": "温岭市东海鞋业有限公司"},
            "dispute_type": "wages", "claims": "拖欠工资", "amount": "1000.00", "channel": "visit"}
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "chengdong_mediator"))
        principal, engine, now = Principal.of(user), app.extensions["gonghui.engine"], app.config["CLOCK"]()
        first = None
        for _ in range(cases):
            case = open_case(db.session, engine, principal,
                                      OpenRequest("mediation_case", None, data), now)
            fire_event(db.session, engine, principal, case,
                                FireRequest("accept", {"mediator": "李调解"}), now)
            first = first or case.id
        token, _ = issue_token(user, kind="service")
        db.session.commit()
        db.engine.dispose()
    return {"BENCH_TOKEN": token, "BENCH_FIRST_ID": str(first), "BENCH_CASES": str(cases)}


def memory(url: str, environment: dict[str, str], target: int, max_seconds: int) -> dict[str, Any]:
    """Resident memory of each API worker while one server answers ``target`` requests (reading cases, in
    rounds of wrk), sampled after every round: it must stay under 150 MB and flat."""
    with serving("api.wsgi:app", url) as (process, port):
        samples = [{"requests": 0, "rss_mb": worker_rss_mb(process.pid)}]
        served, started = 0, time.perf_counter()
        while served < target and time.perf_counter() - started < max_seconds:
            figure = wrk(port, 32, 20, {**environment, "BENCH_PATH": "case"})
            served += int(figure["rps"] * 20)
            samples.append({"requests": served, "rss_mb": worker_rss_mb(process.pid)})
    return {"requests": served, "samples": samples, "max_rss_mb": max(max(s["rss_mb"]) for s in samples),
            "growth_mb": round(max(samples[-1]["rss_mb"]) - max(samples[1]["rss_mb"] if len(samples) > 1
                                                                 else samples[0]["rss_mb"]), 1)}


def _median(runs: list[dict[str, float]]) -> dict[str, Any]:
    """The run with the median throughput (its latencies with it), and every run's throughput."""
    ordered = sorted(runs, key=lambda run: run["rps"])
    return {**ordered[len(ordered) // 2], "runs_rps": [round(run["rps"], 1) for run in runs]}


def run(seconds: int, cases: int, repeats: int = 3, memory_requests: int = 100_000) -> dict[str, Any]:
    """Each server is started ``repeats`` times, ours and the baseline in turn (the machine's noise falls on
    both alike); the figures are the median runs."""
    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (Debian package wrk)"}
    results: dict[str, Any] = {"workers": WORKERS, "threads": THREADS, "cases": cases, "repeats": repeats}
    runs: dict[str, list[dict[str, float]]] = {}
    with scratch_database() as url:
        environment = prepare(url, cases)
        results["round_trips"] = roundtrips.run(url, environment)
        for _ in range(repeats):
            for name, target in (("gonghui", "api.wsgi:app"), ("baseline", "bench.baseline_app:app"),
                                 ("floor", "bench.floor_app:app")):
                vacuum(url)
                with serving(target, url) as (_process, port):
                    wrk(port, 8, WARM_UP_SECONDS, environment)
                    for connections in (8, 32):
                        runs.setdefault(f"{name}_fire_c{connections}", []).append(
                            wrk(port, connections, seconds, environment))
                    if name == "gonghui":
                        for label, path in (("worklist", "/api/v1/worklist"),
                                            ("list", "/api/v1/cases?state=mediating&per_page=50")):
                            runs.setdefault(f"{name}_{label}_c8", []).append(
                                wrk(port, 8, seconds, {**environment, "BENCH_PATH": path}))
        results["memory"] = memory(url, environment, memory_requests, max_seconds=600)
    results.update({key: _median(value) for key, value in runs.items()})
    return results
