"""Lists, worklists, a case with its history and the reports at two sizes of database on PostgreSQL, with the
cases and history written by COPY; the query plans of the list queries are shown with EXPLAIN.

The COPY of the cases fires the triggers that keep the report summary (one grouped insert for the statement),
then the summary is compacted, as the scheduler does every five minutes. Every lifecycle's report is timed at
street and city scope, without a period, for a quarter, and for a range with partial months at both ends; the
mediation report computed straight from the cases (as before the summary: ``tests/report_oracle.py``) is timed
beside it, in process, as the baseline of the same run.

Both databases are generated first, then measured side by side in a fresh Python process (``python -m
bench.scale small=URL large=URL``): an app over each, both warmed up, the heap frozen (``gc.freeze()``), then
every request timed against the small and the large database in turn. Measured one after the other — in one
process, or each in its own — the larger database inherited the process's grown heap, or met a checkpoint or
another process the smaller one did not, and the ratio of the two sizes measured those as much as the
database's growth (reports of 2 ms came out 1.8× at one size and 1.1× side by side)."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import pg
from bench.pg import prepared_app, scratch_database
from bench.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)

STATES = ["registered", "mediating", "agreed", "closed", "rejected", "failed", "withdrawn"]
TERMINAL = {"closed", "rejected", "failed", "withdrawn"}
KINDS = ["wages", "overtime", "social_insurance", "injury", "termination", "other"]
CASE_COLUMNS = ("id", "number", "definition_key", "definition_version", "state", "level", "org_unit_id", "org_path",
                "data", "amount", "party", "category", "closed", "due_at", "due_provisional", "overdue", "escalations",
                "created_by", "created_at", "updated_at", "version")
HISTORY_COLUMNS = ("case_id", "seq", "event", "from_state", "to_state", "level_from", "level_to", "org_from",
                   "org_to", "actor", "at", "data", "hash")


def generate(url: str, cases: int, history_per_case: int) -> dict[str, int]:
    """Write ``cases`` mediation cases over every unit, each with ``history_per_case`` history rows, by COPY."""
    engine = sa.create_engine(url)
    rng = random.Random(11)
    # The shape of a real case table, the same at every size (a larger table is a denser one): cases opened
    # evenly over the three years before now; those older than 60 days closed one way or another (the law gives
    # mediation 15 days, extensions included it is over within two months); the recent ones in every state,
    # due 1–40 days after opening (so some are late), 5 % of the open ones marked overdue (督办).
    end = datetime.now(UTC)
    start = end - timedelta(days=3 * 365)
    span = (end - start).total_seconds()
    recent = end - timedelta(days=60)
    with engine.begin() as connection:
        units = list(connection.execute(sa.text("SELECT id, code, path, level FROM org_units")))
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY cases ({', '.join(CASE_COLUMNS)}) FROM STDIN") as copy:
                for case_id in range(1, cases + 1):
                    unit = rng.choice(units)
                    created = start + timedelta(seconds=span * case_id / (cases + 1))
                    state = rng.choice(STATES) if created >= recent else rng.choice(sorted(TERMINAL))
                    due = created + timedelta(days=rng.randrange(1, 40)) if state not in TERMINAL else None
                    overdue = state not in TERMINAL and rng.random() < 0.05
                    copy.write_row((case_id, f"TJ-{created.year}-{case_id:07d}", "mediation_case", 1, state,
                                    unit.level, unit.id, unit.path,
                                    json.dumps({"claims": "拖欠工资", "amount": "1000.00"}, ensure_ascii=False),
                                    "1000.00", f"温岭市测试{case_id % 5000}有限公司", rng.choice(KINDS),
                                    state in TERMINAL, due, False, overdue, 0, "bench", created, created,
                                    history_per_case))
            with cursor.copy(f"COPY case_history ({', '.join(HISTORY_COLUMNS)}) FROM STDIN") as copy:
                for case_id in range(1, cases + 1):
                    at = start + timedelta(seconds=span * case_id / (cases + 1))
                    for seq in range(1, history_per_case + 1):
                        copy.write_row((case_id, seq, "open" if seq == 1 else "extend", None if seq == 1 else
                                        "mediating", "mediating", "street", "street", "chengdong", "chengdong",
                                        "bench", at + timedelta(hours=seq), "{}", f"{case_id:032x}{seq:032x}"))
        connection.execute(sa.text(f"SELECT setval('cases_id_seq', {cases})"))
    summary_rows = {}
    with engine.begin() as connection:   # as the scheduler's compaction would have within five minutes
        from sqlalchemy.orm import Session

        from api.report_summary import compact

        summary_rows["after_copy"] = connection.scalar(sa.text("SELECT count(*) FROM report_summaries"))
        compact(Session(bind=connection))
        summary_rows["compacted"] = connection.scalar(sa.text("SELECT count(*) FROM report_summaries"))
    # as autovacuum would leave a table in service: statistics, and the visibility map for index-only scans
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE cases"))
        connection.execute(sa.text("VACUUM ANALYZE case_history"))
        connection.execute(sa.text("VACUUM ANALYZE report_summaries"))
    engine.dispose()
    return summary_rows


def measure(apps: dict[str, Any], requests: int) -> dict[str, dict[str, dict[str, float]]]:
    """p50 and p95 of every request against each app of ``apps`` (by size), the apps taking turns request by
    request: whatever disturbs the machine or the process while one request is timed falls on every size alike."""
    from api.auth import issue_token
    from api.extensions import db
    from api.models import Case, User

    callers = {}
    for size, app in apps.items():
        with app.app_context():
            users = {name: db.session.scalar(sa.select(User).where(User.username == name))
                     for name in ("city_admin", "chengdong_clerk")}
            tokens = {name: issue_token(user, kind="service")[0] for name, user in users.items()}
            cases = db.session.scalar(sa.select(sa.func.count()).select_from(Case))
            db.session.commit()
        callers[size] = (app.test_client(), tokens, cases)
    fewest = min(cases for _, _, cases in callers.values())
    paths = {
        "worklist (street clerk)": ("chengdong_clerk", "/api/v1/worklist"),
        "worklist (city administrator)": ("city_admin", "/api/v1/worklist"),
        "list, the whole city, newest first": ("city_admin", "/api/v1/cases?per_page=50"),
        "filtered list (state + unit)": ("city_admin", "/api/v1/cases?state=mediating&org_unit=chengdong&per_page=50"),
        "list sorted by due time": ("city_admin", "/api/v1/cases?sort=due_at&overdue=false&per_page=50"),
        "case with its history": ("city_admin", "/api/v1/cases/{case}/history"),
        **report_paths(),
    }
    results: dict[str, dict[str, dict[str, float]]] = {size: {} for size in apps}
    rng = random.Random(3)
    for label, (user, path) in paths.items():
        samples: dict[str, list[float]] = {size: [] for size in apps}
        count = requests if "report" not in label else max(5, requests // 10)
        for _ in range(count):
            target = path.format(case=rng.randrange(1, min(1000, fewest + 1)))   # one of the first 999 cases
            for size, (client, tokens, _) in callers.items():
                started = time.perf_counter()
                response = client.get(target, headers={"Authorization": f"Bearer {tokens[user]}"})
                samples[size].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (size, target, response.status_code)
        for size, taken in samples.items():
            results[size][label] = {"p50_ms": round(percentile(taken, 0.5), 2),
                                    "p95_ms": round(percentile(taken, 0.95), 2)}
    return results


REPORTS = ["mediation_case", "worker_report", "medical_aid_claim", "union_formation", "union_term"]


def report_paths() -> dict[str, tuple[str, str]]:
    """Each lifecycle's report at street and city scope: no period, the last whole quarter, and a range that
    starts and ends inside a month (day rows at both edges, whole months between)."""
    today = datetime.now(UTC).date()
    quarter_end = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1) - timedelta(days=1)
    quarter_start = quarter_end.replace(month=quarter_end.month - 2, day=1)
    custom = (today - timedelta(days=200), today - timedelta(days=20))
    periods = {"": "", ", quarter": f"?from={quarter_start}&to={quarter_end}",
               ", partial months": f"?from={custom[0]}&to={custom[1]}"}
    return {f"report {key} ({scope}{name})": (user, f"/api/v1/reports/{key}{query}")
            for key in REPORTS for scope, user in (("street", "chengdong_clerk"), ("city", "city_admin"))
            for name, query in periods.items()}


def straight_baseline(app: Any, runs: int) -> dict[str, dict[str, float]]:
    """The mediation report at street scope computed straight from the cases (the oracle the tests keep), and
    from the summary, both in process: the summary's gain in the same run."""
    from api.extensions import db
    from api.lifecycles import context, registry
    from api.present import engine
    from api.reports import ReportScope
    from tests.report_oracle import mediation_case as straight

    results = {}
    with app.test_request_context():
        hooks = context(db.session, engine(), "mediation_case", None, app.config["CLOCK"]())
        scope = ReportScope("mediation_case", "wenling/chengdong/")
        summary = registry()["mediation_case"].report
        for label, report in (("report mediation_case (street), straight from the cases (before)", straight),
                              ("report mediation_case (street), from the summary, in process", summary)):
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                report(db.session, scope, hooks)   # type: ignore[misc]
                samples.append((time.perf_counter() - started) * 1000)
                db.session.rollback()
            results[label] = {"p50_ms": round(percentile(samples, 0.5), 2),
                              "p95_ms": round(percentile(samples, 0.95), 2)}
    return results


# the worklists' conditions as api.cases.queries writes them (the lifecycles' other arms left out: no such cases)
WORKLIST_STREET = ("NOT closed AND org_path LIKE 'wenling/chengdong/%' AND CASE WHEN (definition_key = "
                   "'mediation_case' AND definition_version = 1 AND state IN ('registered', 'mediating', 'agreed') "
                   "OR definition_key = 'worker_report' AND category IN ('wage_arrears')) THEN true ELSE false END")
WORKLIST_CITY = ("NOT closed AND org_path LIKE 'wenling/%' AND CASE WHEN (overdue OR definition_key = "
                 "'worker_report' AND category IN ('wage_arrears')) THEN true ELSE false END")


def plans(url: str) -> dict[str, list[str]]:
    engine = sa.create_engine(url)
    queries = {
        "filtered list": "SELECT * FROM cases WHERE org_path LIKE 'wenling/chengdong/%' AND state = 'mediating' "
                         "ORDER BY created_at DESC, id DESC LIMIT 50",
        "filtered list, its count (up to 1000)": "SELECT count(*) FROM (SELECT 1 FROM cases WHERE org_path LIKE "
                                                 "'wenling/chengdong/%' AND state = 'mediating' LIMIT 1001) AS m",
        "worklist": f"SELECT * FROM cases WHERE {WORKLIST_STREET} ORDER BY overdue DESC, due_at NULLS LAST, id "
                    "LIMIT 51",
        "worklist, its count (up to 1000)": f"SELECT count(*) FROM (SELECT 1 FROM cases WHERE {WORKLIST_STREET} "
                                            "ORDER BY overdue DESC, due_at NULLS LAST, id LIMIT 1001) AS m",
        "worklist of the city administrator, its count (up to 1000)": (
            f"SELECT count(*) FROM (SELECT 1 FROM cases WHERE {WORKLIST_CITY} "
            "ORDER BY overdue DESC, due_at NULLS LAST, id LIMIT 1001) AS m"),
        "case history": "SELECT * FROM case_history WHERE case_id = 42 ORDER BY seq",
        "report summary (street, no period)": "SELECT state, level, category, closed, overdue, escalated, milestones, "
                                              "sum(n), sum(amount_cents) FROM report_summaries WHERE definition_key = "
                                              "'mediation_case' AND org_path LIKE 'wenling/chengdong/%' AND grain = "
                                              "'m' GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(n) <> 0",
        "list sorted by due time (not late)": "SELECT * FROM cases WHERE org_path LIKE 'wenling/%' AND NOT overdue "
                                              "AND coalesce(due_at, 'infinity'::timestamptz) > now() ORDER BY "
                                              "coalesce(due_at, 'infinity'::timestamptz), id LIMIT 50",
    }
    found = {}
    with engine.connect() as connection:
        for label, query in queries.items():
            found[label] = [row[0] for row in connection.execute(sa.text(f"EXPLAIN {query}"))]
    engine.dispose()
    return found


def run(small: int, large: int, history_per_case: int, requests: int) -> dict[str, Any]:
    """Generate both databases in this process, write everything out (``CHECKPOINT``), then measure both in one
    fresh process (``measured``), their requests taking turns."""
    results: dict[str, Any] = {}
    with scratch_database() as small_url, scratch_database() as large_url:
        urls = {"small": small_url, "large": large_url}
        for label, size in (("small", small), ("large", large)):
            app = prepared_app(urls[label])
            with app.app_context():
                from api.extensions import db

                db.engine.dispose()
            started = time.perf_counter()
            summary_rows = generate(urls[label], size, history_per_case)
            results[label] = {"cases": size, "history_rows": size * history_per_case,
                              "generated_in_s": round(time.perf_counter() - started, 1),
                              "summary_rows": summary_rows}
        checkpoint()
        for label, latency in measured(urls, requests).items():
            results[label]["latency"] = latency
        results["plans"] = plans(large_url)
    return results


def checkpoint() -> None:
    """Write every dirty page out now, so that the server's checkpoint after generating ten million rows does
    not fall inside a measurement (needs a superuser, or the pg_checkpoint role; skipped without)."""
    engine = sa.create_engine(pg.ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("CHECKPOINT"))
    except sa.exc.DBAPIError as error:
        log.warning("CHECKPOINT refused (%s): measured without it", error.orig)
    finally:
        engine.dispose()


def measured(urls: dict[str, str], requests: int) -> dict[str, dict[str, dict[str, float]]]:
    """The latencies of the databases at ``urls`` (by size), measured by ``python -m bench.scale`` in a process
    of its own."""
    environment = {"GONGHUI_SECRET_KEY": secrets.token_hex(32), **os.environ, "GONGHUI_LOG_LEVEL": "WARNING",
                   "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "latency.json"
        subprocess.run([sys.executable, "-m", "bench.scale", *(f"{size}={url}" for size, url in urls.items()),
                        "--requests", str(requests), "--output", str(output)], env=environment, cwd=ROOT, check=True)
        latency: dict[str, dict[str, dict[str, float]]] = json.loads(output.read_text())
    return latency


def measure_alone(urls: dict[str, str], requests: int) -> dict[str, dict[str, dict[str, float]]]:
    """An app over each generated database (its schema and demo data already there), all warmed up by one round
    of every request and of the baseline, the heap they leave frozen; then the timed rounds, taking turns."""
    from api import create_app
    from api.extensions import db

    apps = {size: create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"}) for size, url in urls.items()}
    measure(apps, 1)
    for app in apps.values():
        straight_baseline(app, 1)
    gc.collect()
    gc.freeze()   # what the warm-up left (modules, compiled statements, caches) is never scanned again
    latency = measure(apps, requests)
    for size, app in apps.items():   # the baseline takes ~1 s a run at 1,000,000 cases: fewer runs
        latency[size].update(straight_baseline(app, max(5, requests // 100)))
        with app.app_context():
            db.engine.dispose()
    return latency


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale",
                                     description="Measure generated databases side by side (run by bench.scale.run).")
    parser.add_argument("databases", nargs="+", metavar="SIZE=URL",
                        help="each database, generated by bench.scale.generate, under the name of its size")
    parser.add_argument("--requests", type=int, default=50, help="requests per list (a tenth per report)")
    parser.add_argument("--output", help="write the latencies as JSON to this file (default: standard output)")
    arguments = parser.parse_args(argv)
    urls = dict(database.split("=", 1) for database in arguments.databases)
    logging.disable(logging.WARNING)
    text = json.dumps(measure_alone(urls, arguments.requests), ensure_ascii=False)
    if arguments.output:
        Path(arguments.output).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
