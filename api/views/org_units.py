"""The org tree: city → street/town federations → enterprise unions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from api import auth
from api.extensions import db
from api.models import OrgUnit
from api.schemas import OrgUnitSchema

blp = Blueprint("org_units", __name__, url_prefix="/api/v1", description="组织架构")


def tree(units: list[OrgUnit]) -> list[dict[str, Any]]:
    nodes: dict[int, dict[str, Any]] = {unit.id: {"code": unit.code, "name": unit.name, "level": unit.level,
                       "parent": unit.parent.code if unit.parent else None, "children": []} for unit in units}
    roots: list[dict[str, Any]] = []
    for unit in units:
        node = nodes[unit.id]
        if unit.parent_id in nodes:
            nodes[unit.parent_id]["children"].append(node)
        else:
            roots.append(node)
    return roots


@blp.route("/org-units")
class OrgUnits(MethodView):
    @blp.response(200, OrgUnitSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The whole org tree (every user may see the structure)."""
        auth.current()
        units = list(db.session.scalars(sa.select(OrgUnit).order_by(OrgUnit.path)))
        return tree(units)
