"""``NAME=CHECKOUT`` arguments of ``bench.compare`` and ``bench.instructions``: a malformed pair, a repeated name or
one of the command's own figures ends the command with its usage line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.compare import FLOOR, checkouts_from
from bench.instructions import REFERENCES


def parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="python -m bench.instructions")


def test_pairs_become_names_and_resolved_directories(tmp_path: Path) -> None:
    found = checkouts_from(parser(), [f"before={tmp_path}", "after=."], tuple(REFERENCES))
    assert found == {"before": tmp_path.resolve(), "after": Path(".").resolve()}


@pytest.mark.parametrize("pairs", [["before"], ["=."], ["before="], ["a=.", "a=.."], ["floor=."], ["baseline=."]])
def test_a_bad_pair_ends_the_command_with_its_usage(pairs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        checkouts_from(parser(), pairs, tuple(REFERENCES))
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("usage: python -m bench.instructions") and "expected NAME=CHECKOUT" in error
    assert "floor, baseline" in error or "baseline, floor" in error


def test_bench_compare_reserves_only_the_floor() -> None:
    assert checkouts_from(parser(), ["baseline=."]) == {"baseline": Path(".").resolve()}
    with pytest.raises(SystemExit):
        checkouts_from(parser(), [f"{FLOOR}=."])
