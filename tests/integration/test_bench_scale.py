"""The scale benchmark on two tiny databases: both generated here, then measured side by side, request by request,
by a process of its own (``python -m bench.scale small=… large=…``), the figures read back into the table's
structure."""

from __future__ import annotations

import pytest

from bench import pg, scale
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres


def test_both_databases_are_measured_side_by_side_in_a_process_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg, "ADMIN_URL", PG_URL)   # the scratch databases beside the suite's
    results = scale.run(small=200, large=400, history_per_case=2, requests=5)

    labels = set(scale.report_paths())
    for size, cases in (("small", 200), ("large", 400)):
        figures = results[size]
        assert figures["cases"] == cases and figures["history_rows"] == cases * 2
        latency = figures["latency"]
        assert labels <= set(latency), labels - set(latency)
        assert "worklist (street clerk)" in latency and "case with its history" in latency
        assert any("straight from the cases" in label for label in latency)
        for label, figure in latency.items():
            assert 0 < figure["p50_ms"] <= figure["p95_ms"], (size, label, figure)
    assert results["plans"]["filtered list"]
