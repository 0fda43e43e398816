"""Union formation: screening the roster, driving formation as a case, the new union, the coverage report."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Api

DATA = Path(__file__).resolve().parents[1] / "data"   # copies of ../shared/data, the synthetic rosters
CLERK = "chengdong_clerk"
HEADER = "统一社会信用代码,单位名称,所属镇街,行业,参保人数,成立日期,是否已建会,联系人,联系电话\n"
# three valid codes (checked with python-stdnum and the GB 11714 organisation-code check)
BIG, SMALL, OTHER = "91331081865797549P", "91331081030824625M", "913310816252760159"


def upload(api: Api, text: str, name: str = "roster.csv", user: str = "city_admin", query: str = "") -> Any:
    return api.client.post(f"/api/v1/enterprises/import{query}", headers=api.headers(user),
                           data={"file": (io.BytesIO(text.encode("utf-8-sig")), name)},
                           content_type="multipart/form-data")


def known_roster() -> str:
    return HEADER + "".join([
        f"{BIG},温岭市川创机电有限公司,城东街道,泵与电机,126,2004-06-26,否,,\n",
        f"{SMALL},温岭市远北电器有限公司,城东街道,餐饮,23,2008-12-16,否,,\n",
        f"{OTHER},温岭市联远电器有限公司,城东街道,水产加工,40,2003-10-16,否,,\n",
    ])


def test_the_sample_roster_opens_a_case_for_each_qualifying_employer(fresh: Flask, api: Api) -> None:
    # Expected figures derived independently from the file (normalise, validate codes, last row wins):
    # 500 rows, none rejected; 144 with 25+ staff, founded by 2025-11-24 and no union; 201 under 25 without one.
    result = upload(api, (DATA / "roster-sample.csv").read_text(encoding="utf-8-sig"))
    assert result.status_code == 200, result.get_json()
    body = result.get_json()
    assert (body["rows"], body["employers_upserted"], body["cases_opened"], body["joint_union_candidates"],
            len(body["rejected"]), body["duplicates_merged"]) == (500, 500, 144, 201, 0, 0)
    again = upload(api, (DATA / "roster-sample.csv").read_text(encoding="utf-8-sig")).get_json()
    assert again["cases_opened"] == 0  # importing the same file twice changes nothing
    assert api.get("/cases?definition=union_formation", "city_admin").get_json()["total"] == 144
    by_street = api.get("/cases?definition=union_formation&org_unit=chengdong", "chengdong_clerk").get_json()
    assert by_street["total"] > 0 and all(c["org_unit"] == "chengdong" for c in by_street["items"])
    # opened set-wise, each case is what open_case makes: a chained first history row, its deadline timer,
    # the employer pointing at it
    import sqlalchemy as sa

    from api.audit import verify
    from api.extensions import db
    with fresh.app_context():
        assert list(verify(db.session)) == []
        rows = db.session.execute(sa.text(
            "SELECT c.version, c.due_at IS NOT NULL, (SELECT count(*) FROM timers t WHERE t.case_id = c.id "
            "AND t.status = 'pending' AND t.due_at = c.due_at), (SELECT count(*) FROM employers e "
            "WHERE e.formation_case_id = c.id) FROM cases c WHERE c.definition_key = 'union_formation'")).all()
    assert len(rows) == 144 and {tuple(row) for row in rows} == {(1, True, 1, 1)}


def test_the_dirty_roster_is_cleaned_and_every_rejected_row_is_named(fresh: Flask, api: Api) -> None:
    # Derived independently: 2020 rows; 73 rejected (40 bad check characters, 33 blank staff counts);
    # 20 duplicate rows merged → 1927 employers; 502 cases; 752 joint-union candidates.
    text = (DATA / "roster-dirty.csv").read_text(encoding="utf-8-sig")
    body = upload(api, text).get_json()
    assert (body["rows"], len(body["rejected"]), body["duplicates_merged"], body["employers_upserted"],
            body["cases_opened"], body["joint_union_candidates"]) == (2020, 73, 20, 1927, 502, 752)
    reasons = {item["reason"] for item in body["rejected"]}
    assert "统一社会信用代码校验失败" in reasons and "参保人数为空" in reasons
    assert all(item["row"] >= 2 for item in body["rejected"])
    report = upload(api, text, query="?format=csv")
    assert report.content_type.startswith("text/csv")
    assert report.get_data(as_text=True).count("\n") == 74  # header + 73 rows


def test_full_width_digits_slashed_dates_and_spaces_are_normalised(fresh: Flask, api: Api) -> None:
    text = HEADER + f"{BIG},  温岭市川创机电有限公司 , 城东街道,泵与电机,１２６,2004/06/26,否,,\n"
    body = upload(api, text).get_json()
    assert body["cases_opened"] == 1 and body["rejected"] == []
    (employer,) = api.get(f"/enterprises?street=chengdong&q={BIG}", CLERK).get_json()["items"]
    assert (employer["name"], employer["insured_staff"], employer["founded_on"]) == (
        "温岭市川创机电有限公司", 126, "2004-06-26")


@pytest.mark.parametrize(("cell", "read"), [
    ("１２６", "126"), ("ＡＢＣ－１２３", "ABC-123"), ("温岭市　川创机电（有限）公司", "温岭市 川创机电(有限)公司"),
    ("  城东街道 \t", "城东街道"), ("２００４／０６／２６", "2004/06/26"),
    ("温岭市川创机电有限公司", "温岭市川创机电有限公司"),
    ("３²", "3²"), ("①", "①"), ("￥１２", "¥12"), (None, ""), (126, "126"),
])
def test_a_roster_cell_is_folded_to_half_width_and_its_spaces_trimmed(cell: object, read: str) -> None:
    from api.roster import normalise

    assert normalise(cell) == read


def test_bad_rows_are_rejected_with_their_row_numbers(fresh: Flask, api: Api) -> None:
    text = HEADER + "".join([
        f"{BIG},甲公司,城东街道,,abc,2004-06-26,否,,\n",
        "91331081865797549Q,乙公司,城东街道,,30,2004-06-26,否,,\n",
        f"{OTHER},丙公司,火星镇,,30,2004-06-26,否,,\n",
        f"{SMALL},丁公司,城东街道,,30,2004-13-45,否,,\n",
    ])
    body = upload(api, text).get_json()
    assert [(item["row"], item["reason"]) for item in body["rejected"]] == [
        (2, "参保人数“abc”不是整数"), (3, "统一社会信用代码校验失败"), (4, "未知的镇街“火星镇”"),
        (5, "成立日期“2004-13-45”无法识别")]
    assert body["employers_upserted"] == 0


def test_a_staff_count_in_other_digits_is_a_rejected_row_not_an_error(api: Api) -> None:
    body = upload(api, HEADER + f"{BIG},温岭市川创机电有限公司,城东街道,泵与电机,3²,2004-06-26,否,,\n").get_json()
    assert (body["cases_opened"], [(r["row"], r["reason"]) for r in body["rejected"]]) == (
        0, [(2, "参保人数“3²”不是整数")])


@pytest.mark.parametrize(("content", "name", "fault"), [
    ("单位名称,参保人数\n甲,30\n", "roster.csv", "headers"),
    ("\x00\x01\x02binary", "roster.xlsx", "file"),
])
def test_a_file_that_is_not_a_roster_is_refused(api: Api, content: str, name: str, fault: str) -> None:
    response = upload(api, content, name)
    assert response.status_code == 422 and fault in response.get_json()["errors"]


def test_an_xlsx_roster_is_read(fresh: Flask, api: Api) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    sheet.append([BIG, "温岭市川创机电有限公司", "城东街道", "泵与电机", 126, "2004-06-26", "否", "", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    response = api.client.post("/api/v1/enterprises/import", headers=api.headers("city_admin"),
                               data={"file": (io.BytesIO(buffer.getvalue()), "roster.xlsx")},
                               content_type="multipart/form-data")
    assert response.get_json()["cases_opened"] == 1


def formation_case(api: Api) -> dict[str, Any]:
    upload(api, known_roster())
    items = api.get("/cases?definition=union_formation", CLERK).get_json()["items"]
    return next(case for case in items if case["data"]["enterprise"]["uscc"] == BIG)


STEPS = [("notify", {"notice_date": "2026-11-25"}),
         ("start_preparation", {"leader": "林建国", "prep_group": ["林建国", "陈小红", "王志强"]}),
         ("open_registration", {}), ("call_election", {"members_registered": 98}),
         ("report_election", {"chair": "陈小红", "committee": ["陈小红", "王志强", "李娜"]})]
ALL_SIX = {"chair": True, "organization": True, "venue": True, "rules": True, "funds": True, "performance": True}


def test_a_formation_goes_from_identified_to_standardized_and_creates_the_union(fresh: Flask, api: Api) -> None:
    case = formation_case(api)
    assert (case["state"], case["org_unit"], case["due_at"]) == ("identified", "chengdong",
                                                                 "2026-12-09T00:00:00+08:00")  # 10 working days
    for event, data in STEPS:
        response = api.fire(case["id"], event, CLERK, data)
        assert response.status_code == 200, (event, response.get_json())
    assert api.fire(case["id"], "approve", "chengdong_mediator", {"approval_no": "温工〔2026〕18号"}).status_code == 403
    approved = api.fire(case["id"], "approve", CLERK, {"approval_no": "温工〔2026〕18号"}).get_json()
    assert approved["state"] == "established"
    new_unit = approved["data"]["union_unit"]
    (city,) = api.get("/org-units", CLERK).get_json()
    chengdong = next(street for street in city["children"] if street["code"] == "chengdong")
    created = next(unit for unit in chengdong["children"] if unit["code"] == new_unit)
    assert (created["name"], created["level"]) == ("温岭市川创机电有限公司工会", "enterprise")
    missing = api.fire(case["id"], "assess", CLERK, {"six_standards": {**ALL_SIX, "venue": False, "funds": False}})
    assert missing.status_code == 422
    assert missing.get_json()["errors"]["six_standards"] == ["venue（服务阵地）未达标", "funds（经费独立）未达标"]
    done = api.fire(case["id"], "assess", CLERK, {"six_standards": ALL_SIX}).get_json()
    assert done["state"] == "standardized" and done["closed"]
    (employer,) = api.get(f"/enterprises?q={BIG}", CLERK).get_json()["items"]
    assert (employer["union_status"], employer["union_unit"]) == ("single", new_unit)


def test_return_for_correction_sends_the_election_back(fresh: Flask, api: Api) -> None:
    case = formation_case(api)
    for event, data in STEPS:
        api.fire(case["id"], event, CLERK, data)
    returned = api.fire(case["id"], "return_for_correction", CLERK, {"reason": "委员候选人未经公示"})
    assert returned.get_json()["state"] == "electing"


def test_an_employer_can_be_exempted_with_a_reason(fresh: Flask, api: Api) -> None:
    case = formation_case(api)
    assert api.fire(case["id"], "exempt", CLERK, {}).status_code == 422
    exempted = api.fire(case["id"], "exempt", CLERK, {"reason": "企业已迁出温岭"}).get_json()
    assert exempted["state"] == "exempted"


def test_a_second_case_for_an_employer_with_one_open_is_409_naming_it(fresh: Flask, api: Api) -> None:
    case = formation_case(api)
    again = api.post("/cases", CLERK, {"definition": "union_formation", "data": {
        "kind": "single", "enterprise": {"uscc": BIG, "name": "温岭市川创机电有限公司"}}})
    assert again.status_code == 409 and case["number"] in again.get_json()["detail"]


def test_a_joint_union_covers_all_its_member_employers(fresh: Flask, api: Api) -> None:
    upload(api, known_roster())
    opened = api.post("/cases", CLERK, {"definition": "union_formation", "data": {
        "kind": "joint", "enterprise": {"uscc": SMALL, "name": "城东街道小微企业"}, "members": [SMALL, OTHER]}})
    assert opened.status_code == 201, opened.get_json()
    case = opened.get_json()
    for event, data in STEPS:
        api.fire(case["id"], event, CLERK, data)
    api.fire(case["id"], "approve", CLERK, {"approval_no": "温工〔2026〕19号"})
    listed = api.get("/enterprises?street=chengdong", CLERK).get_json()["items"]
    statuses = {e["uscc"]: e["union_status"] for e in listed}
    assert statuses[SMALL] == statuses[OTHER] == "joint"
    report = api.get("/reports/union_formation", CLERK).get_json()
    assert (report["new_unions"], report["single"], report["joint"], report["units_covered"],
            report["workers_reached"]) == (1, 0, 1, 2, 63)


def test_the_coverage_report_adds_up(fresh: Flask, api: Api) -> None:
    upload(api, known_roster())
    items = api.get("/cases?definition=union_formation", CLERK).get_json()["items"]
    assert len(items) == 2  # BIG and OTHER qualify; SMALL has 23 staff
    big = next(case for case in items if case["data"]["enterprise"]["uscc"] == BIG)
    for event, data in STEPS:
        api.fire(big["id"], event, CLERK, data)
    api.fire(big["id"], "approve", CLERK, {"approval_no": "温工〔2026〕20号"})
    report = api.get("/reports/union_formation", "city_admin").get_json()
    assert (report["new_unions"], report["single"], report["joint"], report["units_covered"],
            report["workers_reached"]) == (1, 1, 0, 1, 126)
    assert report["open_by_state"] == {"identified": 1}
    chengdong = report["per_street"]["chengdong"]
    # 25+ staff in 城东: the two demo employers with unions (320, 140), BIG (now with a union) and OTHER
    assert (chengdong["employers_25_plus"], chengdong["with_union"], chengdong["formation_rate"]) == (4, 3, 0.75)
    assert report["per_street"]["daxi"]["formation_rate"] == 1.0


def test_enterprise_lists_stay_in_scope(fresh: Flask, api: Api) -> None:
    upload(api, known_roster())
    assert api.get("/enterprises", "daxi_clerk").get_json()["total"] == 1  # only the demo employer of 大溪
    assert api.get("/enterprises?street=chengdong", "daxi_clerk").get_json()["total"] == 0
    assert api.get("/enterprises?unionized=false&min_staff=25", CLERK).get_json()["total"] == 2
    assert upload(api, known_roster(), user="ent_clerk").status_code == 403


def test_the_employers_list_gives_the_roster_contact_whole_only_to_those_who_form_unions(fresh: Flask,
                                                                                        api: Api) -> None:
    upload(api, HEADER + f"{BIG},温岭市川创机电有限公司,城东街道,泵与电机,126,2004-06-26,否,陈建国,13912345678\n")

    def contact(user: str) -> tuple[str, str]:
        item = api.get("/enterprises?q=川创", user).get_json()["items"][0]
        return item["contact_name"], item["contact_phone"]

    assert contact(CLERK) == contact("city_clerk") == contact("city_admin") == ("陈建国", "13912345678")
    assert contact("chengdong_mediator") == ("陈**", "139****5678")   # a mediator does not call employers
    assert api.get("/enterprises?q=川创", "daxi_clerk").get_json()["items"] == []
    properties = api.client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Enterprise"]["properties"]
    assert {"contact_name", "contact_phone"} <= set(properties)
    import sqlalchemy as sa

    from api.extensions import db
    from api.models import Employer
    from api.models_medical import AccessRecord
    with fresh.app_context():
        employer_id = db.session.scalar(sa.select(Employer.id).where(Employer.uscc == BIG))
        seen = db.session.execute(sa.select(AccessRecord.username, AccessRecord.fields, AccessRecord.case_id).where(
            AccessRecord.employer_id == employer_id)).all()
    assert {tuple(row) for row in seen} == {(CLERK, "contact_name,contact_phone", None),
                                           ("city_clerk", "contact_name,contact_phone", None),
                                           ("city_admin", "contact_name,contact_phone", None)}


def test_the_cli_imports_and_writes_the_rejected_rows(fresh: Flask, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from api.commands.union import import_enterprises

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "roster.csv"
    path.write_text(known_roster() + "bad,坏行,城东街道,,1,2020-01-01,否,,\n", encoding="utf-8-sig")
    result = fresh.test_cli_runner().invoke(import_enterprises, [str(path)])
    assert result.exit_code == 0, result.output
    assert "2 formation cases opened" in result.output and "1 rows rejected" in result.output
    assert "5,bad,统一社会信用代码校验失败" in (tmp_path / "roster.csv.rejected.csv").read_text(encoding="utf-8")
