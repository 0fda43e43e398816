"""JSON bodies that the parser must never see: nested too deep, or carrying an unpaired UTF-16 surrogate.

Python's parser recurses once per level (990 levels exhaust the stack: a 500), and ``"\\ud800"`` decodes to
a string that cannot be encoded again (a 500 wherever it is stored or logged). Both are refused with a 400
problem before any view parses the body, for every JSON request of the app. The scan is two regular
expressions over the raw bytes (strings are skipped as whole tokens, so brackets and escapes inside them
do not count), and it is skipped when the body holds too few brackets to be deep and no ``\\uD8..\\uDF``.
"""

from __future__ import annotations

import re

from api.context import this_app, this_request
from api.errors import MalformedRequest

_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")
_ESCAPE = re.compile(rb"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def _unpaired_surrogate(string_token: bytes) -> bool:
    """Whether a JSON string (with its quotes) escapes a high surrogate not followed by a low one, or a low
    surrogate not preceded by a high one."""
    pending_high_end = -1     # where the escape of a high surrogate waiting for its partner ended
    for escape in _ESCAPE.finditer(string_token):
        code = escape.group(1)
        value = int(code[1:], 16) if code[:1] == b"u" and len(code) == 5 else None
        if pending_high_end >= 0 and (escape.start() != pending_high_end or value is None
                                      or not 0xDC00 <= value <= 0xDFFF):
            return True
        if pending_high_end >= 0:
            pending_high_end = -1
            continue
        if value is not None and 0xD800 <= value <= 0xDBFF:
            pending_high_end = escape.end()
        elif value is not None and 0xDC00 <= value <= 0xDFFF:
            return True
    return pending_high_end >= 0


def faults(body: bytes, max_depth: int) -> list[str]:
    """What is wrong with ``body`` (Chinese), without parsing it; empty when it may be parsed."""
    deep_possible = body.count(b"[") + body.count(b"{") > max_depth
    surrogates_possible = _SURROGATE_HINT.search(body) is not None
    if not deep_possible and not surrogates_possible:
        return []
    found: list[str] = []
    depth = 0
    for token in _TOKENS.finditer(body):
        text = token.group()
        if text in (b"[", b"{"):
            depth += 1
            if depth > max_depth and deep_possible:
                found.append(f"JSON 嵌套层数超过 {max_depth} 层")
                deep_possible = False
        elif text in (b"]", b"}"):
            depth -= 1
        elif surrogates_possible and b"\\u" in text and _unpaired_surrogate(text):
            found.append("JSON 字符串中含有不成对的 UTF-16 代理项（如 \\ud800），不是有效的 Unicode 文本")
            surrogates_possible = False
        if not deep_possible and not surrogates_possible:
            break
    return found


def refuse_unsafe_json() -> None:
    """Before any view: a JSON body too deep or with an unpaired surrogate is a 400 naming the fault."""
    current_request = this_request()
    if current_request.method not in ("POST", "PUT", "PATCH", "DELETE") or not current_request.is_json:
        return
    problems = faults(current_request.get_data(cache=True), int(this_app().config.get("MAX_JSON_DEPTH", 64)))
    if problems:
        raise MalformedRequest("；".join(problems), errors={"body": problems})
