"""Cells for CSV and Excel files the service writes: the one place that keeps them from running as formulas.

A spreadsheet program takes a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return for a
formula (``=HYPERLINK(...)``, ``+SUM(1+1)``, DDE payloads). OWASP's rule: such a text cell is written with a
leading single quote, which the program shows as text. Numbers stay numbers (an ``int``, ``float`` or
``Decimal``, and a text that is a plain decimal number such as ``-12.50``, cannot be a formula).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import IO, Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?\Z")


def safe_cell(value: Any) -> Any:
    """The value as a cell that a spreadsheet program shows as it is, never evaluates."""
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text if isinstance(value, str) else value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in values]


class SafeCsvWriter:
    """``csv.writer`` whose every cell goes through :func:`safe_cell`."""

    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream)

    def writerow(self, values: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(values))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for values in rows:
            self.writerow(values)
