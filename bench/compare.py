"""Two versions of the API side by side over HTTP, with the floor: ``python -m bench.compare [--seconds 10]
[--rounds 3] NAME=CHECKOUT [NAME=CHECKOUT …]``.

Throughput on a shared 2-core machine moves by a third from one run to the next (the same server, minutes apart:
418 and 707 req/s), so a figure from one day and a figure from another cannot tell a change apart. Here every
version runs in the same rounds on one database: each round starts each version's API under gunicorn (4 workers ×
2 threads, as ``bench.http``) from its own checkout and virtual environment, then the floor
(``bench/floor_app.py``) from this one, and fires ``extend`` with wrk at 8 and 32 connections as ``bench.http``
does. The order is reversed every other round, so neither side always goes first. Besides req/s and p99, the CPU
time each request cost is read from ``/proc``: the gunicorn workers', and PostgreSQL's (every ``postgres:``
process of the machine), which the machine's noise moves much less than throughput.

A CHECKOUT is a directory holding the project with its ``.venv`` (``git worktree add /tmp/before <commit>`` and
``make .venv/.installed-stamp`` there); ``.`` is this one. The database is made with this checkout's schema, so
the versions compared must share it. Prints the medians and writes every run to
``bench/results/compare-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.http import ROOT, WARM_UP_SECONDS, prepare, serving, wrk
from bench.pg import scratch_database, vacuum

FLOOR = "floor"


def cpu_seconds(pids: list[str]) -> float:
    """User and system CPU time of the processes ``pids`` so far (those gone since count nothing)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _pids(*arguments: str) -> list[str]:
    return subprocess.run(["pgrep", *arguments], capture_output=True, text=True).stdout.split()


def measure(port: int, workers_of: int, connections: int, seconds: int, environment: dict[str, str]) -> dict[str, Any]:
    """wrk against ``port`` for ``seconds``; the CPU each request cost the workers of ``workers_of`` and PostgreSQL."""
    workers = _pids("-P", str(workers_of))
    server, database = cpu_seconds(workers), cpu_seconds(_pids("-f", "postgres:"))
    figure = wrk(port, connections, seconds, environment)
    requests = max(figure["rps"] * seconds, 1)
    return {**figure,
            "server_cpu_ms": round((cpu_seconds(workers) - server) * 1000 / requests, 3),
            "postgres_cpu_ms": round((cpu_seconds(_pids("-f", "postgres:")) - database) * 1000 / requests, 3)}


def run(checkouts: dict[str, Path], seconds: int, rounds: int, cases: int = 2000) -> dict[str, Any]:
    variants = [(name, Path(checkout).resolve(), "api.wsgi:app") for name, checkout in checkouts.items()]
    variants.append((FLOOR, ROOT, "bench.floor_app:app"))
    runs: dict[str, list[dict[str, Any]]] = {}
    with scratch_database() as url:
        environment = prepare(url, cases)
        for round_ in range(rounds):
            for name, checkout, target in variants if round_ % 2 == 0 else variants[::-1]:
                vacuum(url)
                with serving(target, url, python=str(python_of(checkout)), root=checkout) as (process, port):
                    wrk(port, 8, WARM_UP_SECONDS, environment)
                    for connections in (8, 32):
                        runs.setdefault(f"{name}_c{connections}", []).append(
                            measure(port, process.pid, connections, seconds, environment))
    medians = {key: {figure: round(statistics.median(run[figure] for run in values), 3)
                     for figure in ("rps", "p99_ms", "server_cpu_ms", "postgres_cpu_ms")}
               for key, values in runs.items()}
    return {"checkouts": {name: str(path) for name, path in checkouts.items()}, "commits": {
        name: commit_of(Path(path)) for name, path in checkouts.items()}, "seconds": seconds, "rounds": rounds,
        "cores": os.cpu_count(), "runs": runs, "medians": medians}


def python_of(checkout: Path) -> Path:
    """The interpreter of ``checkout``'s virtual environment."""
    return checkout / ".venv" / "bin" / "python"


def commit_of(checkout: Path) -> str:
    found = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True)
    return found.stdout.strip() or "?"


def checkouts_from(parser: argparse.ArgumentParser, pairs: list[str],
                   reserved: tuple[str, ...] = (FLOOR,)) -> dict[str, Path]:
    """``NAME=CHECKOUT`` arguments as names and directories (a bad one ends the command with its usage); the
    ``reserved`` names are the command's own figures."""
    checkouts = {}
    for pair in pairs:
        name, _, checkout = pair.partition("=")
        if not name or not checkout or name in reserved or name in checkouts:
            parser.error(f"{pair!r}: expected NAME=CHECKOUT, each name once (and none of {', '.join(reserved)})")
        checkouts[name] = Path(checkout).resolve()
    return checkouts


def render(result: dict[str, Any]) -> str:
    lines = [f"{result['rounds']} rounds of {result['seconds']} s, {result['cores']} cores; medians "
             "(req/s, p99 ms, CPU ms a request: server, PostgreSQL):"]
    medians = result["medians"]
    for key, figures in medians.items():
        name, connections = key.rsplit("_c", 1)
        label = f"{name} ({result['commits'][name]})" if name in result["commits"] else name
        floor = medians[f"{FLOOR}_c{connections}"]["rps"]
        lines.append(f"  {label:24} c{connections:<3} {figures['rps']:8.1f} req/s ({figures['rps'] / floor:.2f}× the "
                     f"floor)  p99 {figures['p99_ms']:7.2f}  server {figures['server_cpu_ms']:.2f}  "
                     f"PostgreSQL {figures['postgres_cpu_ms']:.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.compare")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("checkouts", nargs="+", metavar="NAME=CHECKOUT")
    arguments = parser.parse_args()
    result = run(checkouts_from(parser, arguments.checkouts), arguments.seconds, arguments.rounds)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    written = ROOT / "bench" / "results" / f"compare-{stamp}.json"
    written.write_text(json.dumps(result, indent=2))
    print(render(result))
    print(f"written to {written.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
