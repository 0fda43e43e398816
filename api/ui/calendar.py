"""管理 · 放假安排: a year's official holiday schedule entered on a month grid (each day: as usual, 休 or 班),
stored like ``gonghui calendar load`` and ``POST /api/v1/admin/calendar`` (provisional deadlines recounted)."""

from __future__ import annotations

import calendar as month_calendar
from datetime import date, timedelta
from typing import Any

from flask import g, redirect, render_template, request, session, url_for

from api import calendar_store
from api.clock import now
from api.deadlines import SHANGHAI
from api.extensions import current_session, db
from api.models import CalendarYear
from api.present import engine
from api.ui import blp
from api.ui.session import requires
from workflow.schedules import ScheduleError, from_lists

FIRST_YEAR, LAST_YEAR = 2004, 2100
MARKS = {"holiday": "休", "workday": "班"}


def _year_of(value: Any, default: int) -> int:
    try:
        year = int(value)
    except (TypeError, ValueError):
        return default
    return year if FIRST_YEAR <= year <= LAST_YEAR else default


def marks_of(year: int) -> tuple[dict[date, str], str]:
    """Each marked day of the year (holiday or make-up workday) and where the marks come from."""
    stored = db.session.get(CalendarYear, year)
    if stored is not None:
        marks = {date.fromisoformat(day): "holiday" for day in stored.holidays}
        marks.update({date.fromisoformat(day): "workday" for day in stored.workdays})
        return marks, f"已载入（{stored.source or '管理员'}）"
    calendar = engine().calendar
    if not calendar.knows(year):
        return {}, "尚未载入：期限暂按周末和元旦、劳动节、国庆节临时计算"
    marks = {}
    day = date(year, 1, 1)
    while day.year == year:
        workday = calendar.is_workday(day)
        if day.weekday() < 5 and not workday:
            marks[day] = "holiday"
        elif day.weekday() >= 5 and workday:
            marks[day] = "workday"
        day += timedelta(days=1)
    return marks, "内置的国务院办公厅放假安排"


def months(year: int, marks: dict[date, str]) -> list[dict[str, Any]]:
    grid = month_calendar.Calendar(firstweekday=0)
    return [{"month": month, "weeks": [[{"day": day, "mark": marks.get(day, ""),
                                         "weekend": day.weekday() >= 5} if day.month == month else None
                                        for day in week] for week in grid.monthdatescalendar(year, month)]}
            for month in range(1, 13)]


@blp.get("/admin/calendar")
@requires("admin")
def calendar_grid() -> Any:
    today = now().astimezone(SHANGHAI).date()
    year = _year_of(request.args.get("year"), today.year + 1)
    marks, source = marks_of(year)
    return render_template("ui/calendar.html", year=year, months=months(year, marks), source=source,
                           marks=MARKS, first=FIRST_YEAR, last=LAST_YEAR,
                           message=session.pop("message", None), errors=session.pop("calendar_errors", None))


def _marked(form: Any) -> tuple[int, list[str], list[str], list[str]]:
    """The year and the days marked on the month grid's form: (year, holidays, workdays, faults)."""
    year = _year_of(form.get("year"), 0)
    if not year:
        return 0, [], [], [f"年度须在 {FIRST_YEAR} 到 {LAST_YEAR} 之间"]
    holidays, workdays, faults = [], [], []
    for name, value in form.items():
        if not name.startswith("d-") or not value:
            continue
        try:
            day = date.fromisoformat(name[2:])
        except ValueError:
            continue
        if day.year != year or value not in MARKS:
            faults.append(f"{day.month}月{day.day}日的标记无效")
        elif value == "holiday":
            holidays.append(day.isoformat())
        else:
            workdays.append(day.isoformat())
    if not holidays:
        faults.append("请至少标出一天法定节假日（休）")
    return year, holidays, workdays, faults


@blp.post("/admin/calendar/preview")
@requires("admin")
def calendar_preview() -> Any:
    """The deadlines the marked schedule would move (case, old date, new date), before it is loaded."""
    year, holidays, workdays, faults = _marked(request.form)
    if faults:
        session["calendar_errors"] = faults
        return redirect(url_for("ui.calendar_grid", year=year or None))
    schedule = from_lists(year, holidays, workdays)
    calendar_store.refresh(current_session(), engine().calendar)
    marks = [(f"d-{day}", "holiday") for day in holidays] + [(f"d-{day}", "workday") for day in workdays]
    return render_template("ui/calendar_preview.html", schedule=schedule, marks=marks,
                           moves=calendar_store.preview(current_session(), engine(), schedule))


@blp.post("/admin/calendar")
@requires("admin")
def admin_load_calendar() -> Any:
    year, holidays, workdays, faults = _marked(request.form)
    if faults:
        session["calendar_errors"] = faults
        return redirect(url_for("ui.calendar_grid", year=year or None))
    try:
        recounted = calendar_store.store(current_session(), engine(), from_lists(year, holidays, workdays),
                                         source="网页月历", actor=g.principal.username, now=now())
    except ScheduleError:
        db.session.rollback()
        session["calendar_errors"] = ["放假安排有误，未载入"]
        return redirect(url_for("ui.calendar_grid", year=year))
    session["message"] = (f"{year} 年放假安排已载入：{len(holidays)} 天休、{len(workdays)} 天调休上班，"
                          f"重新计算了 {recounted} 个临时期限")
    return redirect(url_for("ui.calendar_grid", year=year))
