"""``gonghui import-members FILE``: mutual-aid members and their scheme years from a CSV file."""

from __future__ import annotations

import csv
import sys
from decimal import InvalidOperation
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from stdnum.cn import ric

from api.extensions import current_session, db

COLUMNS = {"姓名": "name", "身份证号": "id_number", "工作单位代码": "employer", "年度": "year", "已缴费": "paid",
           "起付线": "deductible", "报销比例": "ratio", "年度封顶": "annual_cap", "申请期限天数": "window_days"}


def _row(line: int, raw: dict[str, str], config: Any) -> tuple[dict[str, Any] | None, list[str]]:
    from api.lifecycles.medical_aid_claim import scheme_parameters

    faults: list[str] = []
    values = {COLUMNS[key]: (value or "").strip() for key, value in raw.items() if key in COLUMNS}
    if not values.get("name"):
        faults.append("姓名为空")
    if not ric.is_valid(values.get("id_number", "")):
        faults.append("身份证号无效")
    try:
        # a blank parameter is the definition's (config.member_defaults; the window: config.claim_window_days)
        parsed = {"year": int(values["year"]), **scheme_parameters(
            config, paid=values.get("paid", "是") in ("是", "1", "true", "yes"),
            deductible=values.get("deductible"), ratio=values.get("ratio"), annual_cap=values.get("annual_cap"),
            window_days=values.get("window_days"))}
    except (KeyError, ValueError, InvalidOperation):
        faults.append("年度、金额或比例不是数字")
        return None, faults
    if faults:
        return None, faults
    return {**values, **parsed}, []


@click.command("import-members")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_members(path: Path) -> None:
    """Import members and scheme years (CSV, UTF-8 with or without BOM; headers: 姓名,身份证号,工作单位代码,
    年度,已缴费,起付线,报销比例,年度封顶,申请期限天数). Every rejected row is printed; the rest is saved."""
    from api.lifecycles.medical_aid_claim import KEY, upsert_member

    now = current_app.config["CLOCK"]()
    config = current_app.extensions["gonghui.engine"].catalog.get(KEY).config
    imported, rejected = 0, 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in ("姓名", "身份证号", "年度") if name not in (reader.fieldnames or [])]
        if missing:
            click.echo(f"{path}: missing columns {', '.join(missing)}; nothing imported", err=True)
            sys.exit(1)
        for line, raw in enumerate(reader, start=2):
            row, faults = _row(line, raw, config)
            if row is None:
                rejected += 1
                click.echo(f"line {line}: rejected: {'; '.join(faults)}", err=True)
                continue
            years = {row["year"]: {key: row[key] for key in ("paid", "deductible", "ratio", "annual_cap",
                                                              "window_days")}}
            upsert_member(current_session(), row["name"], row["id_number"], row.get("employer") or None, years, now)
            imported += 1
    db.session.commit()
    click.echo(f"{imported} scheme year(s) imported, {rejected} row(s) rejected")


commands = [import_members]
