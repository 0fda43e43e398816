"""The import of existing unions: 1,000 unions opened in bulk with due dates checked against the official
calendar, every bad row named, the same file twice changing nothing, the command line."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import sqlalchemy as sa
from flask import Flask
from stdnum.cn import uscc

from api.deadlines import SHANGHAI
from api.demo import STREETS
from api.fields import organisation_code_ok
from tests.api.test_union_term import sweep
from tests.conftest import Api, FrozenClock

HEADER = "工会代码,工会名称,统一社会信用代码,所属镇街,工会主席,委员,成立或上次换届日期,任期（年）\n"
TODAY = date(2026, 11, 24)


def credit_code(serial: int) -> str:
    """A valid synthetic USCC: Wenling's area code, an organisation code with its GB 11714 check character, and
    the 18th check character."""
    body = f"91331081{serial:08d}"
    check = next(ch for ch in "0123456789X" if organisation_code_ok(f"{body}{ch}0"))
    return f"{body}{check}{uscc.calc_check_digit(body + check)}"


def upload(api: Api, text: str, user: str = "city_admin") -> Any:
    return api.client.post("/api/v1/union-terms/import", headers=api.headers(user),
                           data={"file": (io.BytesIO(text.encode("utf-8-sig")), "unions.csv")},
                           content_type="multipart/form-data")


def same_day_later(day: date, years: int, months_back: int = 0) -> date:
    """Worked out apart from the code under test: ``years`` on, ``months_back`` earlier, the month's last day
    when the month is shorter."""
    month = day.month - months_back
    year = day.year + years
    while month < 1:
        month, year = month + 12, year - 1
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError(day)


def next_working_day(day: date) -> date:
    while not chinese_calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def thousand_unions(count: int = 997, until: date | None = None) -> tuple[str, dict[str, tuple[date, int]]]:
    """997 unions not yet in the org tree (one per row, the 16 streets in turn) and the three demo unions found
    by code, by name and by credit code; each with a term ending by 2026 (years with an official calendar)."""
    rng = random.Random(20)
    lines, terms = [], {}
    starts = [date(2020, 2, 29), date(2021, 8, 31), date(2023, 10, 31)]
    for index in range(count):
        years = rng.choice([3, 5, None])
        span = (date(2019, 1, 1), until or date(2021, 12, 20)) if years in (5, None) else (
            date(2021, 1, 1), until or date(2023, 11, 24))
        start = starts[index] if index < len(starts) else span[0] + timedelta(days=rng.randrange(
            (span[1] - span[0]).days))
        if index < len(starts):
            years = 5 if start.year < 2022 else 3
        code = credit_code(10_000 + index)
        street = STREETS[index % len(STREETS)][1]
        lines.append(f",温岭市测试{index:04d}有限公司,{code},{street},主席{index},委员甲、委员乙、委员丙,"
                     f"{start.isoformat().replace('-', '/') if index % 7 == 0 else start},{years or ''}\n")
        terms[code] = (start, years or 5)
    lines.append("cd-e001,,,,陈建国,陈建国、王丽、李明,2021-05-10,5\n")
    lines.append(",温岭市华泰泵业有限公司,,,周海燕,,2021-12-20,5\n")
    lines.append(",,91331081091141705K,,郑志刚,,2023-01-03,3\n")
    terms.update({"cd-e001": (date(2021, 5, 10), 5), "cd-e002": (date(2021, 12, 20), 5),
                  "dx-e001": (date(2023, 1, 3), 3)})
    return HEADER + "".join(lines), terms


def test_1000_existing_unions_are_imported_with_their_term_dates_on_the_calendar(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    text, terms = thousand_unions()
    response = upload(api, text)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["rows"], body["cases_opened"], body["unions_created"], body["rejected"]) == (1000, 1000, 997, [])

    from api.extensions import db
    from api.models import Case, OrgUnit, Timer
    with fresh.app_context():
        union_code = Case.data["union_unit"].as_string()
        rows = db.session.execute(sa.select(Case, OrgUnit).join(OrgUnit, OrgUnit.code == union_code)
                                  .where(Case.definition_key == "union_term"))
        seen = 0
        for case, union in rows:
            start, years = terms[union.uscc if union.code not in terms else union.code]
            end = next_working_day(same_day_later(start, years))
            reminder = same_day_later(start, years, months_back=6)
            assert (case.state, case.level, case.org_unit_id) == ("in_term", "street", union.parent_id)
            assert (case.data["term_start"], case.data["term_years"]) == (start.isoformat(), years)
            assert (case.data["term_end"], case.data["reminder_on"]) == (end.isoformat(), reminder.isoformat())
            assert case.due_at.astimezone(SHANGHAI).isoformat() == f"{reminder + timedelta(days=1)}T00:00:00+08:00"
            seen += 1
        assert seen == 1000
        pending = db.session.execute(sa.select(sa.func.count()).select_from(Timer).join(Case).where(
            Timer.status == "pending", Timer.due_at == Case.due_at, Case.definition_key == "union_term")).scalar()
        assert pending == 1000
    again = upload(api, text).get_json()   # the same file again changes nothing
    assert (again["cases_opened"], len(again["already_open"]), again["unions_created"]) == (0, 1000, 0)


def test_the_next_sweep_moves_imported_unions_on_as_their_dates_say(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    text, terms = thousand_unions(60, until=TODAY)   # terms ending up to 2031
    assert upload(api, text).get_json()["cases_opened"] == 63
    # the reminder passed: 应换届; the whole term passed: 超期未换届 (both fired by one sweep)
    sweep(fresh, clock())
    expected = {"in_term": 0, "due": 0, "overdue": 0}
    for start, years in terms.values():
        end = same_day_later(start, years)
        end = next_working_day(end) if end.year <= 2026 else end   # later: after today whichever day it is
        state = ("overdue" if end < TODAY else "due" if same_day_later(start, years, 6) < TODAY else "in_term")
        expected[state] += 1
    assert all(expected.values()), expected   # the sample has unions in each state
    report = api.get("/reports/union_term", "city_admin").get_json()
    assert {state: report["by_state"].get(state, 0) for state in expected} == expected
    assert (report["unions_in_term"], report["unions_due"], report["unions_overdue"]) == (
        expected["in_term"], expected["due"], expected["overdue"])
    assert sum(street["overdue"] for street in report["per_street"].values()) == expected["overdue"]


def test_every_bad_row_is_named_and_the_good_ones_are_imported(fresh: Flask, api: Api) -> None:
    text = HEADER + "".join([
        "cd-e001,,,,陈建国,陈建国、王丽、李明,2021-05-10,5\n",                      # good
        f",温岭市新厂有限公司,{credit_code(1)},火星镇,张三,,2022-01-01,5\n",        # unknown street
        f",温岭市新厂有限公司,{credit_code(2)}X,城东街道,张三,,2022-01-01,5\n",     # bad credit code
        "cd-e002,,,,,,2022-13-01,4\n",                                                # no chair, bad date, 4 years
        "dx-e001,,,,郑志刚,,2027-01-01,3\n",                                          # in the future
        "cd-e001,,,,陈建国,,2021-05-10,5\n",                                          # the same union again
        ",,,,李四,,2022-01-01,5\n",                                                   # no union named
        "chengdong,,,,李四,,2022-01-01,5\n",                                          # a street is not a union
    ])
    body = upload(api, text, user="chengdong_clerk").get_json()
    assert body["cases_opened"] == 1
    reasons = {item["row"]: item["reason"] for item in body["rejected"]}
    assert reasons == {
        3: "未知的镇街“火星镇”",
        4: "统一社会信用代码校验失败",
        5: "工会主席为空；成立或上次换届日期“2022-13-01”无法识别；任期“4”须为 3 或 5 年",
        6: "成立或上次换届日期晚于今天",
        7: "工会 cd-e001 在文件中重复出现",
        8: "未填工会代码、工会名称或统一社会信用代码",
        9: "chengdong 不是镇（街道）下的基层工会",
    }
    outside = upload(api, "工会代码,工会主席,成立或上次换届日期\ndx-e001,郑志刚,2025-01-02\n", user="chengdong_clerk")
    assert outside.get_json()["rejected"][0]["reason"] == "工会 dx-e001 不在本单位范围内"
    assert upload(api, "工会代码,工会主席\ncd-e001,陈建国\n").status_code == 422       # no date column
    assert upload(api, HEADER, user="ent_clerk").status_code == 403                   # an enterprise union


def test_gonghui_import_union_terms_reads_a_file(fresh: Flask, tmp_path: Path) -> None:
    """The command is the plug-in's: create_app adds it to ``gonghui`` (app.cli), nothing else names it."""
    path = tmp_path / "unions.csv"
    path.write_text(HEADER + "cd-e001,,,,陈建国,,2021-05-10,5\ncd-e002,,,,,,2021-05-10,5\n", encoding="utf-8-sig")
    result = fresh.test_cli_runner().invoke(args=["import-union-terms", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 term cases opened" in result.output and "row 3 (cd-e002): rejected: 工会主席为空" in result.output
    again = fresh.test_cli_runner().invoke(args=["import-union-terms", str(path)])
    assert "0 term cases opened" in again.output and "1 unions already with an open term case" in again.output


def test_a_file_with_nul_characters_or_not_csv_is_refused_cleanly(api: Api) -> None:
    body = upload(api, HEADER + "cd-e001,,,,陈\x00建国,,2021-05-10,5\n").get_json()
    assert (body["cases_opened"], body["rejected"][0]["reason"]) == (0, "含有 NUL 字符")
    binary = api.client.post("/api/v1/union-terms/import", headers=api.headers("city_admin"),
                             data={"file": (io.BytesIO(b"\xff\xfe\x00\x01"), "unions.csv")},
                             content_type="multipart/form-data")
    assert binary.status_code == 422 and "file" in binary.get_json()["errors"]
