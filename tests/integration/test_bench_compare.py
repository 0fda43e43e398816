"""The side-by-side HTTP comparison (``python -m bench.compare``) on a tiny database: this checkout against the
floor, one short round, every figure read back."""

from __future__ import annotations

import shutil

import pytest

from bench import compare, pg
from bench.http import ROOT
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres


def test_a_checkout_and_the_floor_are_measured_in_the_same_round(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("needs wrk (Debian package wrk; .ci/run installs it)")
    monkeypatch.setattr(pg, "ADMIN_URL", PG_URL)   # the scratch database beside the suite's
    result = compare.run({"now": ROOT}, seconds=1, rounds=1, cases=20)

    assert set(result["medians"]) == {"now_c8", "now_c32", "floor_c8", "floor_c32"}
    for key, runs in result["runs"].items():
        (figure,) = runs
        assert figure["rps"] > 0 and figure["p99_ms"] > 0, key
        assert figure["server_cpu_ms"] > 0 and figure["postgres_cpu_ms"] >= 0, key
    assert result["commits"]["now"] not in ("", "?")
    text = compare.render(result)
    assert f"now ({result['commits']['now']})" in text and "× the floor" in text
