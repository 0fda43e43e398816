"""Importing existing unions and their terms (基层工会换届台账): one term case opened per union, in bulk.

A CSV (UTF-8, with or without a BOM) with Chinese headers:
``工会代码`` or ``工会名称`` (at least one of them), ``统一社会信用代码``, ``所属镇街``, ``工会主席``, ``委员`` (names
separated by 、 , ; or spaces), ``成立或上次换届日期``, ``任期（年）`` (3 or 5; blank: the definition's default).

A union is found by its code, its name (with or without the 工会 suffix) or its social credit code; one not in
the org tree yet is created under its street (the 所属镇街 column, or the street of the employer of that code),
coded ``<street>-<credit code>``. Every rejected row is named with its row number (the header is row 1) and its
reasons; a union that already has an open term case is passed over (importing the same file again changes
nothing). Rows are applied ``CHUNK`` at a time, each chunk's cases opened with one insert per table.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

import sqlalchemy as sa

from api.fields import is_whole_number, uscc_is_valid
from api.lifecycles import Context
from api.lifecycles.union_term.models import UnionTerm
from api.lifecycles.union_term.terms import open_terms, term_data
from api.models import Case, Employer, OrgUnit
from api.roster import RosterError, normalise, parse_date
from workflow.rules.union_term import TermRules

HEADERS = {"工会代码": "code", "工会名称": "name", "统一社会信用代码": "uscc", "所属镇街": "street",
           "工会主席": "chair", "委员": "committee", "成立或上次换届日期": "term_start", "换届日期": "term_start",
           "成立日期": "term_start", "任期（年）": "term_years", "任期(年)": "term_years", "任期": "term_years"}
CHUNK = 2000
_SEPARATORS = re.compile(r"[、,，;；\s]+")


@dataclass
class Rejected:
    row: int
    union: str
    reason: str


@dataclass
class TermImport:
    rows: int = 0
    opened: list[str] = field(default_factory=list)
    unions_created: int = 0
    already_open: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "cases_opened": len(self.opened), "case_numbers": self.opened,
                "unions_created": self.unions_created, "already_open": self.already_open,
                "rejected": [{"row": r.row, "union": r.union, "reason": r.reason} for r in self.rejected]}


@dataclass
class _Row:
    number: int
    code: str
    name: str
    uscc: str
    street: str
    chair: str
    committee: list[str]
    term_start: date
    term_years: int | None

    @property
    def label(self) -> str:
        return self.code or self.name or self.uscc


def rows_of(stream: IO[bytes]) -> Iterator[dict[str, str]]:
    """The rows of a CSV file; a file without the needed headers is refused as a whole."""
    try:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        header = {normalise(name) for name in reader.fieldnames or []}
    except UnicodeDecodeError as error:
        raise RosterError("文件不是 UTF-8 编码的 CSV") from error
    fields_present = {HEADERS[name] for name in header if name in HEADERS}
    missing = [label for label, needed in (("工会代码或工会名称", {"code", "name"}), ("工会主席", {"chair"}),
                                           ("成立或上次换届日期", {"term_start"})) if not needed & fields_present]
    if missing:
        raise RosterError(f"缺少表头：{'、'.join(missing)}", missing)
    try:
        yield from reader
    except UnicodeDecodeError as error:
        raise RosterError("文件不是 UTF-8 编码的 CSV") from error
    except csv.Error as error:
        raise RosterError(f"CSV 文件格式错误（第 {reader.line_num} 行）") from error


def _parse(number: int, raw: dict[str, Any], today: date, allowed: list[int]) -> _Row | Rejected:
    values = {HEADERS[key]: normalise(value) for key, value in ((normalise(k), v) for k, v in raw.items()
                                                                  if k is not None) if key in HEADERS}
    code, name = values.get("code", ""), values.get("name", "")
    uscc = values.get("uscc", "").replace(" ", "").upper()
    faults: list[str] = []
    if any("\x00" in value for value in values.values()):
        return Rejected(number, "", "含有 NUL 字符")
    if not code and not name and not uscc:
        faults.append("未填工会代码、工会名称或统一社会信用代码")
    if uscc and not uscc_is_valid(uscc):
        faults.append("统一社会信用代码校验失败")
    chair, committee = _leaders(values, faults)
    term_start = _term_start(values, today, faults)
    term_years = _term_years(values, allowed, faults)
    if faults:
        return Rejected(number, code or name or uscc, "；".join(faults))
    assert term_start is not None
    return _Row(number, code, name, uscc, values.get("street", "").replace(" ", ""), chair, committee, term_start,
                term_years)


def _leaders(values: dict[str, str], faults: list[str]) -> tuple[str, list[str]]:
    """The chair (required, at most 100 characters) and the committee (at most 50 names of 100)."""
    chair = values.get("chair", "")
    if not chair:
        faults.append("工会主席为空")
    elif len(chair) > 100:
        faults.append("工会主席超过 100 字")
    committee = [item for item in _SEPARATORS.split(values.get("committee", "")) if item]
    if len(committee) > 50 or any(len(item) > 100 for item in committee):
        faults.append("委员名单过长（至多 50 人，每人 100 字）")
    return chair, committee


def _term_start(values: dict[str, str], today: date, faults: list[str]) -> date | None:
    """When the union was founded or last re-elected: a date, not after today."""
    try:
        term_start = parse_date(values.get("term_start", ""))
    except ValueError:
        faults.append(f"成立或上次换届日期“{values.get('term_start', '')}”无法识别")
        return None
    if term_start > today:
        faults.append("成立或上次换届日期晚于今天")
    return term_start


def _term_years(values: dict[str, str], allowed: list[int], faults: list[str]) -> int | None:
    """The term's length in years when the row gives one (``5`` or ``5年``), one the definition allows."""
    years_text = values.get("term_years", "").removesuffix("年").strip()
    if not years_text:
        return None
    if not is_whole_number(years_text) or int(years_text) not in allowed:
        faults.append(f"任期“{years_text}”须为 {' 或 '.join(map(str, allowed))} 年")
        return None
    return int(years_text)


def import_terms(context: Context, rows: Iterable[dict[str, str]], *, chunk: int = CHUNK) -> TermImport:
    """Open a term case for every good row whose union has none open; name every rejected row. ``context`` is
    the union_term definition's, with the principal the cases are opened as."""
    today = context.today
    allowed = list(TermRules.of(context.config).allowed_term_years)
    run = _Run(context)
    pending: list[_Row] = []
    for number, raw in enumerate(rows, start=2):
        run.result.rows += 1
        parsed = _parse(number, raw, today, allowed)
        if isinstance(parsed, Rejected):
            run.result.rejected.append(parsed)
        else:
            pending.append(parsed)
        if len(pending) >= chunk:
            run.apply(pending)
            pending = []
    run.apply(pending)
    context.session.flush()
    return run.result


class _Run:
    def __init__(self, context: Context) -> None:
        assert context.principal is not None
        self.context, self.session, self.principal, self.now = context, context.session, context.principal, context.now
        self.result = TermImport()
        session = self.session
        self.seen: set[int] = set()
        self.streets: dict[str, OrgUnit] = {}
        for unit in session.scalars(sa.select(OrgUnit).where(OrgUnit.level == "street")):
            self.streets[unit.code] = self.streets[unit.name] = self.streets[unit.name.removesuffix("总工会")] = unit

    def apply(self, chunk: list[_Row]) -> None:
        if not chunk:
            return
        found = self._unions(chunk)
        to_open: list[tuple[OrgUnit, dict[str, Any], _Row]] = []
        for row in chunk:
            union = found[row.number]
            if isinstance(union, str):
                self.result.rejected.append(Rejected(row.number, row.label, union))
                continue
            if union.id in self.seen:
                self.result.rejected.append(Rejected(row.number, row.label, f"工会 {union.code} 在文件中重复出现"))
                continue
            self.seen.add(union.id)
            to_open.append((union, term_data(
                self.context, union, chair=row.chair, committee=row.committee, term_start=row.term_start,
                term_years=row.term_years, source="import", name=union.name, uscc=row.uscc or union.uscc), row))
        open_now = self._without_open_cases(to_open)
        opened = open_terms(self.context, [(union, data) for union, data, _ in open_now])
        self.result.opened.extend(case.number for case in opened)

    def _without_open_cases(self, items: list[tuple[OrgUnit, dict[str, Any], _Row]]
                            ) -> list[tuple[OrgUnit, dict[str, Any], _Row]]:
        ids = [union.id for union, _, _ in items]
        query = (sa.select(UnionTerm.org_unit_id, Case.number).join(Case, Case.id == UnionTerm.case_id)
                 .where(UnionTerm.org_unit_id.in_(ids), sa.not_(Case.closed)))
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=UnionTerm)
        open_cases = {unit_id: number for unit_id, number in self.session.execute(query)}
        for union, _, _ in items:
            if union.id in open_cases:
                self.result.already_open.append(f"{union.code}: {open_cases[union.id]}")
        return [item for item in items if item[0].id not in open_cases]

    def _unions(self, chunk: list[_Row]) -> dict[int, OrgUnit | str]:
        """Each row's union (found, or created under its street), or the reason it cannot be had."""
        session = self.session
        enterprise = OrgUnit.level == "enterprise"
        codes = {row.code for row in chunk if row.code}
        names = {variant for row in chunk if row.name for variant in (row.name, f"{row.name}工会")}
        usccs = {row.uscc for row in chunk if row.uscc}
        units = list(session.scalars(sa.select(OrgUnit).where(sa.or_(
            OrgUnit.code.in_(codes), sa.and_(enterprise, sa.or_(OrgUnit.name.in_(names), OrgUnit.uscc.in_(usccs)))))))
        by_code = {unit.code: unit for unit in units}
        by_name = {unit.name: unit for unit in units if unit.level == "enterprise"}
        by_uscc = {unit.uscc: unit for unit in units if unit.uscc and unit.level == "enterprise"}
        employers = {employer.uscc: employer for employer in session.scalars(
            sa.select(Employer).where(Employer.uscc.in_(usccs)))}
        found: dict[int, OrgUnit | str] = {}
        created: dict[str, OrgUnit] = {}
        for row in chunk:
            employer = employers.get(row.uscc)
            known = (by_code.get(row.code) or by_name.get(row.name) or by_name.get(f"{row.name}工会")
                     or by_uscc.get(row.uscc) or (employer.union_unit if employer else None))
            key = row.code or row.uscc
            union = known or created.get(key) or self._new_union(row, employer)
            if isinstance(union, OrgUnit) and known is None:
                created[key] = union
            found[row.number] = union if isinstance(union, str) else self._usable(union)
        if created:
            session.flush()
            self.result.unions_created += len(created)
        return found

    def _usable(self, union: OrgUnit) -> OrgUnit | str:
        if union.level != "enterprise" or union.parent is None or union.parent.level != "street":
            return f"{union.code} 不是镇（街道）下的基层工会"
        if not self.principal.sees(union.parent.path):
            return f"工会 {union.code} 不在本单位范围内"
        return union

    def _new_union(self, row: _Row, employer: Employer | None) -> OrgUnit | str:
        """A union not in the org tree yet: created under its street, and its employer marked unionised."""
        street = self.streets.get(row.street) if row.street else (employer.street_unit if employer else None)
        if street is None:
            return (f"未知的镇街“{row.street}”" if row.street else
                    "组织架构中没有该工会，且未填所属镇街（或统一社会信用代码不在参保名单中）")
        if not self.principal.sees(street.path):
            return f"{street.name}不在本单位范围内"
        name = row.name or (f"{employer.name}工会" if employer else "")
        if not name or not (row.code or row.uscc):
            return "组织架构中没有该工会；新建须填写工会名称，以及工会代码或统一社会信用代码"
        name = name if name.endswith("工会") else f"{name}工会"
        code = row.code or f"{street.code}-{row.uscc.lower()}"
        if len(code) > 64:
            return "工会代码超过 64 个字符"
        unit = OrgUnit(code=code, name=name[:200], level="enterprise", parent=street, parent_id=street.id,
                       path=f"{street.path}{code}/", uscc=row.uscc, created_at=self.now)
        self.session.add(unit)
        if employer is not None and employer.union_status == "none":
            employer.union_status, employer.union_unit, employer.updated_at = "single", unit, self.now
        return unit
