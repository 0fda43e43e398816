"""Instructions per fired event under callgrind (``python -m bench.instructions``) on a tiny database: this
checkout, the ORM baseline and the floor, a few requests each, every figure read back."""

from __future__ import annotations

import shutil

import pytest

from bench import instructions, pg
from bench.http import ROOT
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres


def test_this_checkout_the_baseline_and_the_floor_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("valgrind") is None:
        pytest.skip("needs valgrind (Debian package valgrind; .ci/run installs it)")
    monkeypatch.setattr(pg, "ADMIN_URL", PG_URL)   # the scratch database beside the suite's
    result = instructions.run(3, {"now": ROOT}, cases=10)

    assert set(result["counted"]) == {"now", "baseline", "floor"}
    ours, baseline, floor = (result["counted"][name] for name in ("now", "baseline", "floor"))
    # a fired event costs some hundred thousand instructions at the very least; the ORM's writes more than the
    # floor's hand-written ones, and ours (with everything the baseline leaves out) more than both
    assert floor["instructions_per_request"] > 100_000 and floor["to_floor"] == 1.0
    assert floor["instructions_per_request"] < baseline["instructions_per_request"] < ours["instructions_per_request"]
    assert ours["to_floor"] > baseline["to_floor"] > 1
    assert ours["commit"] not in ("", "?")
    text = instructions.render(result)
    assert text.splitlines()[0].split()[:2] == ["now", f"({ours['commit']})"] and "× the floor" in text
