"""What the generated OpenAPI document must say beyond the marshmallow schemas, so that it says what the code
does: the definitions a case may be opened on are the loaded ones (an enum, filled in at start-up from the
catalog), and the data of a case or an event is checked against its lifecycle's own schema (422 naming every
field)."""

from __future__ import annotations

from typing import Any

LIFECYCLE_DATA = ("按 definition 对应流程的数据模式校验（见 GET /definitions/{key}）；"
                  "不符合时 422，errors 列出每个有误的字段"
                  "（字段之间的规则，如日期先后、金额关系、编码校验位，也在此校验）")


def document(spec: Any, catalog: Any) -> None:
    schemas = spec.components.schemas
    keys = sorted({definition.key for definition in catalog.all()})
    create = schemas.get("CaseCreate")
    if create is not None:
        create["properties"]["definition"]["enum"] = keys
        create["properties"]["data"]["description"] = LIFECYCLE_DATA
    event = schemas.get("EventRequest")
    if event is not None:
        event["properties"]["data"]["description"] = LIFECYCLE_DATA
