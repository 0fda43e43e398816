"""Roster import on PostgreSQL: rows per second and the peak memory of the importing process, for a small and
a large generated roster (the large one must not need more memory: the import streams)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.pg import prepared_app, scratch_database
from bench.roster import write

ROOT = Path(__file__).resolve().parent.parent


def _import(url: str, path: Path) -> dict[str, Any]:
    environment = {**os.environ, "DATABASE_URL": url, "GONGHUI_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    code = ("import resource, runpy, sys; sys.argv = ['gonghui', 'import-enterprises', sys.argv[1], '--report', "
            "sys.argv[2]]\ntry:\n    runpy.run_module('api.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    started = time.perf_counter()
    output = subprocess.run([sys.executable, "-c", code, str(path), str(path) + ".rejected.csv"], env=environment,
                            capture_output=True, text=True, timeout=1800, cwd=path.parent)
    seconds = time.perf_counter() - started
    rows = int(re.search(r"(\d+) rows:", output.stdout).group(1))  # type: ignore[union-attr]
    opened = int(re.search(r"(\d+) formation cases opened", output.stdout).group(1))  # type: ignore[union-attr]
    rss = int(re.search(r"maxrss_kb (\d+)", output.stdout).group(1)) // 1024  # type: ignore[union-attr]
    return {"rows": rows, "cases_opened": opened, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds, 1),
            "peak_rss_mb": rss}


def run(small: int, large: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, rows in (("small", small), ("large", large)):
            path = write(rows, Path(folder) / f"roster-{rows}.csv")
            with scratch_database() as url:
                app = prepared_app(url)
                with app.app_context():
                    from api.extensions import db

                    db.engine.dispose()
                results[label] = _import(url, path)
    results["memory_growth_mb"] = results["large"]["peak_rss_mb"] - results["small"]["peak_rss_mb"]
    return results


if __name__ == "__main__":
    print(run(int(sys.argv[1]), int(sys.argv[2])))
