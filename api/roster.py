"""Importing the social-insurance roster (清单化摸清底数): employers upserted, formation cases opened.

Rows are streamed (CSV with or without a BOM, or XLSX read-only), so memory stays flat however long the
file: only the set of codes already seen is kept, to count duplicates. A later row for the same code
updates the employer (duplicates are merged); a case is never opened twice for an employer while one is
open, so importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api import services
from api.auth import Principal
from api.deadlines import SHANGHAI
from api.fields import uscc_is_valid
from api.lifecycles.union_formation import KEY, THRESHOLD, open_case_of
from api.models import Employer, OrgUnit
from workflow.engine import Engine

HEADERS = {"统一社会信用代码": "uscc", "单位名称": "name", "所属镇街": "street", "行业": "industry",
           "参保人数": "insured_staff", "成立日期": "founded_on", "是否已建会": "unionized"}
REQUIRED = ["统一社会信用代码", "单位名称", "所属镇街", "参保人数", "成立日期"]


class RosterError(ValueError):
    """The file as a whole cannot be read (wrong type, missing headers)."""

    def __init__(self, message: str, missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.missing = missing or []


@dataclass
class Rejected:
    row: int
    uscc: str
    reason: str


@dataclass
class ImportResult:
    rows: int = 0
    employers: int = 0
    cases_opened: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)   # under 25 staff, no union: joint-union candidates
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "employers_upserted": self.employers, "cases_opened": len(self.cases_opened),
                "case_numbers": self.cases_opened, "joint_union_candidates": len(self.candidates),
                "candidates": self.candidates, "duplicates_merged": self.duplicates,
                "rejected": [{"row": r.row, "uscc": r.uscc, "reason": r.reason} for r in self.rejected]}

    def rejected_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["行号", "统一社会信用代码", "原因"])
        writer.writerows([(r.row, r.uscc, r.reason) for r in self.rejected])
        return "\ufeff" + out.getvalue()


def normalise(value: Any) -> str:
    """Full-width digits, letters and spaces to half-width; stray spaces trimmed and folded."""
    text = "" if value is None else str(value)
    text = "".join(unicodedata.normalize("NFKC", ch) if "\uff01" <= ch <= "\uff5e" or ch == "\u3000" else ch
                   for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def parse_date(text: str) -> date:
    cleaned = normalise(text).replace("/", "-").replace(".", "-")
    parts = cleaned.split(" ")[0].split("-")
    if len(parts) != 3:
        raise ValueError(text)
    return date(int(parts[0]), int(parts[1]), int(parts[2]))


def csv_rows(stream: IO[bytes]) -> Iterator[dict[str, str]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    _check_headers(reader.fieldnames or [])
    yield from reader


def xlsx_rows(stream: IO[bytes]) -> Iterator[dict[str, str]]:
    from openpyxl import load_workbook

    workbook = load_workbook(stream, read_only=True, data_only=True)
    rows = workbook.active.iter_rows(values_only=True)
    header = [normalise(cell) for cell in next(rows, ())]
    _check_headers(header)
    for values in rows:
        yield {name: "" if value is None else (value.isoformat() if isinstance(value, datetime | date) else str(value))
               for name, value in zip(header, values, strict=False)}
    workbook.close()


def _check_headers(header: Iterable[str]) -> None:
    present = {normalise(name) for name in header}
    missing = [name for name in REQUIRED if name not in present]
    if missing:
        raise RosterError(f"缺少表头：{'、'.join(missing)}", missing)


def rows_of(filename: str, stream: IO[bytes]) -> Iterator[dict[str, str]]:
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(b"PK"):
        return xlsx_rows(stream)
    if filename.lower().endswith((".xlsx", ".xls")):
        raise RosterError("无法读取的 Excel 文件（只接受 .xlsx）")
    try:
        stream.read(2048).decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < 2040:
            raise RosterError("文件不是 UTF-8 编码的 CSV，也不是 XLSX") from error
    stream.seek(0)
    return csv_rows(stream)


@dataclass(frozen=True)
class _Street:
    id: int
    code: str


@dataclass
class _Row:
    uscc: str
    name: str
    street: _Street
    industry: str | None
    staff: int
    founded: date
    unionized: bool


def _parse(raw: dict[str, str], streets: dict[str, _Street]) -> _Row | str:
    values = {HEADERS[normalise(key)]: normalise(value) for key, value in raw.items()
              if key is not None and normalise(key) in HEADERS}
    code = values.get("uscc", "").replace(" ", "").upper()
    faults = []
    if not uscc_is_valid(code):
        faults.append("统一社会信用代码校验失败")
    if not values.get("name"):
        faults.append("单位名称为空")
    street = streets.get(values.get("street", "").replace(" ", ""))
    if street is None:
        faults.append(f"未知的镇街“{values.get('street', '')}”")
    staff_text = values.get("insured_staff", "").replace(" ", "")
    if not staff_text:
        faults.append("参保人数为空")
    elif not staff_text.isdigit():
        faults.append(f"参保人数“{staff_text}”不是整数")
    try:
        founded = parse_date(values.get("founded_on", ""))
    except ValueError:
        faults.append(f"成立日期“{values.get('founded_on', '')}”无法识别")
        founded = None
    if faults:
        return "；".join(faults)
    assert street is not None and founded is not None
    return _Row(code, values["name"], street, values.get("industry") or None, int(staff_text), founded,
                values.get("unionized") in ("是", "已建", "Y", "y", "1"))


def import_roster(session: Session, engine: Engine, principal: Principal, rows: Iterable[dict[str, str]],
                  now: datetime, *, commit_every: int | None = None,
                  commit: Callable[[], None] | None = None) -> ImportResult:
    """Upsert every good row, open a case per qualifying employer, and name every rejected row."""
    streets = {name.removesuffix("总工会"): _Street(unit_id, code) for unit_id, code, name in session.execute(
        sa.select(OrgUnit.id, OrgUnit.code, OrgUnit.name).where(OrgUnit.level == "street"))}
    today = now.astimezone(SHANGHAI).date()
    one_year_ago = today - timedelta(days=365)
    result = ImportResult()
    seen: set[str] = set()
    for number, raw in enumerate(rows, start=2):
        result.rows += 1
        parsed = _parse(raw, streets)
        if isinstance(parsed, str):
            result.rejected.append(Rejected(number, normalise(raw.get("统一社会信用代码", "")), parsed))
            continue
        if parsed.uscc in seen:
            result.duplicates += 1
        seen.add(parsed.uscc)
        employer = _upsert(session, parsed, now)
        result.employers = len(seen)
        if employer.union_status == "none" and not parsed.unionized:
            if parsed.staff >= THRESHOLD and parsed.founded <= one_year_ago:
                if open_case_of(session, employer) is None:
                    case = services.open_case(session, engine, principal, services.OpenRequest(
                        KEY, parsed.street.code, {"kind": "single", "source": "roster", "enterprise": {
                            "uscc": parsed.uscc, "name": parsed.name, "insured_staff": parsed.staff,
                            "founded_on": parsed.founded.isoformat()}}), now)
                    result.cases_opened.append(case.number)
            elif parsed.staff < THRESHOLD and parsed.uscc not in result.candidates:
                result.candidates.append(parsed.uscc)
        if commit is not None and commit_every and result.rows % commit_every == 0:
            commit()
            session.expunge_all()
    session.flush()
    return result


def _upsert(session: Session, row: _Row, now: datetime) -> Employer:
    employer = session.scalar(sa.select(Employer).where(Employer.uscc == row.uscc))
    if employer is None:
        employer = Employer(uscc=row.uscc, union_status="none", created_at=now)
        session.add(employer)
    employer.name, employer.street_unit_id, employer.industry = row.name, row.street.id, row.industry
    employer.insured_staff, employer.founded_on, employer.updated_at = row.staff, row.founded, now
    if row.unionized and employer.union_status == "none":
        employer.union_status = "single"
    session.flush()
    return employer
