"""The lifecycles this service runs: one plug-in each, in the order the pages list them.

``create_app`` registers exactly these (the ``LIFECYCLES`` setting may give another list, e.g. in a test). A new
lifecycle is its definition in ``definitions/``, its plug-in in ``api/lifecycles/`` (and its rules in
``workflow/rules/``), one line here and, when it keeps rows of its own, a migration: see the README's "Adding a
lifecycle".
"""

from __future__ import annotations

from api.lifecycles import Lifecycle, mediation_case, medical_aid_claim, union_formation, union_term, worker_report

LIFECYCLES: list[Lifecycle] = [
    mediation_case.plugin,
    medical_aid_claim.plugin,
    worker_report.plugin,
    union_formation.plugin,
    union_term.plugin,
]


def bound_effects() -> frozenset[str]:
    """The effect names the plug-ins bind, for loading the definitions without an app (tests, benchmarks)."""
    from api.lifecycles import Lifecycles

    return Lifecycles(LIFECYCLES).effect_names
