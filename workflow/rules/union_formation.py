"""基层工会组建 (union_formation): which employers must form a union, and which may join a joint union.

工会法 (2021) art. 11 sets 25 members; Wenling screens the social-insurance roster for employers with
``config.threshold_staff`` insured staff or more, in operation for ``config.min_years_in_operation`` years or
more (Civil Code years back from the day of the screening) and without a union. Below the threshold an employer
without a union is a candidate for a joint union (联合基层工会).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from workflow.calendar import months_later


@dataclass(frozen=True)
class Screening:
    threshold_staff: int
    min_years_in_operation: int

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Screening:
        return cls(int(config["threshold_staff"]), int(config["min_years_in_operation"]))

    def founded_by(self, today: date) -> date:
        """The latest founding date that counts as ``min_years_in_operation`` years in operation on ``today``."""
        return months_later(today, -12 * self.min_years_in_operation)

    def must_form_union(self, insured_staff: int, founded_on: date, today: date) -> bool:
        """An employer without a union that the law and the federation's policy say must form one."""
        return insured_staff >= self.threshold_staff and founded_on <= self.founded_by(today)

    def joint_candidate(self, insured_staff: int) -> bool:
        """An employer without a union too small to need its own: it may join a joint union."""
        return insured_staff < self.threshold_staff
