"""Counting periods the way Chinese law counts them, in Asia/Shanghai.

- Calendar days (民法典 arts. 201–203): the start day is not counted; the period ends at 24:00 of its last
  day; a last day that is a rest day or statutory holiday moves to the next working day.
- Working days: weekends and statutory holidays are off, make-up working days (调休) are on.

Which days are working days comes from a :class:`WorkCalendar`: the official schedules chinese-calendar
knows, plus years an administrator loaded as data. A year known to neither is counted on weekends and
fixed-date holidays only, and every result that touched such a year is marked ``provisional``.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Fixed-date statutory holidays (全国年节及纪念日放假办法): New Year, Labour Day (1–2 May), National Day (1–3 Oct).
# Lunar holidays cannot be placed without the year's official schedule; a provisional count ignores them.
FIXED_HOLIDAYS = ((1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3))


@dataclass
class YearSchedule:
    """One year's official schedule: statutory holidays and make-up working days."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]


@dataclass
class WorkCalendar:
    """Working days from chinese-calendar plus loaded schedules; unknown years are provisional."""

    loaded: dict[int, YearSchedule] = field(default_factory=dict)
    # answers already worked out, per day; loading a year forgets them
    _answers: dict[date | int, bool] = field(default_factory=dict, repr=False, compare=False)
    _periods: dict[tuple[str, date, int], Due] = field(default_factory=dict, repr=False, compare=False)

    def load(self, schedule: YearSchedule) -> None:
        self.loaded[schedule.year] = schedule
        self._answers.clear()
        self._periods.clear()

    def unload(self, year: int | None = None) -> None:
        """Forget one loaded year (or all of them)."""
        if year is None:
            self.loaded.clear()
        else:
            self.loaded.pop(year, None)
        self._answers.clear()
        self._periods.clear()

    def remembered(self, key: tuple[str, date, int]) -> Due | None:
        """A period already counted from that day (a whole import's cases share one start)."""
        return self._periods.get(key)

    def remember(self, key: tuple[str, date, int], due: Due) -> Due:
        if len(self._periods) > 10_000:
            self._periods.clear()
        self._periods[key] = due
        return due

    def knows(self, year: int) -> bool:
        if year in self.loaded:
            return True
        known = self._answers.get(year)
        if known is None:
            try:
                chinese_calendar.is_workday(date(year, 6, 1))
                known = True
            except NotImplementedError:
                known = False
            self._answers[year] = known
        return known

    def is_workday(self, day: date) -> bool:
        answer = self._answers.get(day)
        if answer is None:
            answer = self._answers[day] = self._work_out(day)
        return answer

    def _work_out(self, day: date) -> bool:
        schedule = self.loaded.get(day.year)
        if schedule is not None:
            if day in schedule.workdays:
                return True
            if day in schedule.holidays:
                return False
            return day.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS


@dataclass(frozen=True)
class Due:
    """A due instant, and whether it was counted across a year with no official schedule."""

    at: datetime
    provisional: bool


def _end_of(day: date) -> datetime:
    """24:00 of ``day`` in Shanghai, i.e. 00:00 of the next day."""
    return datetime.combine(day + timedelta(days=1), time(), SHANGHAI)


def add_days(calendar: WorkCalendar, start: datetime, days: int) -> Due:
    """Civil Code: skip the start day, count ``days`` days, end at 24:00, roll a rest day forward."""
    first = start.astimezone(SHANGHAI).date()
    return _ending_on(calendar, first, first + timedelta(days=days))


def months_later(day: date, months: int) -> date:
    """The day corresponding to ``day`` ``months`` months later (earlier when negative); the last day of the
    month when that month has no such day (民法典 art. 202: 2024-02-29 plus a year is 2025-02-28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def add_months(calendar: WorkCalendar, start: datetime, months: int) -> Due:
    """Civil Code arts. 201–203 for a period in months (or years, as 12 months each): the start day is not
    counted, the last day is the corresponding day of the last month, the period ends at 24:00 of it, and a
    last day that is a rest day or holiday moves to the next working day."""
    first = start.astimezone(SHANGHAI).date()
    return _ending_on(calendar, first, months_later(first, months))


def _ending_on(calendar: WorkCalendar, first: date, last: date) -> Due:
    touched = {first.year, last.year}
    while not calendar.is_workday(last):
        last += timedelta(days=1)
        touched.add(last.year)
    return Due(_end_of(last), not all(calendar.knows(year) for year in touched))


def add_working_days(calendar: WorkCalendar, start: datetime, days: int) -> Due:
    """Count ``days`` working days after the start day; the period ends at 24:00 of the last one."""
    first = start.astimezone(SHANGHAI).date()
    known = calendar.remembered(("working_days", first, days))
    if isinstance(known, Due):
        return known
    day = first
    touched = {day.year}
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        touched.add(day.year)
        if calendar.is_workday(day):
            counted += 1
    return calendar.remember(("working_days", first, days),
                             Due(_end_of(day), not all(calendar.knows(year) for year in touched)))


def subtract_working_days(calendar: WorkCalendar, end: datetime, days: int) -> datetime:
    """The instant ``days`` working days before ``end`` (for warnings: "due soon")."""
    day = (end - timedelta(microseconds=1)).astimezone(SHANGHAI).date()
    counted = 0
    while counted < days:
        day -= timedelta(days=1)
        if calendar.is_workday(day):
            counted += 1
    return _end_of(day)


def working_days_between(calendar: WorkCalendar, start: datetime, end: datetime) -> int:
    """Working days from the day after ``start`` up to and including the day of ``end`` (may be 0)."""
    first = start.astimezone(SHANGHAI).date()
    last = (end - timedelta(microseconds=1)).astimezone(SHANGHAI).date()
    return sum(1 for offset in range(1, (last - first).days + 1)
               if calendar.is_workday(first + timedelta(days=offset)))


def count_period(calendar: WorkCalendar, unit: str, amount: int, start: datetime) -> Due:
    """A period of ``amount`` ``days``, ``working_days`` or ``months`` counted from ``start`` as a deadline is."""
    if unit == "working_days":
        return add_working_days(calendar, start, amount)
    if unit == "months":
        return add_months(calendar, start, amount)
    return add_days(calendar, start, amount)


def last_day(moment: datetime | None) -> date | None:
    """The last day of a period, in Shanghai: a period ending at 24:00 is due on the day before 00:00."""
    if moment is None:
        return None
    return (moment.astimezone(SHANGHAI) - timedelta(microseconds=1)).date()


def written_date(day: date | None) -> str:
    """A date as it is written on paper: 2026年12月2日."""
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def days_of(dates: Iterable[date]) -> frozenset[date]:
    return frozenset(dates)
