"""Counting periods on real dates of the Chinese calendar, and reading holiday schedules."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from workflow.calendar import (
    WorkCalendar,
    add_days,
    add_months,
    add_working_days,
    months_later,
    subtract_working_days,
    working_days_between,
)
from workflow.schedules import ScheduleError, parse_csv, parse_yaml

SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR_2027 = """\
year: 2027
holidays: [2027-01-01, 2027-02-06..2027-02-13, 2027-04-05, 2027-05-01..2027-05-05, 2027-06-09,
           2027-09-15, 2027-10-01..2027-10-07]
workdays: [2027-02-14, 2027-04-25, 2027-09-26, 2027-10-09]
"""


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_fifteen_days_from_21_september_end_after_national_day() -> None:
    due = add_days(WorkCalendar(), at(2026, 9, 21, 9, 30), 15)
    assert due.at == at(2026, 10, 9) and not due.provisional  # 2026-10-08 at 24:00


def test_a_period_ending_on_a_rest_day_moves_to_the_next_working_day() -> None:
    due = add_days(WorkCalendar(), at(2026, 9, 16, 10), 15)  # last day 10-01, a holiday
    assert due.at == at(2026, 10, 9)


def test_three_working_days_from_30_september_end_on_the_make_up_saturday() -> None:
    due = add_working_days(WorkCalendar(), at(2026, 9, 30, 15), 3)
    assert due.at == at(2026, 10, 11) and not due.provisional  # 2026-10-10 (Saturday, 调休上班) at 24:00


def test_the_start_day_is_never_counted() -> None:
    assert add_working_days(WorkCalendar(), at(2026, 11, 24, 0, 1), 1).at == at(2026, 11, 26)
    assert add_days(WorkCalendar(), at(2026, 11, 24, 23, 59), 1).at == at(2026, 11, 26)


def test_a_period_into_an_unscheduled_year_is_provisional_until_the_year_is_loaded() -> None:
    calendar = WorkCalendar()
    provisional = add_working_days(calendar, at(2026, 12, 30, 10), 3)
    assert provisional.provisional and provisional.at == at(2027, 1, 6)  # 12-31, 01-04, 01-05 (01-01 fixed holiday)
    calendar.load(parse_yaml(YEAR_2027))
    official = add_working_days(calendar, at(2026, 12, 30, 10), 3)
    assert not official.provisional and official.at == at(2027, 1, 6)
    spring = add_working_days(calendar, at(2027, 2, 5, 10), 1)
    assert spring.at == at(2027, 2, 15)  # 2-06..2-13 off, Sunday 2-14 is a make-up workday


def test_warnings_count_working_days_backwards() -> None:
    assert subtract_working_days(WorkCalendar(), at(2026, 10, 11), 1) == at(2026, 10, 10)
    assert subtract_working_days(WorkCalendar(), at(2026, 11, 28), 1) == at(2026, 11, 27)


def test_working_days_between_counts_only_working_days() -> None:
    assert working_days_between(WorkCalendar(), at(2026, 9, 30, 9), at(2026, 10, 11)) == 3  # 10-08, 10-09, 10-10


def test_a_csv_schedule_is_read() -> None:
    schedule = parse_csv("date,kind\n2027-01-01,休\n2027-02-06..2027-02-13,holiday\n2027-02-14,班\n")
    assert schedule.year == 2027 and date(2027, 2, 14) in schedule.workdays and len(schedule.holidays) == 9


@pytest.mark.parametrize(("text", "where"), [
    ("year: 2027\nholidays: [2027-01-01, 2027-13-01]\n", "line 2"),
    ("year: 2027\nholidays:\n  - 2027-01-01\n  - not-a-date\n", "line 4"),
    ("year: 2027\nholidays: [2026-12-31]\n", "dates"),
    ("year: 2027\nholidays: [2027-01-01]\nweekends: []\n", "line 3"),
    ("year: [2027\n", "line 2"),
])
def test_a_malformed_yaml_schedule_names_the_line(text: str, where: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        parse_yaml(text)
    assert where in refused.value.errors, refused.value.errors


@pytest.mark.parametrize(("text", "where"), [
    ("date,kind\n2027-01-01,休\n2027-02-30,休\n", "line 3"),
    ("date,kind\n2027-01-01,maybe\n", "line 2"),
    ("day,type\n2027-01-01,休\n", "line 1"),
    ("date,kind\n2027-01-01,休\n2027-01-01,班\n", "dates"),
])
def test_a_malformed_csv_schedule_names_the_line(text: str, where: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        parse_csv(text)
    assert where in refused.value.errors, refused.value.errors


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2021, 6, 15), 36, date(2024, 6, 15)),
    (date(2020, 2, 29), 12, date(2021, 2, 28)),    # no corresponding day: the month's last day (民法典 art. 202)
    (date(2021, 8, 31), -6, date(2021, 2, 28)),
    (date(2021, 12, 31), -6, date(2021, 6, 30)),
    (date(2021, 1, 31), 1, date(2021, 2, 28)),
    (date(2023, 11, 30), 2, date(2024, 1, 30)),
])
def test_months_later_is_the_corresponding_day(day: date, months: int, expected: date) -> None:
    assert months_later(day, months) == expected


def test_a_period_in_months_ends_on_the_corresponding_day_moved_past_rest_days() -> None:
    # three years from 15 June 2021: Saturday 15 June 2024, so Monday 17 June at 24:00
    due = add_months(WorkCalendar(), at(2021, 6, 15, 14), 36)
    assert due.at == at(2024, 6, 18) and not due.provisional
    # one month from 31 December 2025: 31 January 2026 (Saturday), moved to Monday 2 February
    assert add_months(WorkCalendar(), at(2025, 12, 31, 9), 1).at == at(2026, 2, 3)


def test_a_period_in_months_into_an_unscheduled_year_is_provisional() -> None:
    calendar = WorkCalendar()
    due = add_months(calendar, at(2026, 3, 1, 9), 12)   # Monday 1 March 2027
    assert due.at == at(2027, 3, 2) and due.provisional
    calendar.load(parse_yaml(YEAR_2027))
    assert not add_months(calendar, at(2026, 3, 1, 9), 12).provisional
