"""Every page speaks Chinese: a crawl of every page as every demo user finds no English word and no internal
code outside a short allow-list; people by name and unit; deadlines as "12月2日（星期三）前"."""

from __future__ import annotations

import io
import re
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.api.test_medical import claim
from tests.api.ui_support import read, signed_in, visible_text
from tests.conftest import Api, mediation_data, shanghai
from tests.integration.test_deadlines import sweep

DEMO_USERS = ["city_admin", "chengdong_clerk", "chengdong_mediator", "daxi_clerk", "ent_clerk",
              "counter_chengbei", "chengbei_reviewer"]
ALLOWED = {"PDF", "CSV", "Excel", "YAML"}
DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
URL = re.compile(r"https?://\S+")
CASE_NUMBER = re.compile(r"\b[A-Z]{1,4}-\d{4}-\d{6}\b")
ASCII_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z_]+(?![A-Za-z0-9])")
NOT_CRAWLED = ("/logout", "/ui-static/", "/api/", "/dashboard/")   # files, not pages; the export has its test
PAGES_PER_USER = 80
UPLOADED = "参保名单.csv"   # a file name the clerk chose: its words are the clerk's
ROSTER = ("统一社会信用代码,单位名称,所属镇街,行业,参保人数,成立日期,是否已建会\n"
          "91331081865797549P,温岭市川创机电有限公司,城东街道,机电,26,2004-06-26,否\n"
          "91331081030824625M,温岭市远北电器有限公司,城东街道,电器,12,2008-12-16,否\n")


def lived_in(fresh: Flask, api: Api) -> None:
    """Cases of every lifecycle in several states, an escalation by the sweep among them."""
    api.open_case("ent_clerk", "mediation_case", mediation_data())
    sweep(fresh, shanghai(2026, 11, 28))          # escalated to the street: the history names the rule
    fresh.config["CLOCK"].set(shanghai(2026, 11, 28, 9))
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data(claims="另一件"))
    api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    api.fire(case["id"], "agree", "chengdong_mediator",
             {"agreement": {"terms": "分两期支付", "amount": "8000.00", "perform_by": "2026-12-31"}})
    response = api.post("/cases", "counter_chengbei", {"definition": "medical_aid_claim",
                                                       "data": claim(documents=["id_card"])})
    assert response.status_code == 201, response.get_json()
    imported = api.post("/enterprises/import", "chengdong_clerk",
                        data={"file": (io.BytesIO(ROSTER.encode()), "roster.csv")}, content_type="multipart/form-data")
    assert imported.status_code == 200, imported.get_json()
    clerk, csrf = signed_in(fresh, "chengdong_clerk")   # and on the web page: the import's page is crawled
    page = clerk.post("/roster", data={"csrf_token": csrf, "file": (io.BytesIO(ROSTER.encode() + b"x,y,z\n"),
                                                                    UPLOADED)}, content_type="multipart/form-data")
    assert page.status_code == 303
    assert api.post("/intake/worker-reports", None, {
        "employer": "温岭市东海鞋业有限公司", "category": "overtime_pay", "description": "加班费未支付",
        "contact": "13900001111", "anonymous": True}).status_code == 201
    api.open_case("chengdong_clerk", "worker_report", {"employer": "温岭市华泰泵业有限公司", "category": "wage_arrears",
                                                      "description": "两个月工资未发"})


def english_in(text: str, allowed: set[str]) -> list[str]:
    text = CASE_NUMBER.sub(" ", URL.sub(" ", text))   # a printed address is for typing, not reading
    return sorted({word for word in ASCII_WORD.findall(text) if word not in allowed})


def english_words(page: str, allowed: set[str]) -> list[str]:
    return english_in(visible_text(page), allowed)


def crawl_start(app: Flask) -> tuple[list[str], set[str]]:
    """The pages a crawl starts from besides the navigation (every case, every claim's receipt, a missing case),
    and the words people typed that pages show as data (login names, unit codes, the definitions' file names)."""
    import sqlalchemy as sa

    from api.extensions import db
    from api.models import Case, OrgUnit, User

    with app.app_context():
        cases = [f"/cases/{case_id}" for case_id in db.session.scalars(sa.select(Case.id))] + [
            f"/counter/receipts/{case_id}" for case_id in db.session.scalars(
                sa.select(Case.id).where(Case.definition_key == "medical_aid_claim"))] + ["/cases/999999"]
        codes = set(db.session.scalars(sa.select(User.username))) | set(db.session.scalars(sa.select(OrgUnit.code)))
    codes |= {path.name.split(".")[0] for path in DEFINITIONS.glob("*.yaml")} | {"definitions"}   # file names
    return ["/worklist", "/worklist?q=东海", *cases], {word for code in codes for word in ASCII_WORD.findall(code)}


def allowed_on(path: str, typed: set[str]) -> set[str]:
    """The ASCII words a page may show: the allow-list; on 管理 the login names and unit codes an administrator
    typed (data, not words); on 名单导入 the words of the file name the clerk chose."""
    allowed = ALLOWED | (typed if path.startswith("/admin") else set())
    return allowed | (set(ASCII_WORD.findall(UPLOADED)) if path.startswith("/roster") else set())


def links(page: str) -> list[str]:
    return [href for href in re.findall(r'href="(/[^"#]*)"', page)
            if not any(href.startswith(prefix) for prefix in NOT_CRAWLED)]


def test_every_page_as_every_demo_user_is_in_chinese(fresh: Flask, api: Api) -> None:
    lived_in(fresh, api)
    start, typed = crawl_start(fresh)
    faults: list[str] = []
    crawled = 0
    anonymous = fresh.test_client().get("/login").get_data(as_text=True)
    faults += [f"/login: {word}" for word in english_words(anonymous, ALLOWED)]
    for username in DEMO_USERS:
        client, _ = signed_in(fresh, username)
        queue, seen = deque(start), set()
        while queue and len(seen) < PAGES_PER_USER:
            path = queue.popleft()
            if path in seen:
                continue
            seen.add(path)
            response = client.get(path)
            if response.status_code in (301, 302) or response.mimetype != "text/html":
                continue   # a PDF or a spreadsheet: its words are checked by the documents' and exports' tests
            page = response.get_data(as_text=True)
            faults += [f"{username} {path}: {word}" for word in english_words(page, allowed_on(path, typed))]
            queue.extend(link.replace("&amp;", "&") for link in links(page))
        crawled += len(seen)
    assert not faults, "\n".join(faults)
    assert crawled > 40


def test_people_are_shown_by_unit_and_name_and_deadlines_in_words(fresh: Flask, api: Api) -> None:
    case = api.open_case("ent_clerk", "mediation_case", mediation_data())
    sweep(fresh, shanghai(2026, 11, 28))
    fresh.config["CLOCK"].set(shanghai(2026, 11, 28, 9))
    api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    client, _ = signed_in(fresh, "chengdong_clerk")
    page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    text = visible_text(page)
    assert "城东街道总工会 · 李调解" in text and "城东街道总工会 · 张晓燕" in text   # the history, the header
    assert "东海鞋业有限公司工会 · 林秀英" in text
    assert "“已登记”办理期限" in text and "registered" not in text
    # 15 days from the registration on 11-24 end on 12-09 at 24:00
    assert "12月9日（星期三）前" in text
    assert "被申请人（用人单位） · 单位名称" in text and "涉案金额（元）" in text
    worklist = visible_text(client.get("/worklist").get_data(as_text=True))
    assert "12月9日（星期三）前" in worklist


def test_labels_belong_to_their_lifecycle_and_event(fresh: Flask) -> None:
    with fresh.app_context():
        from api import forms

        agree = {spec.name: spec.label for spec in forms.form_for("mediation_case", "agree")}
        approve = {spec.name: spec.label for spec in forms.form_for("medical_aid_claim", "approve")}
        claim_form = {spec.name: spec for spec in forms.form_for("medical_aid_claim", None)}
        opened = {spec.name: spec.label for spec in forms.form_for("mediation_case", None)}
    assert agree["agreement.amount"] == "协议金额（元）"
    assert approve["amount"] == "核定金额（元）"
    assert claim_form["invoices"].column_labels == ["发票号", "发票金额（元）"]
    assert opened["respondent.name"] == "单位名称" and opened["amount"] == "涉案金额（元）"


@pytest.mark.parametrize(("due", "words"), [
    (shanghai(2026, 12, 3), "12月2日（星期三）前"),
    (shanghai(2026, 12, 3, 10, 30), "12月3日（星期四）10:30前"),
    (shanghai(2027, 1, 6), "2027年1月5日（星期二）前"),
])
def test_a_deadline_reads_as_the_last_day(due: Any, words: str) -> None:
    from api.ui.words import deadline_words

    assert deadline_words(due, shanghai(2026, 11, 24)) == words


def test_marshmallow_speaks_chinese(fresh: Flask, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    response = api.fire(case["id"], "extend", "chengdong_mediator", {"parties_consent": True, "days": 99})
    assert response.get_json()["errors"]["data.days"] == ["须大于或等于 1 且小于或等于 60"]
    listed = api.get("/enterprises?min_staff=-1", "city_admin").get_json()
    assert not re.search(r"[A-Za-z]{3,}", " ".join(m for ms in listed["errors"].values() for m in (
        ms if isinstance(ms, list) else [str(ms)])))
    assert read("<p>x</p>").text == ["x"]
