"""Chinese labels of data fields and choices, for the clerk's web pages (identifiers stay English)."""

from __future__ import annotations

# Words shared by every lifecycle; each lifecycle names its own fields and choices (``Lifecycle.labels``,
# ``Lifecycle.choices``).
GENERIC = {"reason": "理由", "note": "备注", "comment": "备注", "rule": "规则",
           # the supervision events every definition declares (交办, 提级办理, 催办)
           "org_unit": "交办给（单位代码）", "instruction": "交办要求",
           "due_in_working_days": "办理时限（工作日，不填按该级期限）"}


LEVELS = {"city": "市总工会", "street": "镇（街道）", "enterprise": "基层工会"}
ROLES = {"admin": "管理员", "clerk": "干事", "mediator": "调解员", "reviewer": "审核员", "counter": "服务窗口",
         "viewer": "查看"}


def label_for(definition_key: str | None, path: str, event: str | None = None) -> str:
    """The Chinese label of a data field: the lifecycle's own for this event's form, then for the path
    (list indexes dropped: "invoices.0.amount" is "invoices.amount"), then any lifecycle's for the last name."""
    from api.lifecycles import registry

    path = ".".join(part for part in path.split(".") if not part.isdigit())
    lifecycle = registry().get(definition_key or "")
    if lifecycle is not None:
        for key in ((f"{event}:{path}",) if event else ()) + (path,):
            if key in lifecycle.labels:
                return lifecycle.labels[key]
    return field_label(path.rsplit(".", 1)[-1])


def field_label(name: str) -> str:
    """A field's label when its lifecycle is not known: the generic words, else the first lifecycle naming it."""
    from api.lifecycles import registry

    if name in GENERIC:
        return GENERIC[name]
    for lifecycle in registry().values():
        if name in lifecycle.labels:
            return lifecycle.labels[name]
    return name


def choice_label(value: object, definition_key: str | None = None) -> str:
    """A choice's label: its lifecycle's (when known), else the first lifecycle naming it."""
    from api.lifecycles import registry

    lifecycles = registry()
    found = lifecycles.get(definition_key or "")
    for lifecycle in ([found] if found is not None else []) + list(lifecycles.values()):
        if str(value) in lifecycle.choices:
            return lifecycle.choices[str(value)]
    return str(value)
