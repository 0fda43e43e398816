"""Refusals at the edge of the HTTP API that are not the domain's: a malformed request, a caller not signed in,
a required header missing, a body or file too large, too many requests. Views and request hooks raise them like
any ``WorkflowError``; ``api.problems`` maps every one of them to a problem document, in one place.
And how any error is written to the log (``described``, ``loggable``): the one rule for the request hooks, the
sweep and the scheduler alike. Imports: workflow only.
"""

from __future__ import annotations

import traceback
from typing import Any

from workflow.errors import WorkflowError


class MalformedRequest(WorkflowError):
    """The request cannot be read as sent (a header's syntax, a NUL character, unsafe JSON): 400."""

    title = "请求格式错误"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None, **context: Any) -> None:
        super().__init__(detail, **({"errors": errors} if errors else {}), **context)


class Unauthenticated(WorkflowError):
    """No valid credential: 401."""

    title = "未登录或令牌无效"


class HeaderRequired(WorkflowError):
    """A header the endpoint requires is missing (428), named in ``errors``."""

    title = "缺少必需的请求头"

    def __init__(self, detail: str, header: str) -> None:
        super().__init__(detail, errors={header: ["必填"]})


class TooLarge(WorkflowError):
    """A body or an upload over a limit (413); ``limit`` names the limit and its value."""

    title = "请求体过大"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None,
                 limit: dict[str, int] | None = None) -> None:
        super().__init__(detail, **({"errors": errors} if errors else {}), **({"limit": limit} if limit else {}))


class RateLimited(WorkflowError):
    """Too many requests or misses (429), answered with ``Retry-After``; a page may catch it."""

    title = "请求过于频繁"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    @property
    def description(self) -> str:
        """The words of the refusal, under the name the sign-in page reads (as on Werkzeug's exceptions)."""
        return self.detail


def described(error: BaseException) -> str:
    """An error as it may be logged: its kind, with a database error's SQLSTATE — not its message, which may quote
    a statement's values or the server's "failing row" (case data, ID numbers, a stored answer): personal data is
    never logged."""
    state = getattr(getattr(error, "orig", None), "sqlstate", None)
    return type(error).__name__ + (f" (SQLSTATE {state})" if state else "")


def loggable(error: BaseException) -> str:
    """``described`` and where the error was raised (its traceback, without the message)."""
    return f"{described(error)}\n" + "".join(traceback.format_tb(error.__traceback__))
