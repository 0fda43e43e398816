"""Reading an official holiday schedule (国务院办公厅 放假安排) from YAML or CSV, refusing a malformed file
with the line at fault. Pure parsing: storing and using the schedule is the caller's business.

YAML::

    year: 2027
    holidays: [2027-01-01, 2027-02-06..2027-02-13]   # single days or inclusive ranges
    workdays: [2027-02-14]                           # make-up working days (调休上班)

CSV (a header line ``date,kind``; kind is ``holiday``/``休`` or ``workday``/``班``)::

    date,kind
    2027-01-01,holiday
    2027-02-14,workday
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import yaml

from workflow.calendar import YearSchedule
from workflow.errors import InvalidData

HOLIDAY_KINDS = {"holiday": "holiday", "休": "holiday", "假": "holiday", "workday": "workday", "班": "workday"}


class ScheduleError(InvalidData):
    """A schedule file is malformed; ``errors`` maps "line N" to what is wrong there."""

    title = "放假安排文件格式错误"


def _days(text: str) -> list[date]:
    text = text.strip()
    if ".." in text:
        first_text, last_text = text.split("..", 1)
        first, last = date.fromisoformat(first_text.strip()), date.fromisoformat(last_text.strip())
        if last < first:
            raise ValueError("a range must not end before it starts")
        return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    return [date.fromisoformat(text)]


def _finish(year: int | None, holidays: set[date], workdays: set[date], faults: dict[str, list[str]],
            default_year: int | None) -> YearSchedule:
    year = year or default_year
    if year is None:
        faults.setdefault("year", []).append("the file names no year (a `year:` key, or dates of one year)")
    else:
        for day in sorted(holidays | workdays):
            if day.year != year:
                faults.setdefault("dates", []).append(f"{day} is not in {year}")
    for day in sorted(holidays & workdays):
        faults.setdefault("dates", []).append(f"{day} is listed both as a holiday and as a workday")
    if not holidays:
        faults.setdefault("holidays", []).append("no holidays listed")
    if faults:
        raise ScheduleError(faults, detail="放假安排文件有误：" + "；".join(
            f"{where}: {', '.join(messages)}" for where, messages in faults.items()))
    assert year is not None
    return YearSchedule(year, frozenset(holidays), frozenset(workdays))


def parse_yaml(text: str) -> YearSchedule:
    faults: dict[str, list[str]] = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        problem = str(getattr(error, "problem", error))
        raise ScheduleError({where: [problem]}, detail="放假安排文件不是有效的 YAML") from error
    if not isinstance(root, yaml.MappingNode):
        raise ScheduleError({"file": ["expected a mapping with year, holidays, workdays"]})
    year: int | None = None
    found: dict[str, set[date]] = {"holidays": set(), "workdays": set()}
    for key_node, value_node in root.value:
        key, line = key_node.value, key_node.start_mark.line + 1
        if key == "year":
            try:
                year = int(value_node.value)
            except (TypeError, ValueError):
                faults.setdefault(f"line {line}", []).append(f"year {value_node.value!r} is not a number")
        elif key in found:
            if not isinstance(value_node, yaml.SequenceNode):
                faults.setdefault(f"line {line}", []).append(f"{key} must be a list of dates")
                continue
            for item in value_node.value:
                try:
                    found[key].update(_days(str(item.value)))
                except (ValueError, TypeError) as error:
                    faults.setdefault(f"line {item.start_mark.line + 1}", []).append(
                        f"{item.value!r} is not a date or a range YYYY-MM-DD..YYYY-MM-DD ({error})")
        else:
            faults.setdefault(f"line {line}", []).append(f"unknown key {key!r}")
    return _finish(year, found["holidays"], found["workdays"], faults, None)


def parse_csv(text: str) -> YearSchedule:
    faults: dict[str, list[str]] = {}
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None or [cell.strip().lower() for cell in header[:2]] != ["date", "kind"]:
        raise ScheduleError({"line 1": ["the header must be: date,kind"]})
    found: dict[str, set[date]] = {"holiday": set(), "workday": set()}
    years: set[int] = set()
    for line, row in enumerate(reader, start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            faults.setdefault(f"line {line}", []).append("expected two columns: date,kind")
            continue
        kind = HOLIDAY_KINDS.get(row[1].strip().lower())
        try:
            days = _days(row[0])
        except ValueError as error:
            faults.setdefault(f"line {line}", []).append(f"{row[0]!r} is not a date ({error})")
            continue
        if kind is None:
            faults.setdefault(f"line {line}", []).append(f"kind {row[1]!r} is not holiday/休 or workday/班")
            continue
        found[kind].update(days)
        years.update(day.year for day in days)
    default_year = years.pop() if len(years) == 1 else None
    if len(years) > 0:
        faults.setdefault("dates", []).append("the file mixes several years")
    return _finish(None, found["holiday"], found["workday"], faults, default_year)


def parse(name: str, text: str) -> YearSchedule:
    """Parse by file name: ``.csv`` as CSV, anything else as YAML."""
    return parse_csv(text) if name.lower().endswith(".csv") else parse_yaml(text)


def from_lists(year: int, holidays: list[str], workdays: list[str]) -> YearSchedule:
    """A schedule from lists of days or ranges (the admin API's JSON body), validated like a file."""
    faults: dict[str, list[str]] = {}
    found: dict[str, set[date]] = {"holidays": set(), "workdays": set()}
    for key, items in (("holidays", holidays), ("workdays", workdays)):
        for index, item in enumerate(items):
            try:
                found[key].update(_days(str(item)))
            except ValueError as error:
                faults.setdefault(f"{key}.{index}", []).append(f"{item!r} is not a date or a range ({error})")
    return _finish(year, found["holidays"], found["workdays"], faults, None)
