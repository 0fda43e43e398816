"""Uploaded spreadsheets inspected before anything reads them, so that no file can exhaust a worker's memory.

An XLSX is a ZIP of XML files. Before openpyxl opens it, every member's declared size is checked (the ZIP
reader never inflates a member past its declared size: a longer one fails its CRC), the shared-strings part —
the one part openpyxl holds whole in memory — against its own bound, the sheet's ``<dimension>`` against the
row and cell limits, and then every XML part is scanned once as a stream (defusedxml: no DTD, no entity, no
external reference — a billion-laughs or XXE file is refused) counting rows and cells and bounding each text
to Excel's own cell limit (32,767 characters). A CSV is scanned the same way (rows, cells, line length).
Each limit broken is a 413 naming the limit; a file that is not what it claims to be is a 422.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any
from xml.sax import SAXException
from xml.sax.handler import ContentHandler

import defusedxml
from defusedxml.expatreader import DefusedExpatParser

from api.errors import TooLarge
from workflow.errors import InvalidData, WorkflowError

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    rows: int = 200_000                 # data rows of a roster (the county's is ~100,000)
    cells: int = 4_000_000              # rows × columns, as the sheet declares or holds them
    unzipped: int = 256 * MIB           # all members of an XLSX, inflated
    shared_strings: int = 16 * MIB      # the shared-strings part, inflated (openpyxl keeps it in memory)
    cell_chars: int = 32_767            # Excel's own limit for one cell
    line_bytes: int = MIB               # one physical line of a CSV
    columns: int = 200                  # cells in one row

    @classmethod
    def from_config(cls, config: Any) -> Limits:
        names = {"rows": "ROSTER_MAX_ROWS", "cells": "ROSTER_MAX_CELLS", "unzipped": "ROSTER_MAX_UNZIPPED_BYTES",
                 "shared_strings": "ROSTER_MAX_SHARED_STRINGS_BYTES"}
        return cls(**{field: int(config[key]) for field, key in names.items() if config.get(key)})


class FileRefused(ValueError):
    """The upload cannot be read: ``status`` 413 (a limit, named in ``limit``) or 422 (not a readable file)."""

    def __init__(self, status: int, message: str, limit: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.limit = limit or {}

    def as_error(self, field: str = "file") -> WorkflowError:
        """The refusal as the API answers it: 413 naming the limit, or 422; the upload's ``field`` named."""
        errors = {field: [str(self)]}
        if self.status == 413:
            return TooLarge(str(self), errors=errors, limit=self.limit)
        return InvalidData(errors, detail=str(self))


def _too_large(what: str, found: int | str, name: str, limit: int, unit: str = "") -> FileRefused:
    shown = f"（{found}）" if found else ""
    return FileRefused(413, f"{what}{shown}超过上限 {limit:,}{unit}（{name}）", {name: limit})


def _mib(size: int) -> str:
    return f"{size / MIB:.1f}"


_SHEET = re.compile(r"xl/worksheets/[^/]+\.xml\Z")
_CELL_REF = re.compile(r"\$?([A-Z]{1,3})\$?(\d{1,9})\Z")


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


class _Scan(ContentHandler):
    """Counts rows and cells of a worksheet (or strings of the shared-strings part) and bounds every text."""

    def __init__(self, limits: Limits, member: str) -> None:
        super().__init__()
        self.limits, self.member = limits, member
        self.sheet = bool(_SHEET.match(member))
        self.shared = member == "xl/sharedStrings.xml"
        self.rows = self.cells = self.text = 0
        self.row_cells = 0

    def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802 - the SAX interface
        local = name.rpartition(":")[2]
        self.text = 0
        if self.sheet and local == "dimension":
            self._dimension(attrs.get("ref", ""))
        elif self.sheet and local == "row":
            self.rows += 1
            self.row_cells = 0
            if self.rows > self.limits.rows + 1:   # the header row, then the data rows
                raise _too_large("工作表行数", f"{self.rows - 1:,} 行以上", "rows", self.limits.rows, " 行")
        elif (self.sheet and local == "c") or (self.shared and local == "si"):
            self.cells += 1
            self.row_cells += 1
            if self.cells > self.limits.cells:
                raise _too_large("单元格数", f"{self.cells:,} 个以上", "cells", self.limits.cells, " 个")
            if self.sheet and self.row_cells > self.limits.columns:
                raise _too_large("一行的单元格数", f"{self.row_cells:,} 个", "columns", self.limits.columns, " 个")

    def characters(self, content: str) -> None:
        self.text += len(content)
        if self.text > self.limits.cell_chars:
            raise _too_large(f"{self.member} 中一个单元格的文字", f"{self.text:,} 字以上", "cell_chars",
                             self.limits.cell_chars, " 字")

    def endElement(self, name: str) -> None:  # noqa: N802 - the SAX interface
        self.text = 0

    def _dimension(self, ref: str) -> None:
        last = ref.split(":")[-1].upper()
        found = _CELL_REF.match(last)
        if found is None:
            return
        columns, rows = _column_number(found.group(1)), int(found.group(2))
        if rows - 1 > self.limits.rows:
            raise _too_large("工作表声明的行数", f"{rows - 1:,} 行", "rows", self.limits.rows, " 行")
        if columns * rows > self.limits.cells:
            raise _too_large("工作表声明的单元格数", f"{columns * rows:,} 个", "cells", self.limits.cells, " 个")


def _parse_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> _Scan:
    parser = DefusedExpatParser(forbid_dtd=True)   # and, by default, no entities, no external references
    scan = _Scan(limits, info.filename)
    parser.setContentHandler(scan)
    with archive.open(info) as member:
        parser.parse(member)
    return scan


MAX_MEMBERS = 10_000   # a workbook has a few dozen parts; the ZIP reader holds every entry of the directory


def _check_member_count(stream: IO[bytes]) -> None:
    """Refuse a ZIP whose central directory lists more entries than a workbook ever has, from its end record,
    before the ZIP reader builds an object per entry."""
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(max(0, size - 65_557))   # the end record (22 bytes) and the longest comment
    tail = stream.read()
    stream.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise FileRefused(422, "无法读取的 Excel 文件：ZIP 结构损坏")
    entries = int.from_bytes(tail[at + 10:at + 12], "little")
    if entries > MAX_MEMBERS:   # 0xFFFF (ZIP64) included: no workbook needs it
        raise FileRefused(413, f"Excel 文件的部件数（{entries:,}）超过上限 {MAX_MEMBERS:,}（members）",
                          {"members": MAX_MEMBERS})


def inspect_xlsx(stream: IO[bytes], limits: Limits) -> dict[str, int]:
    """Refuse (``FileRefused``) an XLSX that is broken, hostile or larger than ``limits``, reading it as a
    stream; the stream is left at its start. Returns the rows of each worksheet (by its part's name), the
    header row included."""
    _check_member_count(stream)
    try:
        archive = zipfile.ZipFile(stream)
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise FileRefused(422, "无法读取的 Excel 文件：ZIP 结构损坏") from error
    try:
        total = sum(info.file_size for info in infos)
        if total > limits.unzipped:
            raise FileRefused(413, f"Excel 文件解压后的大小（{_mib(total)} MiB）超过上限 {limits.unzipped // MIB} MiB"
                                   f"（unzipped_bytes）", {"unzipped_bytes": limits.unzipped})
        names = {info.filename for info in infos}
        if "xl/workbook.xml" not in names or not any(_SHEET.match(name) for name in names):
            raise FileRefused(422, "无法读取的 Excel 文件：缺少工作簿或工作表（只接受 .xlsx）")
        shared = next((info for info in infos if info.filename == "xl/sharedStrings.xml"), None)
        if shared is not None and shared.file_size > limits.shared_strings:
            raise FileRefused(413, f"Excel 文件的共享字符串（{_mib(shared.file_size)} MiB）超过上限 "
                                   f"{limits.shared_strings // MIB} MiB（shared_strings_bytes）",
                              {"shared_strings_bytes": limits.shared_strings})
        # the sheets first (their declared dimension is the cheapest refusal), then every other XML part
        members = sorted((info for info in infos if info.filename.endswith((".xml", ".rels"))),
                         key=lambda info: (not _SHEET.match(info.filename), info.filename))
        rows = {}
        for info in members:
            scan = _parse_member(archive, info, limits)
            if scan.sheet:
                rows[info.filename] = scan.rows
        return rows
    except FileRefused:
        raise
    except defusedxml.DefusedXmlException as error:
        raise FileRefused(422, "Excel 文件含有 DTD、实体或外部引用（XML 炸弹或外部实体注入），拒绝读取") from error
    except (SAXException, zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError) as error:
        raise FileRefused(422, "无法读取的 Excel 文件：内容损坏") from error
    finally:
        stream.seek(0)


def inspect_csv(stream: IO[bytes], limits: Limits) -> int:
    """Refuse a CSV with a line, a field, a row or a file beyond ``limits``; the stream is left at its start.
    Returns its records that hold a value, the header included."""
    try:
        _check_lines(stream, limits)
        stream.seek(0)
        return _check_records(stream, limits)
    except csv.Error as error:
        raise FileRefused(422, f"无法读取的 CSV 文件：{error}") from error
    except UnicodeDecodeError as error:
        raise FileRefused(422, "文件不是 UTF-8 编码的 CSV，也不是 XLSX") from error
    finally:
        stream.seek(0)


def _check_lines(stream: IO[bytes], limits: Limits) -> None:
    """Refuse a line longer than ``limits.line_bytes``, reading no more than that at a time."""
    while line := stream.readline(limits.line_bytes + 1):
        if len(line) > limits.line_bytes and not line.endswith(b"\n"):
            raise FileRefused(413, f"CSV 文件的一行超过上限 {limits.line_bytes // MIB} MiB（line_bytes）",
                              {"line_bytes": limits.line_bytes})


def _check_records(stream: IO[bytes], limits: Limits) -> int:
    """Refuse too many records, columns or fields, or a field too long; the records that hold a value."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    rows = cells = filled = 0
    try:
        for row in csv.reader(text):
            rows += 1
            filled += bool(row)
            cells += len(row)
            _check_record(row, rows, cells, limits)
    finally:
        text.detach()
    return filled


def _check_record(row: list[str], rows: int, cells: int, limits: Limits) -> None:
    """Refuse the ``rows``-th record (``cells`` fields so far, its own included) when it goes beyond a limit."""
    if rows > limits.rows + 1:
        raise _too_large("CSV 文件行数", f"{rows - 1:,} 行以上", "rows", limits.rows, " 行")
    if len(row) > limits.columns:
        raise _too_large("一行的字段数", f"{len(row):,} 个", "columns", limits.columns, " 个")
    if cells > limits.cells:
        raise _too_large("字段总数", f"{cells:,} 个以上", "cells", limits.cells, " 个")
    if any(len(value) > limits.cell_chars for value in row):
        raise _too_large(f"第 {rows} 行的一个字段", "", "cell_chars", limits.cell_chars, " 字")
