"""Each lifecycle's rules, one module per lifecycle: pure functions of facts, ``now`` and the definition.

A rule takes what it decides on as plain values (the facts the service layer read from its tables), the
instant it decides at, and the definition (its ``config`` and deadlines): every number a federation may change
is read from there, never written here. Windows are counted by ``workflow.calendar`` exactly as deadlines are
(Civil Code days, working days, months, in Asia/Shanghai), on the calendar the caller passes in.

Like all of ``workflow``, these modules import no framework and nothing of ``api``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflow.definitions import Period

Faults = dict[str, list[str]]


def period_text(period: Period) -> str:
    """A period as a notice states it: “30 日”, “10 个工作日”, “3 个月”."""
    if period.unit == "working_days":
        return f"{period.count} 个工作日"
    if period.unit == "months":
        return f"{period.count} 个月"
    return f"{period.count} 日"
