"""统计: each lifecycle's headline figures, in Chinese, for a chosen period (month, quarter, year or custom),
one row per unit below the caller's (streets for the city) with bars, and the same table exported to Excel
(Chinese sheet names, a title row, numbers as numbers, rates as percentages) or CSV.

The figures are those of the lifecycles' reports (``Lifecycle.report``), named by ``Lifecycle.figures``; a
lifecycle's ``trend`` (a rate and the count it is a rate of) is shown month by month above the tables.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import Response, abort, g, render_template, request

from api.clock import now
from api.deadlines import SHANGHAI, written_date
from api.exports import SafeCsvWriter, safe_row
from api.extensions import current_session, db
from api.lifecycles import context, registry
from api.models import OrgUnit
from api.present import engine
from api.reports import ReportScope
from api.ui import blp
from api.ui.session import requires
from workflow.definitions import Definition

COMMON_FIGURES = [("total", "件数", "count"), ("open", "在办", "count"), ("overdue", "超期", "count"),
                  ("escalated", "上报上级", "count")]
DASHBOARD_ROLES = {"clerk", "admin", "reviewer", "mediator", "viewer"}
KINDS = {"month": "按月", "quarter": "按季度", "year": "按年", "custom": "自定义"}


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date
    label: str

    def args(self) -> dict[str, str]:
        return {"period": "custom", "from": self.start.isoformat(), "to": self.end.isoformat()}


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def period_of(args: Any, today: date) -> tuple[Period, str | None]:
    """The period the selector asks for, or this year with the reason the request was not understood."""
    kind = args.get("period") or "year"
    try:
        if kind == "month":
            year, month = (int(part) for part in (args.get("month") or f"{today:%Y-%m}").split("-"))
            return Period(kind, date(year, month, 1), _month_end(year, month), f"{year}年{month}月"), None
        if kind == "quarter":
            year, quarter = int(args.get("year") or today.year), int(args.get("quarter") or (today.month + 2) // 3)
            if not 1 <= quarter <= 4:
                raise ValueError(quarter)
            return Period(kind, date(year, quarter * 3 - 2, 1), _month_end(year, quarter * 3),
                          f"{year}年第{quarter}季度"), None
        if kind == "custom":
            start, end = date.fromisoformat(args.get("from", "")), date.fromisoformat(args.get("to", ""))
            if end < start:
                return _year(today.year), "结束日期不能早于开始日期，已显示本年度"
            return Period(kind, start, end, f"{written_date(start)}至{written_date(end)}"), None
        year = int(args.get("year") or today.year)
        return _year(year), None
    except ValueError:
        return _year(today.year), "统计期间填写有误，已显示本年度"


def _year(year: int) -> Period:
    return Period("year", date(year, 1, 1), date(year, 12, 31), f"{year}年")


def figures_of(definition_key: str) -> list[tuple[str, str, str]]:
    return registry()[definition_key].figures or COMMON_FIGURES


def _value(report: dict[str, Any], key: str, kind: str) -> Any:
    value = report.get(key)
    if value is None:
        return None
    if kind == "money":
        return Decimal(str(value))
    if kind == "count":
        return int(value)
    return float(value)


def shown(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "days":
        return f"{value:.1f}"
    return str(value)


@dataclass
class Table:
    definition: Definition
    figures: list[tuple[str, str, str]]
    rows: list[tuple[str, list[Any]]]      # (unit name, one value per figure)
    total: list[Any]

    def bar(self, column: int = 0) -> int:
        return max([row[1][column] or 0 for row in self.rows] or [0]) or 1


def _units() -> tuple[OrgUnit, list[OrgUnit]]:
    """The caller's unit and the units one level below it (the streets, for the city)."""
    own = current_session().get_one(OrgUnit, g.principal.org_unit_id)
    below = list(db.session.scalars(sa.select(OrgUnit).where(OrgUnit.parent_id == own.id)
                                    .order_by(OrgUnit.level.desc(), OrgUnit.path)))
    return own, below


def table(definition: Definition, period: Period, own: OrgUnit, below: list[OrgUnit]) -> Table:
    report_of = registry()[definition.key].report
    assert report_of is not None
    figures = figures_of(definition.key)
    hooks = context(current_session(), engine(), definition, g.principal, now())

    def values(path: str) -> list[Any]:
        report = report_of(current_session(), ReportScope(definition.key, path, period.start, period.end), hooks)
        return [_value(report, key, kind) for key, _, kind in figures]

    return Table(definition, figures, [(unit.name, values(unit.path)) for unit in below], values(own.path))


def tables(period: Period, keys: list[str] | None = None) -> tuple[OrgUnit, list[Table]]:
    own, below = _units()
    chosen = [definition for definition in engine().catalog.latest()
              if definition.key in registry() and registry()[definition.key].report is not None
              and (keys is None or definition.key in keys)]
    return own, [table(definition, period, own, below) for definition in chosen]


TREND_MONTHS = 6


def trends(own: OrgUnit, today: date) -> list[dict[str, Any]]:
    """Each lifecycle's trend (``Lifecycle.trend``: a rate and the count it is a rate of) over the last months."""
    found = []
    plugins = registry()
    for definition in engine().catalog.latest():
        lifecycle = plugins[definition.key] if definition.key in plugins else None
        if lifecycle is None or lifecycle.trend is None or lifecycle.report is None:
            continue
        names = {key: name for key, name, _ in figures_of(definition.key)}
        rate, count = lifecycle.trend
        hooks = context(current_session(), engine(), definition, g.principal, now())
        found.append({"title": definition.title, "rate_name": names[rate], "count_name": names[count],
                      "months": _months(lifecycle.report, hooks, definition.key, own, today, rate, count)})
    return found


def _months(report: Any, hooks: Any, key: str, own: OrgUnit, today: date, rate: str,
            count: str) -> list[dict[str, Any]]:
    months = []
    first = today.replace(day=1)
    for back in range(TREND_MONTHS - 1, -1, -1):
        year, month = first.year, first.month - back
        while month <= 0:
            year, month = year - 1, month + 12
        scope = ReportScope(key, own.path, date(year, month, 1), _month_end(year, month))
        figures = report(current_session(), scope, hooks)
        months.append({"month": f"{year}年{month}月", "rate": figures.get(rate), "count": figures.get(count, 0)})
    return months


def _refused() -> Any:
    if g.principal.level == "enterprise":
        return render_template("ui/error.html", status=403, message="统计面向镇（街道）和市总工会。"), 403
    return None


@blp.context_processor
def _context() -> dict[str, Any]:
    principal = g.get("principal")
    return {"sees_dashboard": principal is not None and principal.level != "enterprise"
            and bool(principal.roles & DASHBOARD_ROLES)}


@blp.get("/dashboard")
@requires(*DASHBOARD_ROLES)
def dashboard() -> Any:
    refused = _refused()
    if refused is not None:
        return refused
    today = now().astimezone(SHANGHAI).date()
    period, problem = period_of(request.args, today)
    own, found = tables(period)
    return render_template("ui/dashboard.html", tables=found, period=period, problem=problem, own=own,
                           trends=trends(own, today), kinds=KINDS, args=request.args, today=today, shown=shown,
                           export_args=period.args())


def _title(item: Table, period: Period, own: OrgUnit) -> str:
    return f"{item.definition.title}统计（{period.label}，{own.name}）"


def _header(item: Table) -> list[str]:
    return ["单位", *[name for _, name, _ in item.figures]]


def _attachment(name: str, suffix: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename=report.{suffix}; filename*=UTF-8''{quote(name)}.{suffix}"}


@blp.get("/dashboard/<key>.<fmt>")
@requires(*DASHBOARD_ROLES)
def export(key: str, fmt: str) -> Any:
    """One lifecycle's table (``key``) or every lifecycle's (``all``, Excel: one sheet each) as a file."""
    if (key != "all" and key not in registry()) or fmt not in ("csv", "xlsx") or (key == "all" and fmt == "csv"):
        abort(404)
    refused = _refused()
    if refused is not None:
        return refused
    period, _ = period_of(request.args, now().astimezone(SHANGHAI).date())
    own, found = tables(period, None if key == "all" else [key])
    if not found:
        abort(404)
    if fmt == "csv":
        item = found[0]
        out = io.StringIO()
        writer = SafeCsvWriter(out)
        writer.writerow(_header(item))
        for name, values in [*item.rows, ("合计", item.total)]:
            writer.writerow([name, *[_csv(value, kind) for value, (_, _, kind) in zip(values, item.figures,
                                                                                       strict=True)]])
        return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                        headers=_attachment(_title(item, period, own), "csv"))
    return Response(workbook(found, period, own), headers=_attachment(
        _title(found[0], period, own) if key != "all" else f"统计（{period.label}，{own.name}）", "xlsx"),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _csv(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "money":
        return f"{value:.2f}"
    return str(value)


FORMATS = {"money": "#,##0.00", "rate": "0.0%", "days": "0.0", "count": "0"}


def workbook(found: list[Table], period: Period, own: OrgUnit) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    book.remove(book.active)
    for item in found:
        sheet = book.create_sheet(title=item.definition.title[:31])
        header = _header(item)
        sheet.append([_title(item, period, own)])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
        sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
        sheet.cell(row=1, column=1).alignment = Alignment(horizontal="center")
        sheet.append(safe_row(header))
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for name, values in [*item.rows, ("合计", item.total)]:
            sheet.append(safe_row([name, *values]))
            for column, (_, _, kind) in enumerate(item.figures, start=2):
                sheet.cell(row=sheet.max_row, column=column).number_format = FORMATS[kind]
        sheet.column_dimensions["A"].width = 26
        for column in range(2, len(header) + 1):
            sheet.column_dimensions[sheet.cell(row=2, column=column).column_letter].width = 14
        sheet.freeze_panes = "B3"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
