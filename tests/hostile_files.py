# ruff: noqa: E501
"""Spreadsheets that attack the roster import: written part by part with zipfile, streamed (a 200 MB string is
never held in memory), each as small on disk as an attacker would make it."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

HEADER = ["统一社会信用代码", "单位名称", "所属镇街", "行业", "参保人数", "成立日期", "是否已建会"]

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>
</Types>"""
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"
 xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="名单" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>
</Relationships>"""
MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _column(index: int) -> str:
    return "ABCDEFGHIJ"[index]


def _inline_row(number: int, values: Iterable[str]) -> str:
    cells = "".join(f'<c r="{_column(i)}{number}" t="inlineStr"><is><t>{value}</t></is></c>'
                    for i, value in enumerate(values))
    return f'<row r="{number}">{cells}</row>'


def write_xlsx(path: Path, rows: Iterable[str], *, dimension: str | None = None, shared: Iterable[str] = (),
               shared_prolog: str = "", sheet_prolog: str = "") -> Path:
    """An XLSX whose sheet holds the header then ``rows`` (row XML, streamed) and whose shared-strings part
    holds ``shared`` (XML chunks, streamed)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(f'<?xml version="1.0" encoding="UTF-8"?>{shared_prolog}<sst {MAIN}>'.encode())
            for chunk in shared:
                part.write(chunk.encode())
            part.write(b"</sst>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(f'<?xml version="1.0" encoding="UTF-8"?>{sheet_prolog}<worksheet {MAIN}>'.encode())
            if dimension:
                part.write(f'<dimension ref="{dimension}"/>'.encode())
            part.write(b"<sheetData>")
            part.write(_inline_row(1, HEADER).encode())
            buffer = []
            for row in rows:
                buffer.append(row)
                if len(buffer) >= 10_000:
                    part.write("".join(buffer).encode())
                    buffer = []
            part.write("".join(buffer).encode())
            part.write(b"</sheetData></worksheet>")
    return path


def one_huge_shared_string(path: Path, megabytes: int = 200) -> Path:
    """206 KB on disk: one shared string of ``megabytes`` MB, used by one cell."""
    chunk = "A" * (1024 * 1024)
    return write_xlsx(path, ['<row r="2"><c r="A2" t="s"><v>0</v></c></row>'],
                      shared=["<si><t>", *([chunk] * megabytes), "</t></si>"])


def a_million_rows(path: Path, *, declared: bool) -> Path:
    """About 150 KB on disk: 1,000,000 rows of one short cell each."""
    rows = (f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>x</t></is></c></row>' for n in range(2, 1_000_002))
    return write_xlsx(path, rows, dimension="A1:G1000001" if declared else None)


BILLION_LAUGHS = """<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>"""


def billion_laughs(path: Path) -> Path:
    return write_xlsx(path, ['<row r="2"><c r="A2" t="s"><v>0</v></c></row>'], shared=["<si><t>&lol9;</t></si>"],
                      shared_prolog=BILLION_LAUGHS)


def external_entity(path: Path, target: str = "/etc/passwd") -> Path:
    prolog = f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{target}">]>'
    return write_xlsx(path, ['<row r="2"><c r="A2" t="inlineStr"><is><t>&xxe;</t></is></c></row>'],
                      sheet_prolog=prolog)


def good_roster(path: Path, rows: list[list[str]]) -> Path:
    return write_xlsx(path, [_inline_row(number, values) for number, values in enumerate(rows, start=2)])
