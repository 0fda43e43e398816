"""统计: figures named in Chinese for a chosen period, one row per street; the Excel export opened and summed."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask

from tests.api.ui_support import signed_in, visible_text
from tests.conftest import Api, mediation_data


def three_cases(api: Api) -> None:
    for claims in ("一", "二"):
        case = api.open_case("chengdong_mediator", "mediation_case", mediation_data(claims=claims, amount="1000.00"))
        api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    api.open_case("daxi_clerk", "mediation_case", mediation_data(amount="500.50"))


@pytest.mark.parametrize(("query", "label", "counted"), [
    ("", "2026年", True),
    ("?period=month&month=2026-11", "2026年11月", True),
    ("?period=month&month=2026-10", "2026年10月", False),
    ("?period=quarter&year=2026&quarter=4", "2026年第4季度", True),
    ("?period=custom&from=2026-11-01&to=2026-11-23", "2026年11月1日至2026年11月23日", False),
    ("?period=custom&from=2026-11-24&to=2026-11-24", "2026年11月24日至2026年11月24日", True),
])
def test_the_period_selector_chooses_the_cases_counted(fresh: Flask, api: Api, query: str, label: str,
                                                       counted: bool) -> None:
    three_cases(api)
    client, _ = signed_in(fresh, "city_admin")
    page = client.get(f"/dashboard{query}").get_data(as_text=True)
    text = visible_text(page)
    assert f"统计 · 温岭市总工会 · {label}" in text
    for name in ("调处结案率", "调解成功率", "新建工会", "覆盖单位", "惠及职工", "一次办结率"):
        assert name in text
    total = page.split('id="report-mediation_case"', 1)[1].split('data-figure="accepted"', 1)[1]
    assert total.split("<b>", 1)[1].startswith("2" if counted else "0")


def test_a_wrong_period_falls_back_to_the_year_and_says_so(fresh: Flask) -> None:
    client, _ = signed_in(fresh, "city_admin")
    text = visible_text(client.get("/dashboard?period=custom&from=2026-12-01&to=2026-01-01").get_data(as_text=True))
    assert "结束日期不能早于开始日期" in text and "2026年" in text


def test_the_excel_export_sums_per_street_like_the_report(fresh: Flask, api: Api) -> None:
    from openpyxl import load_workbook

    three_cases(api)
    client, _ = signed_in(fresh, "city_admin")
    book = load_workbook(io.BytesIO(client.get("/dashboard/all.xlsx?period=year&year=2026").data))
    assert sorted(book.sheetnames) == sorted(["劳动人事争议调解", "职工医疗互助报销", "基层工会组建", "职工反映问题",
                                              "基层工会换届"])
    sheet = book["劳动人事争议调解"]
    assert sheet["A1"].value == "劳动人事争议调解统计（2026年，温岭市总工会）"
    header = [cell.value for cell in sheet[2]]
    assert header[:4] == ["单位", "来访登记", "受理", "涉及金额（元）"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=3)]
    streets, total = rows[:-1], rows[-1]
    assert total[0] == "合计" and len(streets) == 16
    column = header.index("受理")
    assert sum(row[column] for row in streets) == total[column] == 2
    money = header.index("涉及金额（元）")
    assert float(sum(row[money] for row in streets)) == pytest.approx(2500.50)
    rate = header.index("调处结案率")
    chengdong = next(row for row in streets if row[0] == "城东街道总工会")
    assert chengdong[rate] == 0.0 and sheet.cell(row=3, column=rate + 1).number_format == "0.0%"
    reported = api.get("/reports/mediation_case?from=2026-01-01&to=2026-12-31", "city_admin").get_json()
    assert total[column] == reported["accepted"] and total[header.index("来访登记")] == reported["visitors"]
    # the CSV: the same columns, the same rows
    exported = client.get("/dashboard/mediation_case.csv?period=year&year=2026").get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    assert lines[0] == header and len(lines) == len(rows) + 1
    assert sum(int(line[column]) for line in lines[1:-1]) == 2


def test_a_street_sees_its_own_units(fresh: Flask, api: Api) -> None:
    three_cases(api)
    client, _ = signed_in(fresh, "chengdong_clerk")
    text = visible_text(client.get("/dashboard").get_data(as_text=True))
    assert "温岭市东海鞋业有限公司工会" in text and "大溪镇总工会" not in text
