"""Turning a submitted web form into the JSON the API receives."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from api.forms import FormField, parse


def test_a_number_field_becomes_an_integer_and_other_digits_stay_text_for_the_schema_to_refuse() -> None:
    described = [FormField("members_registered", "会员人数", "number", True)]
    assert parse(described, MultiDict({"members_registered": "-12"})) == {"members_registered": -12}
    # "²" counts as a digit to str.isdigit but not to int(): it must reach the schema (a 422), not raise (a 500)
    assert parse(described, MultiDict({"members_registered": "3²"})) == {"members_registered": "3²"}
