"""Small helpers: percentiles, repeated runs, the result table."""

from __future__ import annotations

import statistics
from collections.abc import Callable


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def per_call_us(function: Callable[[], object], calls: int, repeats: int = 5) -> list[float]:
    """Microseconds per call, measured in batches of ``calls``; one figure per call, over ``repeats`` runs."""
    import time

    samples: list[float] = []
    for _ in range(repeats):
        for _ in range(calls):
            started = time.perf_counter_ns()
            function()
            samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(samples), 2), "p99": round(percentile(samples, 0.99), 2)}


def table(rows: list[list[str]]) -> str:
    widths = [max(len(str(row[column])) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
