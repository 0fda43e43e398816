"""The roster upload is bounded: limits checked before the file is read (413 naming the limit), hostile and
broken spreadsheets refused (422, never 500), rejected rows capped in the answer and complete in the CSV,
peak memory of the worst files measured, and no body read before the caller is known."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests import hostile_files
from tests.conftest import Api

ROOT = Path(__file__).resolve().parents[2]
HEADER = "统一社会信用代码,单位名称,所属镇街,行业,参保人数,成立日期,是否已建会\n"
GOOD = "91331081865797549P,温岭市川创机电有限公司,城东街道,泵与电机,126,2004-06-26,否\n"


def post_file(api: Api, path_or_bytes: Path | bytes, name: str, user: str | None = "city_admin",
              query: str = "") -> Any:
    content = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    return api.client.post(f"/api/v1/enterprises/import{query}", headers=api.headers(user),
                           data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def test_one_huge_shared_string_is_refused_before_it_is_read(api: Api, tmp_path: Path) -> None:
    bomb = hostile_files.one_huge_shared_string(tmp_path / "bomb.xlsx")
    assert bomb.stat().st_size < 300_000
    response = post_file(api, bomb, "bomb.xlsx")
    body = response.get_json()
    assert response.status_code == 413, body
    assert body["limit"] == {"shared_strings_bytes": 16 * 1024 * 1024} and "16 MiB" in body["detail"]


@pytest.mark.parametrize("declared", [True, False])
def test_a_million_rows_are_refused_naming_the_row_limit(api: Api, tmp_path: Path, declared: bool) -> None:
    path = hostile_files.a_million_rows(tmp_path / "rows.xlsx", declared=declared)
    response = post_file(api, path, "rows.xlsx")
    body = response.get_json()
    assert response.status_code == 413, body
    assert body["limit"] == {"rows": 200_000} and "200,000 行" in body["detail"]


def test_a_csv_beyond_the_row_limit_is_refused_before_any_row_is_applied(fresh: Flask, api: Api) -> None:
    fresh.config["ROSTER_MAX_ROWS"] = 3
    before = api.get("/enterprises", "city_admin").get_json()["total"]
    try:
        response = post_file(api, (HEADER + GOOD * 4).encode(), "roster.csv")
        assert response.status_code == 413 and response.get_json()["limit"] == {"rows": 3}
        assert api.get("/enterprises", "city_admin").get_json()["total"] == before   # nothing was applied
        assert post_file(api, (HEADER + GOOD * 3).encode(), "roster.csv").status_code == 200
    finally:
        del fresh.config["ROSTER_MAX_ROWS"]


def test_an_overlong_cell_or_line_is_refused(api: Api, tmp_path: Path) -> None:
    response = post_file(api, (HEADER + "9" * 40_000 + ",a,城东街道,,1,2004-06-26,否\n").encode(), "r.csv")
    assert response.status_code == 413 and response.get_json()["limit"] == {"cell_chars": 32_767}
    response = post_file(api, (HEADER + "," * (2 * 1024 * 1024) + "\n").encode(), "r.csv")
    assert response.status_code == 413 and response.get_json()["limit"] == {"line_bytes": 1024 * 1024}
    inline = hostile_files.write_xlsx(tmp_path / "inline.xlsx", [
        '<row r="2"><c r="A2" t="inlineStr"><is><t>' + "x" * 100_000 + "</t></is></c></row>"])
    response = post_file(api, inline, "inline.xlsx")
    assert response.status_code == 413 and response.get_json()["limit"] == {"cell_chars": 32_767}


def test_a_zip_of_countless_parts_is_refused_before_its_directory_is_read(api: Api) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(10_001):
            archive.writestr(f"p{number}", b"")
    response = post_file(api, buffer.getvalue(), "parts.xlsx")
    assert response.status_code == 413 and response.get_json()["limit"] == {"members": 10_000}


@pytest.mark.parametrize("attack", ["billion_laughs", "external_entity"])
def test_xml_bombs_and_external_entities_are_422(api: Api, tmp_path: Path, attack: str) -> None:
    path = getattr(hostile_files, attack)(tmp_path / f"{attack}.xlsx")
    response = post_file(api, path, "attack.xlsx")
    body = response.get_json()
    assert response.status_code == 422, body
    assert "XML 炸弹或外部实体注入" in body["detail"] and "root:" not in json.dumps(body)


def _broken_files(tmp_path: Path) -> dict[str, bytes]:
    good = hostile_files.good_roster(tmp_path / "good.xlsx", [GOOD.strip().split(",")]).read_bytes()
    files = {"truncated": good[: len(good) // 2], "not a zip": b"PK\x03\x04" + b"\x00" * 100}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    files["no workbook"] = buffer.getvalue()
    for name, replace in [("bad xml", ("<sheetData>", "<sheetData><row")),
                          ("bad workbook", ("</sheets>", "")), ("no sheet relation", ('r:id="rId1"', 'r:id="rId9"'))]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(buffer, "w") as target:
            for info in source.infolist():
                data = source.read(info)
                if replace[0].encode() in data:
                    data = data.replace(replace[0].encode(), replace[1].encode(), 1)
                target.writestr(info.filename, data)
        files[name] = buffer.getvalue()
    # a member that inflates past the size it declares (fails the CRC, never inflates further)
    liar = bytearray(good)
    files["bad crc"] = bytes(liar[:200]) + bytes(b ^ 0x55 for b in liar[200:260]) + bytes(liar[260:])
    return files


def test_broken_spreadsheets_are_422_never_500(api: Api, tmp_path: Path) -> None:
    for name, content in _broken_files(tmp_path).items():
        response = post_file(api, content, "roster.xlsx")
        assert response.status_code == 422, (name, response.status_code, response.get_json())
        assert response.get_json()["errors"]["file"], name


def test_rejected_rows_are_capped_in_the_answer_and_complete_in_the_csv(api: Api) -> None:
    bad = [f"=HYPERLINK(\"http://evil.example/{n}\"),公司{n},城东街道,,10,2004-06-26,否\n" for n in range(2500)]
    text = HEADER + "".join(bad) + "+SUM(1+1),公司,城东街道,,10,2004-06-26,否\n"
    body = post_file(api, text.encode(), "roster.csv").get_json()
    assert body["rejected_count"] == 2501 and body["rejected_truncated"] is True
    assert len(body["rejected"]) == 1000 and body["rejected"][0]["row"] == 2 and body["rejected"][-1]["row"] == 1001
    response = post_file(api, text.encode(), "roster.csv", query="?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["行号", "统一社会信用代码", "原因"] and len(rows) == 2502
    # no cell of the report can run as a formula (the codes are shown cut short, quoted)
    assert rows[1][0] == "2" and rows[1][1].startswith("'=HYPERLINK(")
    assert rows[-1][:2] == ["2502", "'+SUM(1+1)"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


class _Untouchable(io.BytesIO):
    """A request body that fails the test if anything reads it."""

    def read(self, *args: Any) -> bytes:
        raise AssertionError("the body was read before the caller was known")

    readline = readinto = read  # type: ignore[assignment]


@pytest.mark.parametrize("path,content_type", [("/api/v1/enterprises/import", "multipart/form-data; boundary=x"),
                                               ("/api/v1/cases", "application/json"),
                                               ("/api/v1/admin/users", "application/json")])
def test_no_body_is_read_before_the_caller_is_known(api: Api, path: str, content_type: str) -> None:
    def send(headers: dict[str, str]) -> Any:
        return api.client.post(path, headers={**headers, "Content-Type": content_type, "Content-Length": "5000000"},
                               input_stream=_Untouchable(b"\x00" * 10))

    response = send({})
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    if path != "/api/v1/cases":
        assert send(api.headers("counter_chengbei")).status_code == 403


def test_an_enterprise_union_is_refused_before_its_upload_is_read(api: Api) -> None:
    response = api.client.post("/api/v1/enterprises/import", headers={
        **api.headers("ent_clerk"), "Content-Type": "multipart/form-data; boundary=x", "Content-Length": "99"},
        input_stream=_Untouchable(b""))
    assert response.status_code == 403


PEAK_SCRIPT = r"""
import io, json, resource, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from datetime import UTC, datetime
from flask_migrate import upgrade
from api import create_app, demo
from api.extensions import db

folder = Path(tempfile.mkdtemp())
app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'peak.sqlite3'}",
                  "PASSWORD_METHOD": "pbkdf2:sha256:1000", "SECRET_KEY": "t" * 40})
with app.app_context():
    upgrade(directory=app.extensions["migrate"].directory, revision="heads")
    demo.seed(db.session, datetime.now(UTC))
    db.session.commit()
client = app.test_client()
token = client.post("/api/v1/auth/token", json={"username": "city_admin", "password": "demo"}).get_json()["token"]
def rss():
    # the peak resident size of this process (VmHWM: reset by exec, unlike ru_maxrss, which a child forked from
    # a large test process inherits)
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
result = {"before": rss(), "files": {}}
for path in sys.argv[2:]:
    with open(path, "rb") as handle:
        response = client.post("/api/v1/enterprises/import", headers={"Authorization": f"Bearer {token}"},
                               data={"file": (handle, Path(path).name)}, content_type="multipart/form-data")
    result["files"][Path(path).name] = [response.status_code, rss()]
result["peak"] = rss()
print(json.dumps(result))
"""


def test_peak_memory_of_the_worst_uploads_stays_under_300_mb(tmp_path: Path) -> None:
    """Measured in a process of its own (its peak resident size): the 200 MB shared string, a million rows, a billion
    laughs, the largest shared-strings part accepted, and 200,000 rows all rejected."""
    files = [hostile_files.one_huge_shared_string(tmp_path / "one-huge-string.xlsx"),
             hostile_files.a_million_rows(tmp_path / "million-rows.xlsx", declared=False),
             hostile_files.billion_laughs(tmp_path / "billion-laughs.xlsx"),
             hostile_files.write_xlsx(tmp_path / "largest-shared-strings.xlsx",
                                      ['<row r="2"><c r="A2" t="s"><v>0</v></c></row>'],
                                      shared=(f"<si><t>温岭{n:09d}</t></si>" for n in range(530_000)))]
    rejected = tmp_path / "all-rejected.csv"
    with rejected.open("w", encoding="utf-8") as handle:
        handle.write(HEADER)
        for n in range(200_000):
            handle.write(f"=HYPERLINK(\"x{n}\"),公司{n},城东街道,,10,2004-06-26,否\n")
    files.insert(3, rejected)
    assert (tmp_path / "largest-shared-strings.xlsx").stat().st_size < 16 * 1024 * 1024
    run = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(ROOT), *map(str, files)], capture_output=True,
                         text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    print("upload peak memory (MB):", result)
    statuses = {name: status for name, (status, _) in result["files"].items()}
    assert statuses == {"one-huge-string.xlsx": 413, "million-rows.xlsx": 413, "billion-laughs.xlsx": 422,
                        "largest-shared-strings.xlsx": 200, "all-rejected.csv": 200}
    assert result["peak"] <= 300, result
