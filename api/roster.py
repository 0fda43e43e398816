"""Importing the social-insurance roster (清单化摸清底数): employers upserted, formation cases opened.

Rows are streamed (CSV with or without a BOM, or XLSX read-only), so memory stays flat however long the
file: only the set of codes already seen is kept, to count duplicates. A later row for the same code
updates the employer (duplicates are merged); a case is never opened twice for an employer while one is
open, so importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
import functools
import io
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.auth import Principal
from api.cases import open_many
from api.deadlines import SHANGHAI
from api.exports import SafeCsvWriter
from api.fields import is_whole_number, uscc_is_valid
from api.lifecycles.union_formation import KEY, screening
from api.models import Case, Employer, OrgUnit
from api.uploads import FileRefused, Limits, inspect_csv, inspect_xlsx
from workflow.engine import Engine

HEADERS = {"统一社会信用代码": "uscc", "单位名称": "name", "所属镇街": "street", "行业": "industry",
           "参保人数": "insured_staff", "成立日期": "founded_on", "是否已建会": "unionized",
           "联系人": "contact_name", "联系电话": "contact_phone"}
NAME_LENGTH, MAX_STAFF = 200, 1_000_000   # as the formation case's schema allows
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


REJECTED_SHOWN = 1000   # rejected rows named in the answer; all of them are in the CSV report


class RejectedRows:
    """Every rejected row, written to a temporary file on disk as it comes (the CSV report); only the first
    ``REJECTED_SHOWN`` are kept in memory for the answer."""

    def __init__(self) -> None:
        self.first: list[Rejected] = []
        self.count = 0
        self._file: IO[str] | None = None
        self._writer: SafeCsvWriter | None = None

    def add(self, rejected: Rejected) -> None:
        self.count += 1
        if len(self.first) < REJECTED_SHOWN:
            self.first.append(rejected)
        if self._writer is None:
            self._file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")
            self._writer = SafeCsvWriter(self._file)
        self._writer.writerow((rejected.row, rejected.uscc, rejected.reason))

    def write_csv(self, target: IO[bytes]) -> None:
        """The report (with a BOM, for Excel): header, then every rejected row, copied from disk."""
        target.write(("\ufeff" + "行号,统一社会信用代码,原因\r\n").encode())
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            while chunk := self._file.read(64 * 1024):
                target.write(chunk.encode())

    def stream_csv(self) -> Iterator[bytes]:
        """The report as a stream of chunks read from disk; the file is closed when the stream ends."""
        yield ("\ufeff" + "行号,统一社会信用代码,原因\r\n").encode()
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            while chunk := self._file.read(64 * 1024):
                yield chunk.encode()
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file, self._writer = None, None

    def __iter__(self) -> Iterator[Rejected]:
        return iter(self.first)

    def __len__(self) -> int:
        return self.count


@dataclass
class ImportResult:
    rows: int = 0
    employers: int = 0
    cases_opened: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)   # under 25 staff, no union: joint-union candidates
    duplicates: int = 0
    rejected: RejectedRows = field(default_factory=RejectedRows)

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "employers_upserted": self.employers, "cases_opened": len(self.cases_opened),
                "case_numbers": self.cases_opened, "joint_union_candidates": len(self.candidates),
                "candidates": self.candidates, "duplicates_merged": self.duplicates,
                "rejected": [{"row": r.row, "uscc": r.uscc, "reason": r.reason} for r in self.rejected.first],
                "rejected_count": self.rejected.count,
                "rejected_truncated": self.rejected.count > len(self.rejected.first)}

    def rejected_csv(self) -> str:
        out = io.BytesIO()
        self.rejected.write_csv(out)
        return out.getvalue().decode()


# Full-width forms to their usual forms, as NFKC folds them: the characters whose compatibility decomposition
# is tagged <wide> (U+FF01–U+FF5E to ASCII, U+FFE0–U+FFE6, the ideographic space U+3000 — these two blocks hold
# them all). Only these: NFKC of a whole cell would also read "3²" as 32 and "①" as 1.
_HALF_WIDTH = str.maketrans({chr(code): unicodedata.normalize("NFKC", chr(code))
                             for code in [0x3000, *range(0xFF00, 0xFFF0)]
                             if unicodedata.decomposition(chr(code)).startswith("<wide>")})


def normalise(value: Any) -> str:
    """Full-width digits, letters, signs and spaces to half-width; stray spaces trimmed and folded."""
    text = "" if value is None else str(value)
    if not text.isascii():
        text = text.translate(_HALF_WIDTH)
    return " ".join(text.split())


@functools.lru_cache(maxsize=256)
def _field_of(header: str) -> str | None:
    """The field a (normalised) column header names; the headers repeat on every row."""
    return HEADERS.get(normalise(header))


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


def xlsx_rows(stream: IO[bytes], roster: Roster | None = None) -> Iterator[dict[str, str]]:
    """The rows of the active sheet, read-only; any fault of the file is a ``FileRefused`` (422), never a 500.
    Once the workbook is open, ``roster.total`` is the active sheet's rows as the inspection counted them."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for one broken file
        raise FileRefused(422, "无法读取的 Excel 文件：工作簿结构损坏") from error
    try:
        sheet = workbook.active
        if roster is not None and roster.sheet_rows:
            counted = roster.sheet_rows.get(str(getattr(sheet, "_worksheet_path", "")).lstrip("/"))
            roster.total = max((counted or max(roster.sheet_rows.values())) - 1, 0)
        rows = sheet.iter_rows(values_only=True)
        header = [normalise(cell) for cell in next(rows, ())]
        _check_headers(header)
        for values in rows:
            yield {name: "" if value is None else (value.isoformat() if isinstance(value, datetime | date)
                                                   else str(value))
                   for name, value in zip(header, values, strict=False)}
    except (RosterError, FileRefused):
        raise
    except Exception as error:  # noqa: BLE001 - a broken sheet part met while reading
        raise FileRefused(422, "无法读取的 Excel 文件：工作表内容损坏") from error
    finally:
        workbook.close()


def _check_headers(header: Iterable[str]) -> None:
    present = {normalise(name) for name in header}
    missing = [name for name in REQUIRED if name not in present]
    if missing:
        raise RosterError(f"缺少表头：{'、'.join(missing)}", missing)


@dataclass
class Roster:
    """An uploaded roster: its rows as a stream, and how many there are (``total``, the header row not
    counted; known from the inspection, for an XLSX once its first row is read), for a progress bar."""

    rows: Iterator[dict[str, str]]
    total: int | None = None
    sheet_rows: dict[str, int] = field(default_factory=dict)


def open_roster(filename: str, stream: IO[bytes], limits: Limits | None = None) -> Roster:
    """An uploaded roster, after the whole file was inspected against ``limits`` (rows, cells, inflated size,
    cell length; hostile XML) without being read into memory."""
    limits = limits or Limits()
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(b"PK"):
        roster = Roster(iter(()), sheet_rows=inspect_xlsx(stream, limits))
        roster.rows = xlsx_rows(stream, roster)
        return roster
    if filename.lower().endswith((".xlsx", ".xls")):
        raise RosterError("无法读取的 Excel 文件（只接受 .xlsx）")
    try:
        stream.read(2048).decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < 2040:
            raise RosterError("文件不是 UTF-8 编码的 CSV，也不是 XLSX") from error
    stream.seek(0)
    records = inspect_csv(stream, limits)
    return Roster(csv_rows(stream), total=max(records - 1, 0))


def rows_of(filename: str, stream: IO[bytes], limits: Limits | None = None) -> Iterator[dict[str, str]]:
    """The rows of an uploaded roster (see :func:`open_roster`)."""
    return open_roster(filename, stream, limits).rows


@dataclass(frozen=True)
class _Street:
    id: int
    code: str
    outside: bool = False   # not in the importer's scope: its employers are not the importer's to import


@dataclass
class _Row:
    uscc: str
    name: str
    street: _Street
    industry: str | None
    staff: int
    founded: date
    unionized: bool
    contact_name: str | None = None
    contact_phone: str | None = None


def _shown(text: str, length: int = 40) -> str:
    """A value quoted in a rejection, cut short (a cell may hold 32,767 characters)."""
    return text if len(text) <= length else text[:length] + "…"


def _parse(raw: dict[str, str], streets: dict[str, _Street]) -> _Row | str:
    values = {name: normalise(value) for name, value in ((_field_of(key), value) for key, value in raw.items()
                                                            if key is not None) if name is not None}
    code = values.get("uscc", "").replace(" ", "").upper()
    faults: list[str] = []
    if not uscc_is_valid(code):
        faults.append("统一社会信用代码校验失败")
    if not values.get("name"):
        faults.append("单位名称为空")
    elif len(values["name"]) > NAME_LENGTH:
        faults.append(f"单位名称超过 {NAME_LENGTH} 字")
    street = _street(values, streets, faults)
    staff = _staff(values, faults)
    try:
        founded = parse_date(values.get("founded_on", ""))
    except ValueError:
        faults.append(f"成立日期“{_shown(values.get('founded_on', ''))}”无法识别")
        founded = None
    if faults:
        return "；".join(faults)
    assert street is not None and staff is not None and founded is not None
    return _Row(code, values["name"], street, values.get("industry") or None, staff, founded,
                values.get("unionized") in ("是", "已建", "Y", "y", "1"),
                (values.get("contact_name") or "")[:100] or None, (values.get("contact_phone") or "")[:40] or None)


def _street(values: dict[str, str], streets: dict[str, _Street], faults: list[str]) -> _Street | None:
    """The row's town or street, one known and within the importing unit's scope."""
    street = streets.get(values.get("street", "").replace(" ", ""))
    if street is None:
        faults.append(f"未知的镇街“{_shown(values.get('street', ''))}”")
    elif street.outside:
        faults.append(f"所属镇街“{values['street']}”不在本单位管辖范围内")
        return None
    return street


def _staff(values: dict[str, str], faults: list[str]) -> int | None:
    """The insured staff: a whole number up to ``MAX_STAFF``."""
    staff_text = values.get("insured_staff", "").replace(" ", "")
    if not staff_text:
        faults.append("参保人数为空")
    elif not is_whole_number(staff_text):
        faults.append(f"参保人数“{_shown(staff_text)}”不是整数")
    elif int(staff_text) > MAX_STAFF:
        faults.append(f"参保人数“{staff_text}”超过 {MAX_STAFF}")
    else:
        return int(staff_text)
    return None


CHUNK = 2000
PROGRESS_EVERY = 500


@dataclass(frozen=True)
class Progress:
    """How far an import is: rows read so far, of which rejected (the others are accepted)."""

    read: int
    rejected: int
    done: bool = False

    @property
    def accepted(self) -> int:
        return self.read - self.rejected


def import_roster(session: Session, engine: Engine, principal: Principal, rows: Iterable[dict[str, str]],
                  now: datetime, *, commit_every: int | None = None,
                  commit: Callable[[], None] | None = None, chunk: int = CHUNK,
                  progress: Callable[[Progress], None] | None = None,
                  progress_every: int = PROGRESS_EVERY) -> ImportResult:
    """Upsert every good row, open a case per qualifying employer, and name every rejected row.

    Rows are taken ``chunk`` at a time: the chunk's employers are read (and locked) with one query, the rows
    are applied in file order in memory (so a later row of one employer updates the earlier one), then the
    employers are upserted and the cases opened with one statement per table. ``progress`` is told how far
    the import is every ``progress_every`` rows and once at the end (it must not use ``session``).
    """
    streets = {name.removesuffix("总工会"): _Street(unit_id, code, not principal.sees(path))
               for unit_id, code, name, path in session.execute(
                   sa.select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.path).where(OrgUnit.level == "street"))}
    today = now.astimezone(SHANGHAI).date()
    result = _Import(session, engine, principal, now, today)
    pending: list[_Row] = []
    for number, raw in enumerate(rows, start=2):
        result.rows += 1
        parsed = _parse(raw, streets)
        if isinstance(parsed, str):
            result.rejected.add(Rejected(number, _shown(normalise(raw.get("统一社会信用代码", ""))), parsed))
        else:
            pending.append(parsed)
        if len(pending) >= chunk:
            result.apply(pending)
            pending = []
        if commit is not None and commit_every and result.rows % commit_every == 0:
            result.apply(pending)
            pending = []
            commit()
            session.expunge_all()
        if progress is not None and result.rows % progress_every == 0:
            progress(Progress(result.rows, result.rejected.count))
    result.apply(pending)
    session.flush()
    if progress is not None:
        progress(Progress(result.rows, result.rejected.count, done=True))
    return result


@dataclass
class _Employer:
    """An employer's state while a chunk is applied."""

    status: str
    has_open_case: bool
    row: _Row | None = None


class _Import(ImportResult):
    def __init__(self, session: Session, engine: Engine, principal: Principal, now: datetime, today: date) -> None:
        super().__init__()
        self.session, self.engine, self.principal, self.now = session, engine, principal, now
        # who must form a union (workflow.rules.union_formation), as the definition says on the day of the import
        self.screening, self.today = screening(engine), today
        self.seen: set[str] = set()
        self.candidate_set: set[str] = set()

    def apply(self, chunk: list[_Row]) -> None:
        if not chunk:
            return
        employers = self._current({row.uscc for row in chunk})
        to_open: list[_Row] = []
        for row in chunk:
            if row.uscc in self.seen:
                self.duplicates += 1
            self.seen.add(row.uscc)
            employer = employers.setdefault(row.uscc, _Employer("none", False))
            employer.row = row
            if row.unionized and employer.status == "none":
                employer.status = "single"
            if employer.status != "none" or row.unionized:
                continue
            if self.screening.must_form_union(row.staff, row.founded, self.today):
                if not employer.has_open_case:
                    employer.has_open_case = True
                    to_open.append(row)
            elif self.screening.joint_candidate(row.staff) and row.uscc not in self.candidate_set:
                self.candidate_set.add(row.uscc)
                self.candidates.append(row.uscc)
        self.employers = len(self.seen)
        opened = open_many(self.session, self.engine, self.principal, KEY, [
            (row.street.code, {"kind": "single", "source": "roster", "enterprise": {
                "uscc": row.uscc, "name": row.name, "insured_staff": row.staff,
                "founded_on": row.founded.isoformat()}}) for row in to_open], self.now, validated=True)
        self._upsert(employers, {row.uscc: case.id for row, case in zip(to_open, opened, strict=True)})
        self.cases_opened.extend(case.number for case in opened)

    def _current(self, codes: set[str]) -> dict[str, _Employer]:
        """The chunk's employers already stored, locked until the transaction ends, with whether their
        formation case is still open."""
        query = (sa.select(Employer.uscc, Employer.union_status, Case.closed)
                 .outerjoin(Case, Case.id == Employer.formation_case_id).where(Employer.uscc.in_(codes)))
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=Employer)
        return {code: _Employer(status, closed is False) for code, status, closed in self.session.execute(query)}

    def _upsert(self, employers: dict[str, _Employer], cases: dict[str, int]) -> None:
        """Insert or update the chunk's employers, each with the formation case just opened for it (if any)."""
        table = Employer.__table__
        dialect = self.session.get_bind().dialect.name
        insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        statement = insert.on_conflict_do_update(index_elements=[table.c.uscc], set_={
            "name": insert.excluded.name, "street_unit_id": insert.excluded.street_unit_id,
            "industry": insert.excluded.industry, "insured_staff": insert.excluded.insured_staff,
            "founded_on": insert.excluded.founded_on, "updated_at": insert.excluded.updated_at,
            "contact_name": sa.func.coalesce(insert.excluded.contact_name, table.c.contact_name),
            "contact_phone": sa.func.coalesce(insert.excluded.contact_phone, table.c.contact_phone),
            "union_status": insert.excluded.union_status,
            "formation_case_id": sa.func.coalesce(insert.excluded.formation_case_id, table.c.formation_case_id)})
        self.session.execute(statement, [
            {"uscc": code, "name": state.row.name, "street_unit_id": state.row.street.id,
             "industry": state.row.industry, "insured_staff": state.row.staff, "founded_on": state.row.founded,
             "union_status": state.status, "formation_case_id": cases.get(code), "created_at": self.now,
             "contact_name": state.row.contact_name, "contact_phone": state.row.contact_phone,
             "updated_at": self.now}
            for code, state in employers.items() if state.row is not None])
