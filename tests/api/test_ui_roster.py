"""参保名单导入 and 用人单位 in the browser's pages: a 2,000-row file, its result, the rejected rows to download,
the employers that must form a union and the joint-union candidates, each with its formation case."""

from __future__ import annotations

import csv
import io
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bench.roster import write
from tests.api.ui_support import signed_in, visible_text
from tests.conftest import Api

ROSTER_OK = ("统一社会信用代码,单位名称,所属镇街,行业,参保人数,成立日期,是否已建会,联系人,联系电话\n"
             "91331081865797549P,温岭市川创机电有限公司,城东街道,机电,26,2004-06-26,否,陈建国,0576-86123456\n"
             "91331081030824625M,温岭市远北电器有限公司,城东街道,电器,12,2008-12-16,否,,\n")
BAD_ROWS = ["91331081000000000X,坏代码有限公司,城东街道,机电,30,2010-01-01,否,,",
            "91331081865797549P,缺人数有限公司,城东街道,机电,,2010-01-01,否,,",
            "91331081030824625M,外地有限公司,火星镇,机电,30,2010-01-01,否,,"]


def roster_file(tmp_path: Path, rows: int) -> bytes:
    path = write(rows, tmp_path / "roster.csv")
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write("\n".join(BAD_ROWS) + "\n")
    return path.read_bytes()


def upload(client: FlaskClient, csrf: str, content: bytes, name: str = "名单.csv", job: str | None = None) -> Any:
    data: dict[str, Any] = {"csrf_token": csrf, "file": (io.BytesIO(content), name)}
    if job is not None:
        data["job"] = job
    return client.post("/roster", data=data, content_type="multipart/form-data")


def test_a_city_clerk_imports_a_2000_row_roster_and_downloads_the_rejected_rows(fresh: Flask, api: Api,
                                                                               tmp_path: Path) -> None:
    client, csrf = signed_in(fresh, "city_admin")
    assert "名单文件" in client.get("/roster").get_data(as_text=True)
    response = upload(client, csrf, roster_file(tmp_path, 2000))
    assert response.status_code == 303   # the job's result page: without JavaScript the form still works
    result_url = response.headers["Location"]
    assert re.fullmatch(r"/roster/imports/[A-Za-z0-9_-]{16,64}", result_url)
    page = client.get(result_url).get_data(as_text=True)
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
    assert "温岭市总工会 · " in text   # who imported it, by name
    download = client.get(re.search(r'id="rejected-download" href="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    assert download.content_type.startswith("text/csv")
    lines = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0] == ["行号", "统一社会信用代码", "原因"]
    assert [line[0] for line in lines[1:]] == ["2002", "2003", "2004"]
    assert all(line[2] for line in lines[1:])
    # the import is listed on the page, and importing the same file again opens nothing
    assert result_url in client.get("/roster").get_data(as_text=True)
    again = upload(client, csrf, roster_file(tmp_path, 2000))
    assert 'id="r-opened">0<' in client.get(again.headers["Location"]).get_data(as_text=True)


def progress(client: FlaskClient, token: str) -> dict[str, Any]:
    response = client.get(f"/roster/imports/{token}/progress")
    assert response.status_code == 200 and response.mimetype == "application/json", response.status_code
    assert response.headers["Cache-Control"] == "no-store"
    found: dict[str, Any] = response.get_json()
    return found


def test_the_page_reads_the_progress_of_an_import_while_its_upload_runs(fresh: Flask, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The upload's request is held when 1,000 rows are read; meanwhile another request of the clerk reads
    the job's progress (rows read of the file's rows, accepted, rejected) and its page; then it finishes."""
    from api import roster_jobs

    monkeypatch.setitem(fresh.config, "ROSTER_PROGRESS_EVERY", 250)
    reached, proceed = threading.Event(), threading.Event()
    told: list[int] = []
    record = roster_jobs.JobProgress.__call__

    def held(self: Any, progress: Any) -> None:
        record(self, progress)
        told.append(progress.read)
        if progress.read == 1000:
            reached.set()
            assert proceed.wait(60), "the test never let the import go on"

    monkeypatch.setattr(roster_jobs.JobProgress, "__call__", held)
    uploader, csrf = signed_in(fresh, "city_clerk")
    watcher, _ = signed_in(fresh, "city_clerk")
    token = re.search(r'name="job" value="([^"]+)"', uploader.get("/roster").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    content = roster_file(tmp_path, 2000)
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(upload(uploader, csrf, content, job=token)))
    thread.start()
    try:
        assert reached.wait(60), "the import never reported 1,000 rows"
        running = progress(watcher, token)
        assert running == {"status": "running", "rows_total": 2003, "rows_read": 1000, "rows_accepted": 1000,
                           "rows_rejected": 0, "percent": 49, "problem": None,
                           "result_url": f"/roster/imports/{token}"}
        page = watcher.get(f"/roster/imports/{token}").get_data(as_text=True)
        assert 'http-equiv="refresh"' in page and 'max="2003" value="1000"' in page   # without JavaScript
        assert "已读取 1000 / 2003 行" in visible_text(page)
        with fresh.app_context():   # nothing of the import is visible before its transaction commits
            import sqlalchemy as sa

            from api.extensions import db
            from api.models import Employer

            assert db.session.scalar(sa.select(sa.func.count()).select_from(Employer)) == 3   # the demo's
    finally:
        proceed.set()
        thread.join(120)
    assert answers and answers[0].status_code == 303, answers[0].get_data(as_text=True)[-3000:]
    assert answers[0].headers["Location"] == f"/roster/imports/{token}"
    assert told == [250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2003]   # and once when all are read
    done = progress(watcher, token)
    assert (done["status"], done["rows_read"], done["rows_total"], done["rows_accepted"], done["rows_rejected"],
            done["percent"]) == ("done", 2003, 2003, 2000, 3, 100)
    assert 'http-equiv="refresh"' not in watcher.get(f"/roster/imports/{token}").get_data(as_text=True)


def test_a_file_refused_half_way_marks_its_job_failed_and_imports_nothing(fresh: Flask) -> None:
    client, csrf = signed_in(fresh, "chengdong_clerk")
    token = "a-token-of-the-page-0001"
    page = upload(client, csrf, "名称,电话\n甲,1\n".encode(), "x.csv", job=token)
    assert page.status_code == 422 and "缺少表头" in visible_text(page.get_data(as_text=True))
    failed = progress(client, token)
    assert failed["status"] == "failed" and "缺少表头" in failed["problem"]
    assert "缺少表头" in visible_text(client.get(f"/roster/imports/{token}").get_data(as_text=True))
    # the page's token is used once: a second upload naming it gets a job of its own
    again = upload(client, csrf, ROSTER_OK.encode(), job=token)
    assert again.status_code == 303 and again.headers["Location"] != f"/roster/imports/{token}"


def test_an_import_not_heard_of_for_five_minutes_reads_stalled(fresh: Flask, clock: Any) -> None:
    from api import roster_jobs
    from api.auth import Principal
    from api.models import User

    with fresh.test_request_context():
        import sqlalchemy as sa

        from api.extensions import db

        user = db.session.scalar(sa.select(User).where(User.username == "chengdong_clerk"))
        token = roster_jobs.start(None, Principal.of(user), "名单.csv", clock())
    client, _ = signed_in(fresh, "chengdong_clerk")
    assert progress(client, token)["status"] == "running" and progress(client, token)["percent"] is None
    clock.advance(minutes=5)
    assert progress(client, token)["status"] == "stalled"
    assert "导入已中断" in visible_text(client.get(f"/roster/imports/{token}").get_data(as_text=True))


def test_an_import_is_seen_by_its_unit_and_the_units_above_only(fresh: Flask) -> None:
    client, csrf = signed_in(fresh, "chengdong_clerk")
    elsewhere = "91331081091141705K,温岭市大溪机电有限公司,大溪镇,机电,40,2004-06-26,否,,\n"
    token = upload(client, csrf, (ROSTER_OK + elsewhere).encode()).headers["Location"].rsplit("/", 1)[1]
    page = visible_text(client.get(f"/roster/imports/{token}").get_data(as_text=True))
    assert "所属镇街“大溪镇”不在本单位管辖范围内" in page   # a street imports its own employers only
    city, _ = signed_in(fresh, "city_admin")
    assert progress(city, token)["status"] == "done"
    assert f"/roster/imports/{token}" in city.get("/roster").get_data(as_text=True)
    for username in ("daxi_clerk", "ent_clerk"):
        other, _ = signed_in(fresh, username)
        for suffix in ("", "/progress", "/rejected.csv"):
            assert other.get(f"/roster/imports/{token}{suffix}").status_code in (403, 404), (username, suffix)
        assert token not in other.get("/roster").get_data(as_text=True)
    mediator, _ = signed_in(fresh, "chengdong_mediator")
    assert mediator.get(f"/roster/imports/{token}/progress").status_code == 403


def test_an_xlsx_roster_counts_its_rows_before_they_are_read() -> None:
    from openpyxl import Workbook

    from api import roster

    book = Workbook()
    book.create_sheet("说明").append(["这一页不导入"])
    for line in ROSTER_OK.splitlines():
        book.active.append(line.split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    opened = roster.open_roster("名单.xlsx", buffer)
    first = next(opened.rows)
    assert first["单位名称"] == "温岭市川创机电有限公司" and opened.total == 2
    csv_roster = roster.open_roster("名单.csv", io.BytesIO(("\ufeff" + ROSTER_OK + "\n\n").encode()))
    assert csv_roster.total == 2 and len(list(csv_roster.rows)) == 2


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
                       content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
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


def test_enterprise_unions_do_not_import_rosters(fresh: Flask) -> None:
    client, _ = signed_in(fresh, "ent_clerk")
    assert client.get("/roster").status_code == 403 and client.get("/employers").status_code == 403
