"""Documents of a case: the list its state allows, each kind as a PDF whose extracted text carries the number,
the dates and the issuing unit; refusals (409 naming the allowed kinds, 404 for unknown kinds and other scopes)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.api.test_medical import COUNTER, claim, submit
from tests.api.test_union_formation import CLERK as FORMATION_CLERK
from tests.api.test_union_formation import formation_case
from tests.conftest import Api, FrozenClock, mediation_data

MEDIATOR = "chengdong_mediator"


def pdf_text(api: Api, case_id: int, kind: str, as_: str) -> str:
    response = api.get(f"/cases/{case_id}/documents/{kind}.pdf", as_)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.content_type == "application/pdf"
    reader = PdfReader(io.BytesIO(response.get_data()))
    fonts = [font.get_object() for page in reader.pages
             for font in page["/Resources"].get_object()["/Font"].get_object().values()]
    chinese = [font for font in fonts if "WenQuanYi" in str(font["/BaseFont"])]
    assert chinese, "the Chinese font is used"
    descriptor = chinese[0]["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
    assert "/FontFile2" in descriptor, "and embedded (a subset), so any viewer shows it"
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")  # lines wrap anywhere in Chinese


def kinds(api: Api, case_id: int, as_: str) -> list[str]:
    response = api.get(f"/cases/{case_id}/documents", as_)
    assert response.status_code == 200, response.get_json()
    return [item["kind"] for item in response.get_json()]


def test_a_claim_with_missing_documents_gets_a_receipt_and_a_one_time_notice_with_dates(api: Api) -> None:
    receipt = submit(api, claim(documents=["id_card", "invoice"])).get_json()
    listing = api.get(f"/cases/{receipt['id']}/documents", COUNTER).get_json()
    assert [(item["kind"], item["title"]) for item in listing] == [("receipt", "受理回执"), ("notice", "一次性告知书")]
    assert listing[1]["url"] == f"/api/v1/cases/{receipt['id']}/documents/notice.pdf"

    text = pdf_text(api, receipt["id"], "receipt", COUNTER)
    assert "受理回执" in text and receipt["number"] in text and "城北街道总工会" in text
    assert "2026年11月24日" in text  # received on
    assert "2026年12月24日" in text  # the supplement deadline (30 days, the last day before 12-25 00:00)
    assert "/public/claim/status?number=" + receipt["number"] in text
    assert "0576-8000 2004" in text  # the unit's contact
    assert "331081199805201237" not in text and "3310" in text  # the counter sees the ID number masked

    notice = pdf_text(api, receipt["id"], "notice", COUNTER)
    for words in ["一次性告知书", receipt["number"], "城北街道总工会", "2026年12月24日", "2026年11月24日",
                  "银行卡", "费用明细清单", "医保结算单", "出院小结", "沿此线撕下"]:
        assert words in notice, words
    assert "30 日" not in notice


def test_the_notice_is_reprinted_after_a_partial_supplement_with_what_is_still_missing(api: Api) -> None:
    receipt = submit(api, claim(documents=["id_card", "invoice"])).get_json()
    partial = api.fire(receipt["id"], "supplement", COUNTER, {"documents": ["bank_card", "itemized_bill"]})
    assert partial.status_code == 200
    notice = pdf_text(api, receipt["id"], "notice", COUNTER)
    assert "经补正后仍缺" in notice and "医保结算单" in notice and "出院小结" in notice
    assert "费用明细清单" not in notice.split("沿此线撕下")[0].split("所缺材料")[1]
    api.fire(receipt["id"], "supplement", COUNTER, {"documents": ["insurance_settlement", "discharge_summary"]})
    refused = api.get(f"/cases/{receipt['id']}/documents/notice.pdf", COUNTER)
    assert refused.status_code == 409
    assert refused.get_json()["allowed_kinds"] == ["receipt"] and "receipt" in refused.get_json()["detail"]


def test_a_mediation_agreement_names_parties_terms_amount_date_and_signature_lines(api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    assert kinds(api, case["id"], MEDIATOR) == ["receipt"]
    assert api.get(f"/cases/{case['id']}/documents/agreement.pdf", MEDIATOR).status_code == 409
    api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"})
    agreed = api.fire(case["id"], "agree", MEDIATOR, {"agreement": {"terms": "分两期支付拖欠工资", "amount": "8000.00",
                                                                    "perform_by": "2026-12-31"}})
    assert agreed.status_code == 200, agreed.get_json()
    assert kinds(api, case["id"], MEDIATOR) == ["receipt", "agreement"]
    text = pdf_text(api, case["id"], "agreement", MEDIATOR)
    for words in ["调解协议书", case["number"], "王小明", "温岭市东海鞋业有限公司", "分两期支付拖欠工资", "8000.00",
                  "2026年12月31日", "申请人（签名）", "被申请人（盖章）", "调解员（签名）", "李调解",
                  "城东街道总工会劳动人事争议联合调解中心", "2026年11月24日"]:
        assert words in text, words


def test_a_rejected_mediation_gets_a_decision_stating_the_rights_of_arbitration(api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    api.fire(case["id"], "reject", MEDIATOR, {"reason": "被申请人拒绝调解"})
    assert kinds(api, case["id"], MEDIATOR) == ["receipt", "decision"]
    assert api.get(f"/cases/{case['id']}/documents", MEDIATOR).get_json()[1]["title"] == "不予受理通知书"
    text = pdf_text(api, case["id"], "decision", MEDIATOR)
    for words in ["不予受理通知书", case["number"], "被申请人拒绝调解", "温岭市劳动人事争议仲裁委员会", "一年",
                  "支付令", "城东街道总工会", "2026年11月24日"]:
        assert words in text, words


def test_a_declined_worker_report_tells_where_else_to_turn(api: Api) -> None:
    filed = api.client.post("/api/v1/intake/worker-reports", json={
        "employer": "温岭市东海鞋业有限公司", "category": "other", "description": "食堂饭菜不好吃", "anonymous": True})
    number = filed.get_json()["number"]
    (case,) = api.get(f"/cases?q={number}", "ent_clerk").get_json()["items"]
    api.fire(case["id"], "decline", "ent_clerk", {"reason": "不属于劳动法律监督范围"})
    text = pdf_text(api, case["id"], "decision", "ent_clerk")
    for words in ["不予受理告知书", number, "不属于劳动法律监督范围", "劳动保障监察", "城东街道总工会"]:
        assert words in text, words


def test_a_refused_claim_gets_a_decision_with_the_re_examination_period_from_the_definition(api: Api) -> None:
    receipt = submit(api, claim()).get_json()
    api.fire(receipt["id"], "start_review", "chengbei_reviewer")
    api.fire(receipt["id"], "reject", "chengbei_reviewer", {"reason": "发票与费用明细不符"})
    text = pdf_text(api, receipt["id"], "decision", "chengbei_reviewer")
    for words in ["不予补助通知书", receipt["number"], "发票与费用明细不符", "15 日内", "温岭市总工会", "复核"]:
        assert words in text, words


def test_a_formation_notice_states_the_legal_basis_steps_and_contact(fresh: Any, api: Api) -> None:
    case = formation_case(api)
    assert "formation_notice" not in kinds(api, case["id"], FORMATION_CLERK)
    assert api.fire(case["id"], "notify", FORMATION_CLERK, {"notice_date": "2026-11-25"}).status_code == 200
    text = pdf_text(api, case["id"], "formation_notice", FORMATION_CLERK)
    for words in ["建会告知书", case["number"], case["data"]["enterprise"]["name"], "工会法", "第十一条", "筹备组",
                  "2026年11月25日", "城东街道总工会", "0576-8000 2001"]:
        assert words in text, words


@pytest.mark.parametrize("kind", ["receipt", "notice", "agreement", "decision", "formation_notice"])
def test_every_kind_of_another_units_case_is_404(api: Api, kind: str) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    response = api.get(f"/cases/{case['id']}/documents/{kind}.pdf", "daxi_clerk")
    assert response.status_code == 404 and response.content_type == "application/problem+json"
    assert api.get(f"/cases/{case['id']}/documents", "daxi_clerk").status_code == 404


def test_an_unknown_kind_is_404_and_a_kind_the_state_refuses_is_409_naming_the_allowed(api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    unknown = api.get(f"/cases/{case['id']}/documents/passport.pdf", MEDIATOR)
    assert unknown.status_code == 404 and "passport" in unknown.get_json()["detail"]
    refused = api.get(f"/cases/{case['id']}/documents/notice.pdf", MEDIATOR)
    assert refused.status_code == 409 and refused.get_json()["allowed_kinds"] == ["receipt"]
    assert "受理回执" in refused.get_json()["detail"]
    assert api.get(f"/cases/{case['id']}/documents/receipt.pdf", None).status_code == 401


def test_a_reviewer_sees_the_id_number_that_a_counter_sees_masked(api: Api) -> None:
    receipt = submit(api, claim()).get_json()
    assert "331081199805201237" in pdf_text(api, receipt["id"], "receipt", "chengbei_reviewer")
    assert "331081199805201237" not in pdf_text(api, receipt["id"], "receipt", COUNTER)


def placed_text(pdf: bytes) -> list[list[tuple[float, float, str]]]:
    """Each page's pieces of text with where they are drawn: the same list means the same page to a reader."""
    pages = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        pieces: list[tuple[float, float, str]] = []

        def place(text: str, cm: list[float], tm: list[float], font: Any, size: Any,
                  pieces: list[tuple[float, float, str]] = pieces) -> None:
            if text.strip():
                pieces.append((round(cm[4] + tm[4], 1), round(cm[5] + tm[5], 1), text))

        page.extract_text(visitor_text=place)
        pages.append(pieces)
    return pages


def test_a_pdf_typeset_with_the_threads_fonts_and_stylesheet_reads_as_the_page_weasyprint_makes_alone(
        api: Api, clock: FrozenClock) -> None:
    import sqlalchemy as sa
    from weasyprint import HTML

    from api import documents
    from api.auth import Principal
    from api.extensions import db
    from api.models import Case, User

    receipt = submit(api, claim(documents=["id_card", "invoice"])).get_json()
    app = api.client.application
    with app.app_context(), app.test_request_context("/"):
        principal = Principal.of(db.session.scalar(sa.select(User).where(User.username == COUNTER)))
        case = db.session.get(Case, receipt["id"])
        for kind in ["receipt", "notice"]:   # with a QR code, a table with a header row, a tear-off part
            alone = HTML(string=documents.render_html(case, kind, principal, clock(), inline_style=True)).write_pdf()
            typeset = documents.render_pdf(case, kind, principal, clock())
            assert placed_text(typeset) == placed_text(alone), kind
            (page,) = placed_text(typeset)
            assert receipt["number"] in "".join(text for _, _, text in page)


def test_each_thread_keeps_its_own_typesetter_and_parses_the_stylesheet_again_only_when_it_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import threading

    from api import documents

    stylesheet = tmp_path / "documents.css"
    stylesheet.write_text(documents.STYLESHEET.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(documents, "STYLESHEET", stylesheet)
    here = documents.typesetter()
    assert documents.typesetter() is here
    elsewhere: list[documents.Typesetter] = []
    thread = threading.Thread(target=lambda: elsewhere.append(documents.typesetter()))
    thread.start()
    thread.join()
    assert elsewhere[0] is not here and elsewhere[0].fonts is not here.fonts   # Pango's font map stays in its thread

    parsed = here.stylesheet()
    assert here.stylesheet() is parsed
    stylesheet.write_text(stylesheet.read_text(encoding="utf-8") + "\n.doc-extra { color: #000; }\n", encoding="utf-8")
    os.utime(stylesheet, (stylesheet.stat().st_atime, stylesheet.stat().st_mtime + 5))
    assert here.stylesheet() is not parsed


def test_a_document_fetches_data_uris_and_local_files_but_never_the_network() -> None:
    from api import documents

    fetcher = documents.typesetter().fetcher
    if fetcher is None:
        pytest.skip("WeasyPrint before 68 fetches with a function of its own")
    assert fetcher is documents.typesetter().fetcher   # made once for the thread
    assert fetcher.fetch("data:text/plain,ok").read() == b"ok"
    with pytest.raises(ValueError, match="disallowed protocol"):
        fetcher.fetch("https://gonghui.example.cn/logo.png")


def test_the_follow_up_qr_code_of_a_url_is_made_once_as_a_png_of_the_code() -> None:
    import base64

    import segno
    from PIL import Image

    from api import documents

    url = "https://gonghui.example.cn/public/claim/status?number=YL-2026-000001"
    qr = documents.follow_qr(url)
    assert documents.follow_qr(url) is qr and qr == documents.qr_png(url)
    assert qr.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(qr.split(",", 1)[1]))).convert("L")
    code = segno.make(url, error="m")
    assert image.size == code.symbol_size(scale=3, border=2)
    dark = [[image.getpixel(((column + 2) * 3 + 1, (row + 2) * 3 + 1)) < 128 for column in range(len(line))]
            for row, line in enumerate(code.matrix)]
    assert dark == [[bool(module) for module in line] for line in code.matrix]   # module by module, the same code


def test_a_receipt_draws_its_qr_code_as_one_image(api: Api) -> None:
    receipt = submit(api, claim()).get_json()
    response = api.get(f"/cases/{receipt['id']}/documents/receipt.pdf", COUNTER)
    (page,) = PdfReader(io.BytesIO(response.get_data())).pages
    images = [item.get_object() for item in page["/Resources"].get_object()["/XObject"].get_object().values()]
    ((subtype, width, height),) = [(image["/Subtype"], image["/Width"], image["/Height"]) for image in images]
    assert subtype == "/Image" and width == height and width % 3 == 0   # three pixels a module


def chinese_fonts(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return sorted({str(font.get_object()["/BaseFont"]).split("+", 1)[-1] for page in reader.pages
                   for font in page["/Resources"].get_object()["/Font"].get_object().values()})


def test_a_document_is_typeset_with_the_cut_down_font_and_a_character_outside_it_with_the_whole_font(
        api: Api) -> None:
    from fontTools.ttLib import TTFont

    from api import document_font

    plain = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    response = api.get(f"/cases/{plain['id']}/documents/receipt.pdf", MEDIATOR)
    # One subset: the font has no bold face, and bold (which would embed the same glyphs again) is off on paper.
    assert chinese_fonts(response.get_data()) == ["WenQuanYi-Micro-Hei-Documents"]

    (font,) = Path(api.client.application.config["DOCUMENT_FONT_FOLDER"]).glob("wqy-documents-*.ttf")
    covered = TTFont(font).getBestCmap()
    assert ord("王") in covered and ord("堃") not in covered   # 堃 (common in names) is not in GB 2312
    rare = api.open_case(MEDIATOR, "mediation_case", mediation_data(
        applicants=[{"name": "王堃", "id_number": "331081199805201237", "phone": "13800000000"}]))
    response = api.get(f"/cases/{rare['id']}/documents/receipt.pdf", MEDIATOR)
    assert "WenQuanYi-Micro-Hei" in chinese_fonts(response.get_data())   # the whole font, for that character
    assert "王堃" in pdf_text(api, rare["id"], "receipt", MEDIATOR)
    assert document_font.FAMILY == "WenQuanYi Micro Hei Documents"


def test_typesetting_holds_off_the_cyclic_garbage_collector_and_gives_it_back_as_it_was() -> None:
    import gc
    import threading

    from api.documents import collector_paused

    assert gc.isenabled()
    inside: list[bool] = []
    with collector_paused:
        entered, leave = threading.Event(), threading.Event()

        def other() -> None:
            with collector_paused:
                entered.set()
                leave.wait(5)

        thread = threading.Thread(target=other)
        thread.start()
        entered.wait(5)
        inside.append(gc.isenabled())
    inside.append(gc.isenabled())   # the other thread still typesets
    leave.set()
    thread.join()
    assert inside == [False, False] and gc.isenabled()
    gc.disable()
    try:
        with collector_paused:
            pass
        assert not gc.isenabled()   # off before, off after
    finally:
        gc.enable()
