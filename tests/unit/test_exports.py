"""Formula injection: every cell the service writes to CSV or Excel goes through one helper."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from api.exports import SafeCsvWriter, safe_cell, safe_row


@pytest.mark.parametrize("text", ['=HYPERLINK("http://evil.example","点此")', "+SUM(1+1)", "-2+3", "@SUM(A1)",
                                  "\t=1+1", "\r=1+1", "=1", "-", "+", "@"])
def test_a_cell_that_would_run_as_a_formula_is_quoted(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", [12, -12, 3.5, Decimal("-12.50"), "-12.50", "+86", "12", "温岭市", "a=b", None,
                                   True, "91331081158813992N", "2026-11-24"])
def test_numbers_and_plain_text_stay_as_they_are(value: object) -> None:
    assert safe_cell(value) == value
    assert type(safe_cell(value)) is type(value)


def test_the_csv_writer_quotes_every_cell() -> None:
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(["=cmd|' /C calc'!A0", 5, "ok"])
    writer.writerows([["@x", Decimal("1.00")]])
    assert out.getvalue() == "'=cmd|' /C calc'!A0,5,ok\r\n'@x,1.00\r\n"
    assert safe_row(["+1+1", 2]) == ["'+1+1", 2]
