"""A case's data: validated by its lifecycle's schema; the columns copied out of it for lists and reports."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError

from api.fields import loading
from api.lifecycles import registry
from api.models import Case
from api.problems import flatten
from api.writers import CaseRecord
from workflow.calendar import SHANGHAI
from workflow.definitions import Definition
from workflow.engine import CaseView
from workflow.errors import InvalidData

SYSTEM = "system"

def validate_data(definition: Definition, event: str | None, raw: Any, now: datetime) -> dict[str, Any]:
    """Validate with the lifecycle's schema (whose validators may read the definition's config and today's
    date); return JSON-ready data (Decimal → "1.00", date → ISO)."""
    schema = registry()[definition.key].schema_for(event)
    if not isinstance(raw, dict):
        raise InvalidData({"data": ["须为 JSON 对象"]})
    try:
        with loading(definition.config, now.astimezone(SHANGHAI).date()):
            loaded = schema.load(raw)
    except ValidationError as error:
        raise InvalidData(flatten(error.messages, "data"), detail="以下字段有误：" +
                          "、".join(sorted(flatten(error.messages, "data")))) from error
    dumped: dict[str, Any] = schema.dump(loaded)
    return dumped


def dig(data: dict[str, Any], dotted: str | None) -> Any:
    value: Any = data
    for part in (dotted or "").split("."):
        if not part or not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def denormalise(case: CaseRecord, definition: Definition) -> None:
    """Columns copied from the data so that lists, searches and reports use indexes, not JSON."""
    case.amount, case.party, case.category = denormalised(case.data, definition)


def denormalised(data: dict[str, Any], definition: Definition) -> tuple[Decimal | None, str | None, str | None]:
    """The columns copied from ``data``: amount, party and category."""
    party, category = dig(data, definition.party_field), dig(data, definition.category_field)
    return (_amount(dig(data, definition.amount_field)), str(party)[:200] if party else None,
            str(category)[:64] if category else None)


def view_of(case: Case) -> CaseView:
    return CaseView(case.definition_key, case.definition_version, case.state, case.level, case.data)
