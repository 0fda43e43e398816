"""``FlatDump`` answers what ``Schema.dump`` answers: every case schema, any values of the fields' types, None,
keys left out and keys the schema does not know; a schema with a dump hook is dumped by marshmallow itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields, post_dump

from api.schemas import CaseSchema, FlatDump
from api.views.counters import ReceiptSchema

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8))])
VALUES: dict[type, Any] = {
    fields.Integer: st.integers(-2**40, 2**40), fields.String: st.text(max_size=20),
    fields.Boolean: st.booleans(), fields.DateTime: st.datetimes(timezones=ZONES),
    fields.Dict: st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=4),
    fields.List: st.lists(st.text(max_size=8), max_size=4),
}


def items(schema: Schema) -> st.SearchStrategy[dict[str, Any]]:
    """Mappings with some of the schema's fields (a value of its type, or None) and a key it does not know."""
    parts = {name: st.none() | VALUES.get(type(field), st.none())
             for name, field in schema.dump_fields.items() if type(field) in VALUES}
    return st.fixed_dictionaries({}, optional={**parts, "unknown_key": st.integers()})


@settings(max_examples=300)
@given(st.data())
def test_a_case_dumps_as_marshmallow_dumps_it(data: st.DataObject) -> None:
    for schema in (CaseSchema(), ReceiptSchema()):
        page = data.draw(st.lists(items(schema), max_size=3))
        assert schema.dump(page, many=True) == Schema.dump(schema, page, many=True)
        if page:
            assert schema.dump(page[0]) == Schema.dump(schema, page[0])


def test_a_schema_with_a_dump_hook_is_dumped_by_marshmallow() -> None:
    class Hooked(FlatDump):
        name = fields.String()

        @post_dump
        def shout(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
            return {**data, "name": data["name"].upper()}

    assert Hooked().dump({"name": "ab"}) == {"name": "AB"}
    assert Hooked(many=True).dump([{"name": "ab"}]) == [{"name": "AB"}]
    assert CaseSchema().dump({"id": 1, "created_at": datetime(2026, 11, 24, tzinfo=UTC)}) == \
        {"id": 1, "created_at": "2026-11-24T00:00:00+00:00"}
