"""Instructions per fired event under callgrind (``python -m bench.instructions``) on a tiny database: this
checkout and the floor, a few requests each, every figure read back."""

from __future__ import annotations

import shutil

import pytest

from bench import instructions, pg
from bench.http import ROOT
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres


def test_this_checkout_and_the_floor_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("valgrind") is None:
        pytest.skip("needs valgrind (Debian package valgrind; .ci/run installs it)")
    monkeypatch.setattr(pg, "ADMIN_URL", PG_URL)   # the scratch database beside the suite's
    result = instructions.run(3, {"now": ROOT}, cases=10)

    assert set(result["counted"]) == {"now", "floor"}
    ours, floor = result["counted"]["now"], result["counted"]["floor"]
    # a fired event costs some hundred thousand instructions at the very least, and ours more than the floor's
    assert floor["instructions_per_request"] > 100_000 and floor["to_floor"] == 1.0
    assert ours["instructions_per_request"] > floor["instructions_per_request"] and ours["to_floor"] > 1
    assert ours["commit"] not in ("", "?")
    text = instructions.render(result)
    assert text.splitlines()[0].split()[:2] == ["now", f"({ours['commit']})"] and "× the floor" in text
