"""Effects that need persistence, bound by name from a definition's ``effects:`` list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from api.models import Case
from workflow.engine import Outcome

# Effects that need persistence, bound by name: (session, case, outcome, now) -> None.
EffectHandler = Callable[[Session, Case, Outcome, datetime], None]


EFFECT_HANDLERS: dict[str, EffectHandler] = {}


def bind_effect(name: str) -> Callable[[EffectHandler], EffectHandler]:
    def register(handler: EffectHandler) -> EffectHandler:
        EFFECT_HANDLERS[name] = handler
        return handler

    return register
