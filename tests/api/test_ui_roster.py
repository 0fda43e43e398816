"""参保名单导入 and 用人单位 in the browser's pages: a 2,000-row file, its result, the rejected rows to download,
the employers that must form a union and the joint-union candidates, each with its formation case."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from flask import Flask

from bench.roster import write
from tests.api.ui_support import signed_in, visible_text
from tests.conftest import Api

BAD_ROWS = ["91331081000000000X,坏代码有限公司,城东街道,机电,30,2010-01-01,否,,",
            "91331081865797549P,缺人数有限公司,城东街道,机电,,2010-01-01,否,,",
            "91331081030824625M,外地有限公司,火星镇,机电,30,2010-01-01,否,,"]


def roster_file(tmp_path: Path, rows: int) -> bytes:
    path = write(rows, tmp_path / "roster.csv")
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write("\n".join(BAD_ROWS) + "\n")
    return path.read_bytes()


def test_a_city_clerk_imports_a_2000_row_roster_and_downloads_the_rejected_rows(fresh: Flask, api: Api,
                                                                               tmp_path: Path) -> None:
    client, csrf = signed_in(fresh, "city_admin")
    assert "名单文件" in client.get("/roster").get_data(as_text=True)
    response = client.post("/roster", data={"csrf_token": csrf, "file": (io.BytesIO(roster_file(tmp_path, 2000)),
                                                                        "名单.csv")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:500]
    figures = {name: int(value) for name, value in re.findall(r'id="r-(\w+)">(\d+)<', page)}
    assert figures["rows"] == 2003 and figures["rejected"] == 3
    assert figures["opened"] > 100 and figures["updated"] == 2000
    with fresh.app_context():
        import sqlalchemy as sa

        from api.extensions import db
        from api.models import Case

        opened = db.session.scalar(sa.select(sa.func.count()).where(Case.definition_key == "union_formation"))
    assert opened == figures["opened"]
    text = visible_text(page)
    for reason_row in ("2002", "2003", "2004"):
        assert reason_row in text
    rows = re.search(r'name="rows" value="([^"]*)"', page).group(1)  # type: ignore[union-attr]
    import html

    download = client.post("/roster/rejected.csv", data={"csrf_token": csrf, "rows": html.unescape(rows)})
    assert download.content_type.startswith("text/csv")
    lines = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0] == ["行号", "统一社会信用代码", "原因"]
    assert [line[0] for line in lines[1:]] == ["2002", "2003", "2004"]
    assert all(line[2] for line in lines[1:])
    # importing the same file again opens nothing
    again = client.post("/roster", data={"csrf_token": csrf, "file": (io.BytesIO(roster_file(tmp_path, 2000)),
                                                                     "名单.csv")}, content_type="multipart/form-data")
    assert 'id="r-opened">0<' in again.get_data(as_text=True)


def test_the_employers_lists_link_each_formation_case(fresh: Flask, tmp_path: Path) -> None:
    client, csrf = signed_in(fresh, "chengdong_clerk")
    data = ("统一社会信用代码,单位名称,所属镇街,行业,参保人数,成立日期,是否已建会,联系人,联系电话\n"
            "91331081865797549P,温岭市川创机电有限公司,城东街道,机电,26,2004-06-26,否,陈建国,0576-86123456\n"
            "91331081030824625M,温岭市远北电器有限公司,城东街道,电器,12,2008-12-16,否,,\n").encode()
    from openpyxl import Workbook

    book = Workbook()
    for line in data.decode().splitlines():
        book.active.append(line.split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    page = client.post("/roster", data={"csrf_token": csrf, "file": (io.BytesIO(buffer.getvalue()), "名单.xlsx")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert 'id="r-opened">1<' in page
    required = client.get("/employers").get_data(as_text=True)
    assert "温岭市川创机电有限公司" in required and "温岭市远北电器有限公司" not in required
    assert "陈建国" in required and "0576-86123456" in required   # the clerk calls the employer first
    link = re.search(r'<a href="(/cases/\d+)">([A-Z]+-\d{4}-\d{6})</a>（([^）]+)）', required)
    assert link is not None
    assert "温岭市川创机电有限公司" in client.get(link.group(1)).get_data(as_text=True)
    candidates = client.get("/employers?list=candidates").get_data(as_text=True)
    assert "温岭市远北电器有限公司" in candidates and "未立案" in candidates
    assert "温岭市川创机电有限公司" not in candidates


def test_the_roster_contact_is_masked_for_those_who_do_not_form_unions(fresh: Flask, api: Api) -> None:
    roster = ("统一社会信用代码,单位名称,所属镇街,行业,参保人数,成立日期,是否已建会,联系人,联系电话\n"
              "91331081865797549P,温岭市川创机电有限公司,城东街道,机电,26,2004-06-26,否,陈建国,0576-86123456\n")
    api.post("/enterprises/import", "chengdong_clerk", data={"file": (io.BytesIO(roster.encode()), "r.csv")},
             content_type="multipart/form-data")
    with fresh.app_context():
        import sqlalchemy as sa

        from api import demo
        from api.extensions import db
        from api.models import OrgUnit

        unit = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "chengdong"))
        demo.upsert_user(db.session, "chengdong_viewer", unit, ["viewer"], "demo", fresh.config["CLOCK"]())
        db.session.commit()
    viewer, _ = signed_in(fresh, "chengdong_viewer")
    page = viewer.get("/employers").get_data(as_text=True)
    assert "温岭市川创机电有限公司" in page and "陈建国" not in page and "86123456" not in page
    assert "陈**" in page and "057******3456" in page


def test_a_file_that_cannot_be_read_is_refused_in_words(fresh: Flask) -> None:
    client, csrf = signed_in(fresh, "chengdong_clerk")
    unreadable = io.BytesIO("名称,电话\n甲,1\n".encode())
    page = client.post("/roster", data={"csrf_token": csrf, "file": (unreadable, "x.csv")},
                       content_type="multipart/form-data")
    assert page.status_code == 422 and "缺少表头" in visible_text(page.get_data(as_text=True))


def test_enterprise_unions_do_not_import_rosters(fresh: Flask) -> None:
    client, _ = signed_in(fresh, "ent_clerk")
    assert client.get("/roster").status_code == 403 and client.get("/employers").status_code == 403
