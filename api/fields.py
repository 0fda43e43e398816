"""marshmallow fields and validators shared by the lifecycles' data schemas; the facts their validators may read
while case data is loaded (:func:`loading`); marshmallow's default messages in Chinese (:func:`use_chinese_messages`,
called once by ``create_app``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, class_registry, fields, validate
from marshmallow.experimental.context import Context
from stdnum.cn import ric, uscc


@dataclass(frozen=True)
class Loading:
    """What a lifecycle schema's validators may read while case data is loaded: the definition's ``config``
    and today's date (in Shanghai). Set by ``api.cases.validate_data`` around each load."""

    config: Mapping[str, Any]
    today: date


def loading(config: Mapping[str, Any], today: date) -> Context[Loading]:
    return Context(Loading(config, today))


def being_loaded() -> Loading:
    found = Context.get(None)
    if not isinstance(found, Loading):
        raise RuntimeError("a lifecycle's data is loaded through api.cases.validate_data, which says what day it is")
    return found


def not_in_future(value: date) -> None:
    if value > being_loaded().today:
        raise ValidationError("日期不能晚于今天")


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


_installed: list[bool] = []


def use_chinese_messages() -> None:
    """marshmallow's default messages, in Chinese: clerks and integrators alike read them. Called once by
    ``create_app`` (a second call does nothing). marshmallow copies a field's default messages when the field is
    made, so the fields of schemas declared before this call (a module imported ahead of ``create_app``) are
    re-worded here too."""
    if _installed:
        return
    english = _defaults(fields.Field, "default_error_messages")
    english_validators = _defaults(validate.Validator, "default_message")
    _set_chinese_defaults()
    for schema in {cls for classes in class_registry._registry.values() for cls in classes}:
        for declared in schema._declared_fields.values():
            _reword(declared, english, english_validators)
    _installed.append(True)


def _defaults(root: type, attribute: str) -> dict[type, Any]:
    """The defaults of ``root`` and every subclass, as they are now (before the Chinese ones are set)."""
    found: dict[type, Any] = {}
    pending: list[type] = [root]
    while pending:
        cls = pending.pop()
        if attribute == "default_error_messages":
            found[cls] = {key: value for base in reversed(cls.__mro__)
                          for key, value in getattr(base, attribute, {}).items()}
        else:
            found[cls] = getattr(cls, attribute, None)
        pending.extend(cls.__subclasses__())
    return found


def _reword(field: Any, english: dict[type, Any], english_validators: dict[type, Any]) -> None:
    """Put the Chinese default in place of each of the field's messages that is still marshmallow's English one
    (and of its validators' and inner fields'); a message the schema chose itself stays."""
    if type(field) in english:
        chinese = {key: value for base in reversed(type(field).__mro__)
                   for key, value in getattr(base, "default_error_messages", {}).items()}
        for key, message in list(field.error_messages.items()):
            if english[type(field)].get(key) == message and key in chinese:
                field.error_messages[key] = chinese[key]
    for validator in getattr(field, "validators", []):
        default = english_validators.get(type(validator))
        if default is not None and getattr(validator, "error", None) == default:
            validator.error = type(validator).default_message
        if isinstance(validator, validate.Range) and validator.error is None:
            minimum = validator.message_gte if validator.min_inclusive else validator.message_gt
            maximum = validator.message_lte if validator.max_inclusive else validator.message_lt
            validator.message_min = type(validator).message_min.format(min_op=minimum)
            validator.message_max = type(validator).message_max.format(max_op=maximum)
            validator.message_all = type(validator).message_all.format(min_op=minimum, max_op=maximum)
    for inner in (getattr(field, "inner", None), getattr(field, "key_field", None),
                  getattr(field, "value_field", None), *getattr(field, "tuple_fields", ())):
        if isinstance(inner, fields.Field):
            _reword(inner, english, english_validators)


def _set_chinese_defaults() -> None:
    """Every field's and validator's default, in Chinese."""
    fields.Field.default_error_messages.update({
        "required": "此项为必填项", "null": "不能为空", "validator_failed": "数据无效"})
    fields.String.default_error_messages.update({"invalid": "须为文字", "invalid_utf8": "不是有效的 UTF-8 文字"})
    fields.Integer.default_error_messages.update({"invalid": "须为整数", "too_large": "数值过大"})
    fields.Number.default_error_messages.update({"invalid": "须为数字", "too_large": "数值过大"})
    fields.Decimal.default_error_messages.update({"special": "不能为无穷大或非数字"})
    fields.Float.default_error_messages.update({"special": "不能为无穷大或非数字"})
    fields.Boolean.default_error_messages.update({"invalid": "须为 true 或 false"})
    fields.Date.default_error_messages.update({"invalid": "日期格式须为 YYYY-MM-DD", "format": "日期格式有误"})
    fields.DateTime.default_error_messages.update({"invalid": "时间格式须为 ISO 8601", "format": "时间格式有误",
                                                   "invalid_awareness": "时间须带时区"})
    fields.Time.default_error_messages.update({"invalid": "时刻格式有误", "format": "时刻格式有误"})
    fields.TimeDelta.default_error_messages.update({"invalid": "时长格式有误", "format": "时长格式有误"})
    fields.List.default_error_messages.update({"invalid": "须为列表"})
    fields.Tuple.default_error_messages.update({"invalid": "须为列表"})
    fields.Nested.default_error_messages.update({"type": "须为对象"})
    fields.Mapping.default_error_messages.update({"invalid": "须为 JSON 对象"})
    fields.Dict.default_error_messages.update({"invalid": "须为 JSON 对象"})
    fields.Email.default_error_messages.update({"invalid": "电子邮箱地址无效"})
    fields.Url.default_error_messages.update({"invalid": "网址无效"})
    fields.UUID.default_error_messages.update({"invalid_uuid": "UUID 格式有误"})
    fields.Enum.default_error_messages.update({"unknown": "须为以下之一：{choices}"})
    Schema.error_messages = {"unknown": "未知字段", "type": "须为 JSON 对象"}
    validate.Length.message_all = "长度须在 {min} 到 {max} 之间"
    validate.Length.message_min = "长度不能少于 {min}"
    validate.Length.message_max = "长度不能超过 {max}"
    validate.Length.message_equal = "长度须为 {equal}"
    validate.Range.message_all = "须{min_op} {{min}} 且{max_op} {{max}}"
    validate.Range.message_min = "须{min_op} {{min}}"
    validate.Range.message_max = "须{max_op} {{max}}"
    validate.Range.message_gt, validate.Range.message_gte = "大于", "大于或等于"
    validate.Range.message_lt, validate.Range.message_lte = "小于", "小于或等于"
    validate.OneOf.default_message = "须为以下之一：{choices}"
    validate.NoneOf.default_message = "不允许的值"
    validate.ContainsOnly.default_message = "所选的项中有不在以下范围的：{choices}"
    validate.ContainsNoneOf.default_message = "所选的项中有不允许的：{values}"
    validate.Equal.default_message = "须等于 {other}"
    validate.Regexp.default_message = "格式不正确"
    validate.Predicate.default_message = "数据无效"
    validate.Email.default_message = "电子邮箱地址无效"
    validate.URL.default_message = "网址无效"
