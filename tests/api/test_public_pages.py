"""The worker's pages without a browser: report → 查询码 → status → reopen, the claim look-up, misses limited per
number and per client, the strict CSP; the phone operator's 查询码; the clerk's and the counter's documents."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_medical import COUNTER, claim, submit
from tests.api.test_ui_pages import claim_form, signed_in
from tests.conftest import Api

NOT_FOUND = "未找到，请核对编号和查询码"


def csrf_of(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def visitor(fresh: Flask, address: str = "10.1.1.1") -> FlaskClient:
    client = fresh.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def report_form(csrf: str, **overrides: Any) -> dict[str, Any]:
    form = {"csrf_token": csrf, "employer": "温岭市东海鞋业有限公司", "category": "overtime_pay",
            "description": "车间连续三个月加班未按规定支付加班费", "contact": "13900001111"}
    form.update(overrides)
    return form


def file_on_the_page(client: FlaskClient, **overrides: Any) -> tuple[str, str, str]:
    response = client.post("/public/report", data=report_form(csrf_of(client, "/public/report"), **overrides))
    assert response.status_code == 201, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    number = re.search(r'id="report-number">([^<]+)<', page).group(1)  # type: ignore[union-attr]
    secret = re.search(r'id="report-secret">([^<]+)<', page).group(1)  # type: ignore[union-attr]
    return number, secret, page


def look_up(client: FlaskClient, number: str, code: str) -> Any:
    return client.post("/public/report/status", data={"csrf_token": csrf_of(client, "/public/report/status"),
                                                      "number": number, "code": code})


def test_the_sign_in_page_links_to_the_workers_pages(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "职工反映问题 / 查询办理进度" in page and 'href="/public/"' in page
    index = client.get("/public/").get_data(as_text=True)
    assert "反映问题" in index and "/public/report/status" in index and "/public/claim/status" in index


def test_a_worker_reports_follows_and_reopens_a_report(fresh: Flask, api: Api) -> None:
    client = visitor(fresh)
    form = client.get("/public/report").get_data(as_text=True)
    for words in ["工作单位名称", "问题类别", "加班工资", "问题描述", "联系方式（选填）", "匿名反映",
                  "联系方式只有承办此事的工会能看到", 'list="employer-names"', "<datalist"]:
        assert words in form, words
    number, secret, page = file_on_the_page(client)
    assert number == "FY-2026-000001" and "查询码" in page and "<svg" in page
    assert f"/public/report/status?number={number}#code={secret}" in page  # the QR's link, both filled in
    assert "温岭市东海鞋业有限公司工会" in page  # who will handle it
    assert api.client.get(f"/api/v1/intake/worker-reports/{number}",
                          headers={"X-Report-Secret": secret}).status_code == 200  # the same secret as the API's

    status = look_up(client, number, secret)
    text = status.get_data(as_text=True)
    assert status.status_code == 200
    assert "已反映" in text and "温岭市东海鞋业有限公司工会" in text and "2026年12月1日前" in text  # 5 working days

    (case,) = api.get("/cases?definition=worker_report", "ent_clerk").get_json()["items"]
    for event, data in [("acknowledge", {}), ("start_handling", {}), ("resolve", {"feedback": "企业已补发加班费"})]:
        assert api.fire(case["id"], event, "ent_clerk", data).status_code == 200
    text = look_up(client, number, secret).get_data(as_text=True)
    assert "已办结" in text and "企业已补发加班费" in text and "要求重新办理" in text and "2026年12月9日" in text

    csrf = csrf_of(client, "/public/report/status")
    empty = client.post("/public/report/reopen", data={"csrf_token": csrf, "number": number, "code": secret,
                                                       "reason": ""})
    assert empty.status_code == 422 and "请写明不满意的原因" in empty.get_data(as_text=True)
    reopened = client.post("/public/report/reopen", data={"csrf_token": csrf, "number": number, "code": secret,
                                                          "reason": "只补发了一个月"})
    assert reopened.status_code == 200
    assert "已要求重新办理" in reopened.get_data(as_text=True) and "处理中" in reopened.get_data(as_text=True)
    assert api.get(f"/cases/{case['id']}", "ent_clerk").get_json()["state"] == "handling"


def test_an_empty_or_wrong_report_is_answered_beside_its_fields_in_chinese(fresh: Flask, api: Api) -> None:
    client = visitor(fresh)
    response = client.post("/public/report", data=report_form(csrf_of(client, "/public/report"),
                                                               description="", category="weather"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "请更正标红的内容" in page
    assert 'id="description-error"' in page and 'id="category-error"' in page
    assert "车间" not in page or "温岭市东海鞋业有限公司" in page  # what was typed is kept
    assert api.get("/cases?definition=worker_report", "city_admin").get_json()["total"] == 0


def test_the_report_form_has_the_intakes_flood_limit(fresh: Flask) -> None:
    client = visitor(fresh, "10.9.9.9")
    for _ in range(5):
        file_on_the_page(client)
    refused = client.post("/public/report", data=report_form(csrf_of(client, "/public/report")))
    assert refused.status_code == 429 and "提交过于频繁" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0


def test_misses_answer_one_message_and_are_limited_per_number_and_per_client(fresh: Flask) -> None:
    fresh.config["LOOKUP_CLIENT_LIMIT"] = 5   # the API's limits (api.lookups), smaller here
    number, secret, _ = file_on_the_page(visitor(fresh, "10.2.2.2"))
    wrong = look_up(visitor(fresh, "10.3.0.1"), number, "guess")
    unknown = look_up(visitor(fresh, "10.3.0.1"), "FY-2026-999999", secret)
    assert wrong.status_code == unknown.status_code == 404
    assert NOT_FOUND in wrong.get_data(as_text=True) and NOT_FOUND in unknown.get_data(as_text=True)
    for attempt in range(2, 6):   # five misses on this number from five addresses
        assert look_up(visitor(fresh, f"10.3.0.{attempt}"), number, "guess").status_code == 404
    refused = look_up(visitor(fresh, "10.4.4.4"), number, secret)   # even the right code now waits
    assert refused.status_code == 429 and "查询失败次数过多" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0

    other, other_secret, _ = file_on_the_page(visitor(fresh, "10.5.5.5"))
    guesser = visitor(fresh, "10.6.6.6")
    for attempt in range(5):   # five misses by one client, each on another number
        assert look_up(guesser, f"FY-2026-{900 + attempt:06d}", "guess").status_code == 404
    assert look_up(guesser, other, other_secret).status_code == 429
    assert look_up(visitor(fresh, "10.7.7.7"), other, other_secret).status_code == 200


def test_a_claim_is_followed_with_its_number_and_the_last_six_characters_of_the_id(fresh: Flask, api: Api) -> None:
    receipt = submit(api, claim(documents=["id_card", "invoice"])).get_json()
    client = visitor(fresh)
    csrf = csrf_of(client, f"/public/claim/status?number={receipt['number']}")
    found = client.post("/public/claim/status", data={"csrf_token": csrf, "number": receipt["number"],
                                                      "id_last6": "201237"})
    page = found.get_data(as_text=True)
    assert found.status_code == 200
    for words in ["待补正", "张*", "住院", "城北街道总工会", "2026年11月24日", "5000.00", "2000.00", "银行卡",
                  "费用明细清单", "2026年12月24日"]:
        assert words in page, words
    assert "张三" not in page and "331081199805201237" not in page and "6222021207001234567" not in page
    wrong = client.post("/public/claim/status", data={"csrf_token": csrf, "number": receipt["number"],
                                                      "id_last6": "001237"})
    assert wrong.status_code == 404 and NOT_FOUND in wrong.get_data(as_text=True)
    four = client.post("/public/claim/status", data={"csrf_token": csrf, "number": receipt["number"],
                                                     "id_last6": "1237"})
    assert four.status_code == 404  # the last four alone are not enough
    for _ in range(3):
        client.post("/public/claim/status", data={"csrf_token": csrf, "number": receipt["number"],
                                                  "id_last6": "000000"})
    limited = client.post("/public/claim/status", data={"csrf_token": csrf, "number": receipt["number"],
                                                         "id_last6": "201237"})
    assert limited.status_code == 429 and "查询失败次数过多" in limited.get_data(as_text=True)


def test_public_pages_keep_the_strict_csp_and_need_the_form_token(fresh: Flask) -> None:
    client = visitor(fresh)
    for path in ["/public/", "/public/report", "/public/report/status", "/public/claim/status"]:
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert "style-src 'self'" in response.headers["Content-Security-Policy"]
        assert re.search(r"<script(?![^>]*\bsrc=)", page) is None and "<style" not in page and " style=" not in page
        assert 'name="viewport" content="width=device-width' in page
    assert client.post("/public/report", data=report_form("forged")).status_code == 400


def test_a_guessed_public_address_gets_the_public_404(client: FlaskClient) -> None:
    response = client.get("/public/nothing-here")
    page = response.get_data(as_text=True)
    assert response.status_code == 404 and "找不到该页面" in page and "反映问题" in page and "我的待办" not in page


def test_employer_suggestions_come_from_the_employers_table(client: FlaskClient) -> None:
    assert client.get("/public/employers?q=东海").get_json() == ["温岭市东海鞋业有限公司"]
    assert client.get("/public/employers?q=东").get_json() == []
    assert client.get("/public/employers?q=%25%25").get_json() == []


def test_the_phone_operator_reads_out_a_number_and_a_query_code(fresh: Flask, api: Api) -> None:
    client, csrf = signed_in(fresh, "chengdong_clerk")
    response = client.post("/new/worker_report", data={
        "csrf_token": csrf, "employer": "温岭市东海鞋业有限公司", "category": "safety",
        "description": "冲压车间防护罩拆除", "channel": "phone"})
    page = response.get_data(as_text=True)
    assert response.status_code == 201 and "请向来电人读出编号和查询码" in page
    number = re.search(r'id="report-number"[^>]*>([^<]+)<', page).group(1)  # type: ignore[union-attr]
    secret = re.search(r'id="report-secret"[^>]*>([^<]+)<', page).group(1)  # type: ignore[union-attr]
    status = api.client.get(f"/api/v1/intake/worker-reports/{number}", headers={"X-Report-Secret": secret})
    assert status.status_code == 200 and status.get_json()["category"] == "safety"


def test_the_counter_receipt_shows_the_issuing_body_dates_and_offers_each_pdf(fresh: Flask) -> None:
    client, csrf = signed_in(fresh, "counter_chengbei")
    receipt = client.get(client.post("/counter", data=claim_form(csrf, "paper")).location)
    page = receipt.get_data(as_text=True)
    for words in ["受理回执", "一次性告知书", "城北街道总工会", "出具日期：2026年11月24日", "2026年12月24日",
                  "0576-8000 2004"]:
        assert words in page, words
    pdf_links = re.findall(r'href="(/cases/\d+/documents/(?:receipt|notice)\.pdf)"', page)
    assert len(pdf_links) == 2
    for link in pdf_links:
        pdf = client.get(link)
        assert pdf.status_code == 200 and pdf.content_type == "application/pdf" and pdf.data.startswith(b"%PDF")
    screen = re.search(r'href="(/cases/\d+/documents/notice)"', page).group(1)  # type: ignore[union-attr]
    notice = client.get(screen)
    assert notice.status_code == 200 and "未登录" not in notice.get_data(as_text=True)
    assert "沿此线撕下" in notice.get_data(as_text=True) and "下载 PDF" in notice.get_data(as_text=True)


def test_the_case_page_offers_each_document_with_one_click(fresh: Flask, api: Api) -> None:
    receipt = submit(api, claim(documents=["id_card"])).get_json()
    client, _ = signed_in(fresh, COUNTER)
    page = client.get(f"/cases/{receipt['id']}").get_data(as_text=True)
    assert f'href="/cases/{receipt["id"]}/documents/receipt.pdf"' in page
    assert f'href="/cases/{receipt["id"]}/documents/notice.pdf"' in page and "一次性告知书" in page
    assert client.get(f"/cases/{receipt['id']}/documents/agreement").status_code == 404
    other, _ = signed_in(fresh, "daxi_clerk")
    assert other.get(f"/cases/{receipt['id']}/documents/receipt.pdf").status_code == 404
