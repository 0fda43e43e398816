"""One exception tree for the whole domain; ``api.problems`` maps it to RFC 9457 problems."""

from __future__ import annotations

from typing import Any


class WorkflowError(Exception):
    """Base of every error the domain raises on purpose."""

    title = "工作流错误"

    def __init__(self, detail: str, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context


class DefinitionError(WorkflowError):
    """A definition file is malformed or inconsistent; names the file and the reason."""

    title = "流程定义无效"

    def __init__(self, source: str, reasons: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(reasons), source=source, reasons=reasons)
        self.source = source
        self.reasons = reasons


class UnknownDefinition(WorkflowError):
    title = "未知的流程定义"


class RecordNotFound(WorkflowError):
    """What was asked for does not exist, or lies outside the caller's scope (answered alike)."""

    title = "未找到"


class CaseNotFound(RecordNotFound):
    title = "案件不存在"


class UnknownEvent(WorkflowError):
    """The event is not part of the case's definition."""

    title = "未知的事件"

    def __init__(self, detail: str, allowed_events: list[str], **context: Any) -> None:
        super().__init__(detail, allowed_events=allowed_events, **context)
        self.allowed_events = allowed_events


class EventNotAllowed(UnknownEvent):
    """The event exists but cannot be fired from the case's current state."""

    title = "当前状态不允许此操作"


class RoleNotPermitted(WorkflowError):
    title = "无权执行此操作"


class InvalidData(WorkflowError):
    """Data for an event or a new case is missing or invalid; ``errors`` maps field → messages."""

    title = "数据校验未通过"

    def __init__(self, errors: dict[str, list[str]], detail: str = "提交的数据有误") -> None:
        super().__init__(detail, errors=errors)
        self.errors = errors


class GuardRejected(InvalidData):
    """A named guard refused the event; ``errors`` says why, per field."""

    title = "不满足办理条件"


class StaleVersion(WorkflowError):
    """The case changed since the caller read it (If-Match, or a lost race)."""

    title = "案件已被他人修改"

    def __init__(self, detail: str, precondition: bool = False, **context: Any) -> None:
        super().__init__(detail, **context)
        self.precondition = precondition


class Conflict(WorkflowError):
    """The request conflicts with the current state of another record (e.g. a duplicate)."""

    title = "与现有记录冲突"
