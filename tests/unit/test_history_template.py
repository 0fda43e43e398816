"""A history row's hash from a template written once for many rows is the hash ``chain_hash`` gives its payload,
whatever the values: text with quotes, braces, control characters, markers and other scripts, numbers, times,
nested data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from api.history import ChainTemplate, Slot, chain_hash, payload_of

# values as history rows hold them, and the text most likely to trip a template: its own markers and braces
_TEXT = st.text() | st.sampled_from(["~", "~~0~~", '"~0~"', "{0}", "}{", "\\u0000", "\x00", "已登记", "\u2028"])
_SCALARS = (st.none() | st.booleans() | st.integers() | _TEXT
            | st.floats(allow_nan=False, allow_infinity=False) | st.decimals(allow_nan=False, allow_infinity=False)
            | st.datetimes(timezones=st.just(UTC)))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(_TEXT, inner, max_size=3), max_leaves=8)
_AT = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                   timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]))


def _row(case_id: Any, seq: Any, from_state: Any, unit: Any, extra: Any, *, at: datetime, actor: str,
         comment: str | None, fixed: dict[str, Any]) -> dict[str, Any]:
    return {"case_id": case_id, "seq": seq, "event": "migrate", "from_state": from_state, "to_state": "mediating",
            "level_from": "street", "level_to": "street", "org_from": unit, "org_to": unit, "actor": actor, "at": at,
            "comment": comment, "data": {**fixed, "extra": extra}}


@settings(max_examples=300, deadline=None)
@given(at=_AT, actor=_TEXT, comment=st.none() | _TEXT, fixed=st.dictionaries(_TEXT, _VALUES, max_size=3),
       rows=st.lists(st.tuples(st.integers(), st.integers(min_value=1), _TEXT, _TEXT, _VALUES,
                               st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
                     min_size=1, max_size=4))
def test_a_templated_hash_is_the_hash_of_the_payload(at: datetime, actor: str, comment: str | None,
                                                     fixed: dict[str, Any], rows: list[tuple[Any, ...]]) -> None:
    fixed.pop("extra", None)
    template = ChainTemplate(payload_of(_row(*(Slot(index) for index in range(5)), at=at, actor=actor,
                                             comment=comment, fixed=fixed)))
    for *values, prev in rows:
        expected = chain_hash(prev, payload_of(_row(*values, at=at, actor=actor, comment=comment, fixed=fixed)))
        assert template.hash(prev, values) == expected


def test_a_slot_may_stand_anywhere_and_twice() -> None:
    """A slot nested in a list, and one used in two places, take the row's value in each place."""
    entry = {"b": [Slot(1), {"z": Slot(0)}], "a": Slot(1), "c": Decimal("1.50")}
    template = ChainTemplate(entry)
    values = ["x\"y", {"k": [1, None]}]
    assert template.hash("p", values) == chain_hash("p", {"b": [values[1], {"z": values[0]}], "a": values[1],
                                                         "c": Decimal("1.50")})
    assert template.hash(None, [1, 2]) != template.hash(None, [2, 1])
