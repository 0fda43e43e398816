"""marshmallow fields and validators shared by the lifecycles' data schemas."""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from stdnum.cn import ric, uscc


class Money(fields.Decimal):
    """A decimal string with two places, never a float, never negative."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "format": "decimal", "pattern": r"^\d{1,12}(\.\d{1,2})?$",
                    "example": "1234.50", **kwargs.pop("metadata", {})}
        super().__init__(places=2, as_string=True, metadata=metadata, **kwargs)
        self.error_messages["invalid"] = "金额须为小数字符串，如 \"1234.50\""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, float | bool | int):
            raise self.make_error("invalid")
        result: Decimal = super()._deserialize(value, attr, data, **kwargs)
        if not result.is_finite():
            raise self.make_error("invalid")
        if result < 0:
            raise ValidationError("金额不能为负数")
        if result >= Decimal("1e12"):
            raise ValidationError("金额过大")
        return result


def text(max_length: int = 2000, **kwargs: Any) -> fields.String:
    """A non-blank string of bounded length."""
    return fields.String(validate=validate.Length(min=1, max=max_length, error=f"长度须在 1 到 {max_length} 之间"),
                         **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON boolean: true or false, not 0, 1 or "yes" (0 == False in Python, so sets cannot tell)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def flag(**kwargs: Any) -> fields.Boolean:
    return StrictBoolean(**kwargs)


def one_of(choices: list[str], **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(choices, error="须为以下之一：{choices}"), **kwargs)


def validate_id_number(value: str) -> None:
    if not ric.is_valid(value):
        raise ValidationError("居民身份证号码无效（校验位不符）")


ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def is_whole_number(text: str) -> bool:
    """ASCII digits only: str.isdigit also says yes to "²" and other digits that int() refuses."""
    return text.isascii() and text.isdigit()


def organisation_code_ok(code: str) -> bool:
    """GB 11714: the check character of the organisation code embedded at positions 9–17 of a USCC."""
    body, check = code[8:16], code[16:17]
    if len(body) != 8 or not body.isalnum():
        return False
    values = [int(ch) if ch.isdigit() else ord(ch) - 55 for ch in body]   # 0–9, then A = 10 … Z = 35
    total = sum(value * weight for value, weight in zip(values, ORG_CODE_WEIGHTS, strict=True))
    remainder = 11 - total % 11
    expected = "X" if remainder == 10 else "0" if remainder == 11 else str(remainder)
    return check == expected


# A code already in its compact form: 8 digits, then 10 characters of the USCC alphabet (no I, O, S, V, Z).
_COMPACT_USCC = re.compile(r"[0-9]{8}[0-9A-HJ-NPQRTUWXY]{10}")


@functools.lru_cache(maxsize=4096)
def uscc_is_valid(code: str) -> bool:
    """The 18th check character (python-stdnum) and the embedded organisation-code check character."""
    if _COMPACT_USCC.fullmatch(code):   # the common case: no separators to clean away first
        return uscc.calc_check_digit(code[:17]) == code[17] and organisation_code_ok(code)
    return uscc.is_valid(code) and organisation_code_ok(uscc.compact(code))


def validate_uscc(value: str) -> None:
    if not uscc_is_valid(value):
        raise ValidationError("统一社会信用代码无效（校验位不符）")


def _chinese_messages() -> None:
    """marshmallow's default messages, in Chinese: clerks and integrators alike read them."""
    fields.Field.default_error_messages.update({
        "required": "此项为必填项", "null": "不能为空", "validator_failed": "数据无效"})
    fields.String.default_error_messages.update({"invalid": "须为文字", "invalid_utf8": "不是有效的 UTF-8 文字"})
    fields.Integer.default_error_messages.update({"invalid": "须为整数", "too_large": "数值过大"})
    fields.Number.default_error_messages.update({"invalid": "须为数字", "too_large": "数值过大"})
    fields.Boolean.default_error_messages.update({"invalid": "须为 true 或 false"})
    fields.Date.default_error_messages.update({"invalid": "日期格式须为 YYYY-MM-DD", "format": "日期格式有误"})
    fields.DateTime.default_error_messages.update({"invalid": "时间格式须为 ISO 8601"})
    fields.List.default_error_messages.update({"invalid": "须为列表"})
    fields.Nested.default_error_messages.update({"type": "须为对象"})
    fields.Dict.default_error_messages.update({"invalid": "须为 JSON 对象"})
    Schema.error_messages = {"unknown": "未知字段", "type": "须为 JSON 对象"}


_chinese_messages()
