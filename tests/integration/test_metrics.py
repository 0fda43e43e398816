"""/metrics adds up every process: gunicorn workers and the scheduler count into PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode), and whichever worker answers the scrape reports them all."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]

# A process of the service, as a gunicorn worker or the scheduler is: its own app, counting into the directory.
PROCESS = textwrap.dedent("""
    import sys
    from api import create_app, metrics

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sys.argv[1], "INSTANCE_PATH": sys.argv[2]})
    assert metrics.multiprocess_mode()
    client = app.test_client()
    for _ in range(int(sys.argv[3])):
        assert client.get("/healthz").status_code == 200
    metrics.count_fired(sys.argv[4].split(",") if sys.argv[4] else [])
    if sys.argv[5] == "scrape":
        sys.stdout.write(client.get("/metrics").get_data(as_text=True))
""")


def run(directory: Path, tmp_path: Path, requests: int, fired: str = "", scrape: bool = False) -> str:
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PROCESS, f"sqlite:///{tmp_path / 'metrics.sqlite3'}",
                           str(tmp_path / "instance"), str(requests), fired, "scrape" if scrape else ""],
                          env=environment, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_a_scrape_adds_up_the_counts_of_every_worker_and_the_scheduler(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    run(directory, tmp_path, 3)                                 # one worker, gone since
    run(directory, tmp_path, 0, fired="escalate,escalate,lapse")  # the scheduler process
    found = samples(run(directory, tmp_path, 4, scrape=True))    # another worker answers the scrape
    healthz = (("endpoint", "health.healthz"), ("method", "GET"), ("status", "200"))
    assert found[("gonghui_http_requests_total", healthz)] == 7
    assert found[("gonghui_http_request_seconds_count", ())] == 7
    assert found[("gonghui_timers_fired_total", (("action", "escalate"),))] == 2
    assert found[("gonghui_timers_fired_total", (("action", "lapse"),))] == 1
    assert len(list(directory.glob("*.db"))) >= 3   # one file per process and kind of metric


def test_serve_counts_into_an_emptied_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import _metrics_directory

    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_4242.db").write_bytes(b"an earlier run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))
    assert _metrics_directory() == str(given) and not list(given.glob("*.db"))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    made = Path(_metrics_directory())
    assert made.is_dir() and made != given and not list(made.iterdir())
    made.rmdir()
