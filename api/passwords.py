"""The password policy, in one place. Every way of setting a password goes through it: the API's schemas
(``field()``: every fault of the password itself, at once, with the other fields' faults) and the use cases in
``api.accounts`` (``faults()`` with the username: creating a user, setting or changing a password), which the
管理 page, the account page and the CLI (``gonghui users create|password``, whose help is ``SUMMARY``) call.

A password has 12 to 200 characters, is not a common one (``api/data/common-passwords.txt``, also with
digits or punctuation appended), has at least five different characters and does not contain the username.
The demo users' password ``demo`` is set by ``gonghui seed-demo`` alone, which does not go through here.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from marshmallow import ValidationError, fields

MIN_LENGTH = 12
MAX_LENGTH = 200
COMMON_FILE = Path(__file__).parent / "data" / "common-passwords.txt"
RULE = f"密码须为 {MIN_LENGTH}–{MAX_LENGTH} 个字符，不能是常见密码，不能包含用户名"
SUMMARY = f"{MIN_LENGTH} to {MAX_LENGTH} characters, not a common password, not containing the username."


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _stem(password: str) -> str:
    """``Password2024!`` → ``password``: what is left without the digits and punctuation around it."""
    return re.sub(r"^[\W\d_]+|[\W\d_]+$", "", password.lower())


def faults(password: str, username: str | None = None) -> list[str]:
    """Every way ``password`` breaks the policy, in Chinese; empty when it is acceptable."""
    found: list[str] = []
    if len(password) < MIN_LENGTH:
        found.append(f"密码至少 {MIN_LENGTH} 个字符")
    if len(password) > MAX_LENGTH:
        found.append(f"密码至多 {MAX_LENGTH} 个字符")
    lowered = password.lower()
    common = common_passwords()
    if lowered in common or _stem(password) in common or not _stem(password) or len(set(lowered)) < 5:
        found.append("密码过于常见或过于简单，请换一个不易猜到的密码")
    if username and len(username) >= 3 and username.lower() in lowered:
        found.append("密码不能包含用户名")
    return found


def validate_field(password: str) -> None:
    """A marshmallow validator (the username is checked by the use case, which knows it)."""
    problems = faults(password)
    if problems:
        raise ValidationError(problems)


def field(**options: Any) -> fields.String:
    """A schema's new-password field: validated by the policy alone (one message per fault), documented with
    the policy's rule and its lengths."""
    return fields.String(load_only=True, validate=validate_field, metadata={
        "description": RULE, "minLength": MIN_LENGTH, "maxLength": MAX_LENGTH}, **options)
