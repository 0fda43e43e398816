"""Guards and effects, looked up by the names the definitions use (never by import path or eval).

A guard is a predicate over a proposed transition: it returns the faults it finds, per field (an empty
mapping lets the event through). An effect is a named consequence of a transition. Pure effects that only
change the case's data are implemented here, and ``restart_deadline``, which every lifecycle may use, is declared
here and carried out by the deadline service. Effects of one lifecycle that need persistence (creating an org
unit, opening the next term's case) belong to its plug-in in ``api.lifecycles``, which binds them by name; the
loader is told their names (``Catalog.from_directory(..., effects=...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workflow.rules import Faults, medical_aid_claim, worker_report

if TYPE_CHECKING:
    from workflow.calendar import WorkCalendar
    from workflow.definitions import Definition


@dataclass(frozen=True)
class TransitionContext:
    """What a guard or an effect may look at: the case as it would be after the event."""

    definition_key: str
    event: str
    source: str
    target: str
    level: str
    data: Mapping[str, Any]
    event_data: Mapping[str, Any]
    now: datetime
    config: Mapping[str, Any] = field(default_factory=dict)
    definition: Definition | None = None      # the definition version the case runs on
    calendar: WorkCalendar | None = None      # the engine's: windows are counted as deadlines are


Guard = Callable[[TransitionContext], Faults]
Effect = Callable[[TransitionContext], dict[str, Any]] | None

GUARDS: dict[str, Guard] = {}
EFFECTS: dict[str, Effect] = {}


def guard(name: str) -> Callable[[Guard], Guard]:
    """Register a guard under ``name``."""

    def register(function: Guard) -> Guard:
        if name in GUARDS:
            raise ValueError(f"guard {name!r} registered twice")
        GUARDS[name] = function
        return function

    return register


def effect(name: str, function: Effect = None) -> None:
    """Declare an effect ``name``; ``function``, if given, returns updates to the case data."""
    if name in EFFECTS:
        raise ValueError(f"effect {name!r} declared twice")
    EFFECTS[name] = function


# ---- guards shared by the lifecycles ---------------------------------------------------------------

@guard("parties_consent_given")
def parties_consent_given(context: TransitionContext) -> Faults:
    """浙江省劳动人事争议调解仲裁条例 §10: mediation may run past 15 days only if both parties agree."""
    if context.event_data.get("parties_consent") is not True:
        return {"parties_consent": ["延长调解期限须经双方当事人同意"]}
    return {}


@guard("six_standards_met")
def six_standards_met(context: TransitionContext) -> Faults:
    """All six "六有" items must be true to call a new union standardised."""
    labels = {"chair": "依法选举工会主席", "organization": "组织健全", "venue": "服务阵地",
              "rules": "制度健全", "funds": "经费独立", "performance": "会员满意"}
    items = context.event_data.get("six_standards")
    items = items if isinstance(items, dict) else {}
    missing = [f"{code}（{label}）未达标" for code, label in labels.items() if items.get(code) is not True]
    return {"six_standards": missing} if missing else {}


# ---- effects ---------------------------------------------------------------------------------------

effect("restart_deadline")       # the deadline service restarts the state's timer from now
effect("stamp_acknowledged", lambda context: {"acknowledged_at": context.now.isoformat()})
effect("stamp_resolved", lambda context: {"resolved_at": context.now.isoformat()})


missing_documents = medical_aid_claim.missing_documents


@guard("documents_complete")
def documents_complete(context: TransitionContext) -> Faults:
    """Every document the claim type requires has been handed in."""
    missing = missing_documents(context.config, context.data.get("claim_type"), context.data.get("documents"))
    labels = context.config.get("documents") or {}
    return {"documents": [f"缺少：{labels.get(code, code)}" for code in missing]} if missing else {}


@guard("within_reopen_window")
def within_reopen_window(context: TransitionContext) -> Faults:
    """A reporter who is not satisfied may reopen while the resolved state's deadline runs (15 days in the
    definition), counted on the calendar exactly as that deadline is."""
    if context.definition is None or context.calendar is None:
        return {}
    return worker_report.reopen_faults(context.data.get("resolved_at"), context.now,
                                       worker_report.reopen_window(context.definition, context.level),
                                       context.calendar)
