"""Run the benchmarks: ``python -m bench --quick`` (make bench) or ``--full`` (make bench-full).

Prints one table with each figure beside its baseline, measured in the same run, and writes the results as
JSON to ``bench/results/``. The machine is shared and noisy: compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import documents, engine, http, importer, migrate, notify, scale, sweep, webhooks
from bench.stats import table

RESULTS = Path(__file__).resolve().parent / "results"
BENCHMARKS = ["engine", "sweep", "http", "import", "scale", "notify", "webhooks", "documents", "migrate"]


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}×" if denominator else "—"


def rows_of(results: dict[str, Any]) -> list[list[str]]:
    rows = [["benchmark", "figure", "baseline (same run)", "ratio", "target"]]
    e = results.get("engine")
    if e:
        rows += engine_rows(e)
    return rows + sweep_rows(results) + http_rows(results.get("http")) + import_rows(results) + figure_rows(results)


def engine_rows(e: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    rows.append(["engine: fire an event (µs, median/p99)", f"{e['engine']['median']} / {e['engine']['p99']}",
                 f"dict lookup {e['dict_lookup']['median']}", "", "≤ 20 µs"])
    rows.append(["  vs a Machine built per case", f"{e['engine']['median']}",
                 f"{e['machine_per_case']['median']} / p99 {e['machine_per_case']['p99']}",
                 ratio(e["machine_per_case"]["median"], e["engine"]["median"]) + " cheaper", ""])
    if e.get("spiffworkflow"):
        rows.append(["  vs SpiffWorkflow load-step-dump", f"{e['engine']['median']}",
                     f"{e['spiffworkflow']['median']} / p99 {e['spiffworkflow']['p99']}",
                     ratio(e["spiffworkflow"]["median"], e["engine"]["median"]) + " cheaper", "≥ 20×"])
    return rows


def sweep_rows(results: dict[str, Any]) -> list[list[str]]:
    """The sweep against an APScheduler job per deadline, its lag, and 100,000 timers (full runs)."""
    rows: list[list[str]] = []
    s = results.get("sweep")
    if s:
        naive = s["apscheduler_job_per_deadline"]
        baseline = naive["end_to_end_per_s"]
        rows.append([f"sweep: escalations/s, {s['timers']} due timers, 1 sweeper (median of {s['repeats']})",
                     f"{s['one_sweeper']['per_s']}", f"APScheduler job per deadline {baseline}/s "
                     f"({naive['jobs']} jobs)", ratio(s["one_sweeper"]["per_s"], baseline), "≥ 2000/s, ≥ 5×"])
        rows.append(["  APScheduler alone (empty jobs), for reference", "",
                     f"{s['apscheduler_empty_jobs']['end_to_end_per_s']}/s", "", ""])
        if "two_sweepers" in s:
            rows.append(["  2 sweeper processes (incl. process start)", f"{s['two_sweepers']['per_s']}", "", "", ""])
        lag = s["lag"]
        rows.append([f"sweep lag, due → fired (s), {lag['timers']} timers, interval {lag['interval_s']} s",
                     f"max {lag['max_s']}, p99 {lag['p99_s']}", f"interval + longest sweep {lag['bound_s']}",
                     "", "≤ interval + batch"])
    big = results.get("sweep_100k")
    if big:
        rows.append([f"sweep: {big['timers']} due timers, 2 sweeper processes (s)", f"{big['two_sweepers']['seconds']}",
                     f"1 sweeper {big['one_sweeper']['seconds']} s", "", "< 60 s"])
    return rows


def http_rows(h: dict[str, Any] | None) -> list[list[str]]:
    """Firing events over HTTP against a plain Flask baseline and a raw-SQL floor, round trips, lists, memory."""
    if not h:
        return []
    if "skipped" in h:
        return [["HTTP", h["skipped"], "", "", ""]]
    rows: list[list[str]] = []
    for connections in (8, 32):
        ours, base = h[f"gonghui_fire_c{connections}"], h[f"baseline_fire_c{connections}"]
        rows.append([f"HTTP fire event, {connections} connections (req/s; p50/p99 ms)",
                     f"{ours['rps']:.0f}; {ours['p50_ms']}/{ours['p99_ms']}",
                     f"{base['rps']:.0f}; {base['p50_ms']}/{base['p99_ms']}", ratio(ours["rps"], base["rps"]),
                     "≥ 0.70×, p99 ≤ 2×"])
        floor = h.get(f"floor_fire_c{connections}")
        if floor:
            rows.append(["  floor: the same writes in raw SQL, no ORM (ours: p99 as a multiple of its)",
                         f"p99 {ratio(ours['p99_ms'], floor['p99_ms'])}",
                         f"{floor['rps']:.0f}; {floor['p50_ms']}/{floor['p99_ms']}",
                         ratio(ours["rps"], floor["rps"]), "≥ 0.60×, p99 ≤ 2×"])
    return rows + _round_trip_rows(h.get("round_trips")) + _load_rows(h)


def _round_trip_rows(trips: dict[str, Any] | None) -> list[list[str]]:
    """Round trips to PostgreSQL per fired event, beside the floor's and the baseline's."""
    if not trips:
        return []
    ours, before = trips["gonghui"], trips["gonghui_before"]
    return [["  round trips to PostgreSQL per fired event (with an Idempotency-Key)",
             f"{ours['round_trips']:g} ({_kinds(ours['by_kind'])}; compiled statements from the "
             f"cache: {ours['compiling'].get('cached', 0):g} of {ours['by_kind']['statements']:g})",
             f"floor {trips['floor']['round_trips']:g}, baseline {trips['baseline']['round_trips']:g}",
             "", f"before: {before['round_trips']:g} ({before['commit']})"]]


def _load_rows(h: dict[str, Any]) -> list[list[str]]:
    """Lists read under load, a worker's memory over many requests, and how the HTTP figures were taken."""
    rows: list[list[str]] = []
    for label in ("worklist", "list"):
        figure = h[f"gonghui_{label}_c8"]
        rows.append([f"HTTP GET {label} under load, 8 connections (req/s; p50/p99 ms)",
                     f"{figure['rps']:.0f}; {figure['p50_ms']}/{figure['p99_ms']}", "", "",
                     "(one client: scale rows)"])
    m = h.get("memory")
    if m:
        first = m["samples"][1]["rss_mb"] if len(m["samples"]) > 1 else m["samples"][0]["rss_mb"]
        rows.append([f"API worker RSS after {m['requests']:,} requests to one server (MB)",
                     f"{m['samples'][-1]['rss_mb']}", f"after the first round {first}",
                     f"+{m['growth_mb']} MB", "< 150 MB, flat"])
    rows.append([f"  (HTTP figures: median of {h['repeats']} runs, gunicorn {h['workers']}×{h['threads']})",
                 "", "", "", ""])
    return rows


def import_rows(results: dict[str, Any]) -> list[list[str]]:
    """The roster import's speed and memory, and query latency as the tables grow."""
    rows: list[list[str]] = []
    i = results.get("import")
    if i:
        rows.append([f"roster import rows/s ({i['large']['rows']} rows, PostgreSQL)", f"{i['large']['rows_per_s']}",
                     f"{i['small']['rows']} rows: {i['small']['rows_per_s']}", "", "≥ 5000 rows/s"])
        rows.append(["  peak memory of the import (MB)", f"{i['large']['peak_rss_mb']}",
                     f"{i['small']['rows']} rows: {i['small']['peak_rss_mb']}",
                     f"+{i['memory_growth_mb']} MB", "within 50 MB"])
    c = results.get("scale")
    if c:
        small, large = c["small"], c["large"]
        for label, figure in large["latency"].items():
            before = small["latency"][label]["p95_ms"]
            rows.append([f"p95 ms at {large['cases']:,} cases: {label}", f"{figure['p95_ms']}",
                         f"{small['cases']:,} cases: {before}", ratio(figure["p95_ms"], before),
                         ("(the baseline)" if "(before)" in label else ("< 50 ms, ≤ 1.5×" if "report" in label
                          else "< 30 ms, ≤ 1.5×") if large["cases"] >= 1_000_000 else "< 30/50 ms (ratio: full run)")])
        before = large["latency"].get("report mediation_case (street), straight from the cases (before)")
        after = large["latency"].get("report mediation_case (street), from the summary, in process")
        if before and after:
            rows.append([f"  mediation report at {large['cases']:,} cases: summary vs straight (p95)",
                         f"{after['p95_ms']}", f"straight {before['p95_ms']}", ratio(after["p95_ms"], before["p95_ms"]),
                         "(the summary's gain)"])
        if large.get("summary_rows"):
            rows.append([f"  report summary rows at {large['cases']:,} cases (after COPY → compacted)",
                         f"{large['summary_rows']['compacted']:,}", f"{large['summary_rows']['after_copy']:,}", "", ""])
    return rows + figure_rows(results)


def _kinds(by_kind: dict[str, float]) -> str:
    """``{"statements": 7, "begin_pipelined": 1}`` → "7 statements, BEGIN and COMMIT pipelined"."""
    parts = [f"{by_kind['statements']:g} statements"
             + (f" ({by_kind['statements_pipelined']:g} sent with the one before)"
                if by_kind.get("statements_pipelined") else "")]
    alone = [kind.upper() for kind in ("ping", "begin", "commit", "rollback") if by_kind.get(kind)]
    pipelined = [kind.removesuffix("_pipelined").upper() for kind in ("begin_pipelined", "commit_pipelined")
                 if by_kind.get(kind)]
    if alone:
        parts.append(" + ".join(alone))
    if pipelined:
        parts.append(" and ".join(pipelined) + " pipelined")
    return ", ".join(parts)


def figure_rows(results: dict[str, Any]) -> list[list[str]]:
    """Notices and webhooks (ownership), printed documents."""
    rows: list[list[str]] = []
    n = results.get("notify")
    if n:
        rows.append([f"sweep: escalations/s with notices + outbox rows, {n['timers']} timers (median of "
                     f"{n['repeats']})", f"{n['with_notices']['per_s']}", f"without them {n['without']['per_s']}",
                     ratio(n["with_notices"]["per_s"], n["without"]["per_s"]), "≥ 0.8×"])
    w = results.get("webhooks")
    if w:
        rows.append([f"webhook deliveries/s, 1 process, local receiver ({w['messages']} messages, median of "
                     f"{w['repeats']})", f"{w['deliver_due']['per_s']}",
                     f"plain POSTs {w['plain_posts']['per_s']}",
                     ratio(w["deliver_due"]["per_s"], w["plain_posts"]["per_s"]), "≥ 500/s"])
    d = results.get("documents")
    if d:
        rows.append([f"PDF receipts/s, 1 process (p50/p95 ms; {d['documents']} × {d['repeats']})",
                     f"{d['pdf']['per_s']} ({d['pdf']['p50_ms']}/{d['pdf']['p95_ms']})",
                     f"HTML only {d['html_only']['per_s']} ({d['html_only']['p50_ms']}/{d['html_only']['p95_ms']})",
                     ratio(d["pdf"]["per_s"], d["html_only"]["per_s"]), "≥ 20/s"])
        if d.get("pdf_stock"):
            stock = d["pdf_stock"]
            rows.append(["  vs WeasyPrint set up per document (CPU ms per PDF)",
                         f"{d['pdf']['per_s']} ({d['pdf']['cpu_ms']} ms CPU)",
                         f"{stock['per_s']} ({stock['cpu_ms']} ms CPU)", ratio(d["pdf"]["per_s"], stock["per_s"]), ""])
    m = results.get("migrate")
    if m:
        rows.append([f"definitions: open cases migrated/s, deadlines recounted ({m['cases']} cases, median of "
                     f"{m['repeats']})", f"{m['migrated']['per_s']}", f"one event per case {m['fire_each']['per_s']}",
                     ratio(m["migrated"]["per_s"], m["fire_each"]["per_s"]), "≥ 2000/s"])
        large = m.get("dry_run_large")
        rows.append([f"  dry run of {large['cases'] if large else m['cases']} open cases (s)",
                     f"{large['seconds'] if large else m['dry_run_s']}", "", "", "< 60 s at 100,000"])
    return rows


def measure(chosen: set[str], full: bool) -> dict[str, Any]:
    """Run the ``chosen`` benchmarks, at the larger sizes when ``full``; their results by name."""
    runs: dict[str, Callable[[], Any]] = {
        "engine": lambda: engine.run(20000 if full else 5000),
        "sweep": lambda: sweep.run(10000, repeats=3, baseline_jobs=3000 if full else 1000),
        "http": lambda: http.run(10 if full else 3, 2000 if full else 500, memory_requests=100_000 if full else 10_000),
        "import": lambda: importer.run(10000, 100000),
        "scale": lambda: scale.run(100_000, 1_000_000, 10, 3000) if full else scale.run(10_000, 100_000, 10, 50),
        "notify": lambda: notify.run(10000 if full else 2000, repeats=3),
        "webhooks": lambda: webhooks.run(10000 if full else 2000, repeats=3),
        "documents": lambda: documents.run(500 if full else 100, repeats=3),
        "migrate": lambda: migrate.run(10000 if full else 2000, repeats=3, dry_run_cases=100_000 if full else 20_000),
    }
    results: dict[str, Any] = {}
    for name, run in runs.items():
        if name not in chosen:
            continue
        results[name] = run()
        if name == "sweep" and full:
            results["sweep_100k"] = sweep.run(100000, repeats=1, baseline_jobs=0)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--full", action="store_true", help="larger sizes and longer runs")
    parser.add_argument("--quick", action="store_true", help="the default: about six minutes")
    parser.add_argument("--only", choices=BENCHMARKS, action="append")
    parser.add_argument("--show", metavar="JSON", help="print the table of a saved run (bench/results/…) and exit")
    arguments = parser.parse_args()
    if arguments.show:
        saved = json.loads(Path(arguments.show).read_text())
        print(f"gonghui-workflow benchmarks ({saved['mode']}, {saved['cores']} cores, Python {saved['python']}, "
              f"{saved['when']})\n")
        print(table(rows_of(saved)))
        return
    logging.disable(logging.WARNING)
    os.environ.setdefault("GONGHUI_LOG_LEVEL", "WARNING")
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                               "mode": "full" if arguments.full else "quick", "cores": os.cpu_count(),
                               "python": platform.python_version()}
    results.update(measure(set(arguments.only or BENCHMARKS), arguments.full))
    print(f"\ngonghui-workflow benchmarks ({results['mode']}, {results['cores']} cores, Python {results['python']}, "
          f"{results['when']})\n")
    print(table(rows_of(results)))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"{results['mode']}-{stamp}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    if "scale" in results:
        print("\nquery plans at the larger size (EXPLAIN):")
        for label, plan in results["scale"]["plans"].items():
            print(f"-- {label}\n" + "\n".join(plan))
    print(f"\nresults written to bench/results/{results['mode']}-{stamp}.json")


if __name__ == "__main__":
    main()
