"""``gonghui seed-demo --story``: a lived-in year of the 城东街道 pilot, told through the use cases and the
sweep (never by writing report rows), so that a newcomer's first look at 统计 is a working federation:

- union formation: 53 new unions (51 single, 2 joint) covering 91 employers and over 3,600 workers — a roster
  imported in January, each formation case walked from 告知 to 批准;
- mediation: 1,336 visitors registered, 776 accepted, ¥14,108,000 involved, 754 concluded (调处结案率 97.2 %),
  735 agreements (调解成功率 97.5 %), 22 still mediating (escalated by the sweep when overdue);
- eleven worker reports at one enterprise (社会保险、劳动安全、加班工资、用工问题), handled by its union.

The year runs from 5 January of the current year to three weeks before now; the sweep then fires what fell due.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from stdnum.cn import uscc

from api import roster
from api.auth import Principal
from api.cases import FireRequest, OpenRequest, fire_event, open_case
from api.deadlines import SHANGHAI
from api.models import Case, Employer, User
from workflow.engine import Engine

VISITORS, ACCEPTED, AGREEMENTS, CONCLUDED, STILL_MEDIATING = 1336, 776, 735, 754, 22
AMOUNT_INVOLVED = Decimal("14108000.00")
SINGLE_UNIONS, JOINT_UNIONS, JOINT_MEMBERS = 51, 2, 19     # 51 + 2 × (1 + 19) = 91 employers covered
REPORTS = [("social_insurance", "未按实际工资基数缴纳社会保险"), ("safety", "车间消防通道被货物堵塞"),
           ("overtime_pay", "连续三个月加班未支付加班工资"), ("employment", "未签订书面劳动合同"),
           ("social_insurance", "新入职员工三个月未参保"), ("safety", "冲压岗位防护装置缺失"),
           ("overtime_pay", "周末加班按平时工资计算"), ("employment", "试用期超过法定期限"),
           ("social_insurance", "离职后社保未及时转移"), ("safety", "高温作业未发放防暑用品"),
           ("overtime_pay", "夜班补贴被取消")]
DISPUTES = ["wages", "overtime", "social_insurance", "injury", "termination", "other"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀英华"


class StoryRefused(RuntimeError):
    """The database already holds cases: the story is told on an empty one only."""


@dataclass
class Told:
    mediation: int = 0
    unions: int = 0
    reports: int = 0
    swept: int = 0

    def summary(self) -> str:
        return (f"演示故事已生成：调解案件 {self.mediation} 件，新建工会 {self.unions} 家，职工反映 {self.reports} 件，"
                f"到期处理 {self.swept} 项")


def credit_code(serial: int) -> str:
    """A valid unified social credit code (the organisation code's and the 18th check characters)."""
    body = f"{serial:08d}"
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    remainder = 11 - sum(int(ch) * weight for ch, weight in zip(body, weights, strict=True)) % 11
    stem = "91331081" + body + ("X" if remainder == 10 else "0" if remainder == 11 else str(remainder))
    return stem + uscc.calc_check_digit(stem)


def person(index: int) -> str:
    return SURNAMES[index % len(SURNAMES)] + GIVEN[(index * 7) % len(GIVEN)] + GIVEN[(index * 3 + 1) % len(GIVEN)]


def amounts(count: int, total: Decimal) -> list[Decimal]:
    """``count`` amounts in whole hundreds that add up to ``total`` exactly."""
    values = [Decimal(3000 + (index * 7919) % 15000).quantize(Decimal("100")) for index in range(count - 1)]
    values.append(total - sum(values, Decimal("0")))
    assert values[-1] > 0
    return values


class Story:
    def __init__(self, session: Session, engine: Engine, now: datetime) -> None:
        self.session, self.engine, self.now = session, engine, now
        local = now.astimezone(SHANGHAI)
        self.start = datetime.combine(local.date().replace(month=1, day=5), time(9), SHANGHAI)
        self.end = max(local - timedelta(days=21), self.start + timedelta(days=1))
        self.people = {user.username: Principal.of(user) for user in session.scalars(sa.select(User))}
        self.names: dict[str, str] = {}

    def at(self, index: int, count: int) -> datetime:
        """The ``index``-th of ``count`` moments spread over the year, in working hours."""
        span = (self.end - self.start).total_seconds()
        moment = self.start + timedelta(seconds=span * index / max(count - 1, 1))
        return moment.replace(hour=9 + index % 8, minute=(index * 13) % 60)

    def fire(self, who: str, case: Case, event: str, data: dict[str, Any], at: datetime) -> None:
        fire_event(self.session, self.engine, self.people[who], case,
                            FireRequest(event=event, data=data), at)

    def open(self, who: str, key: str, data: dict[str, Any], at: datetime) -> Case:
        return open_case(self.session, self.engine, self.people[who],
                                  OpenRequest(key, None, data), at)

    # ---- mediation ---------------------------------------------------------------------------------------

    def mediation(self, commit: Callable[[], None]) -> int:
        """Who mediates each visitor's case: agreements, failures and withdrawals, cases still open, and
        registrations not accepted, interleaved over the year."""
        plan = (["agree"] * AGREEMENTS + ["fail"] * 12 + ["withdraw"] * (CONCLUDED - AGREEMENTS - 12)
                + ["reject"] * (VISITORS - ACCEPTED))
        plan = [plan[(index * 577) % len(plan)] for index in range(len(plan))]   # 577 is prime to 1,314
        plan += ["mediate"] * STILL_MEDIATING      # the last of the year, at the enterprise union, still open
        money = amounts(VISITORS, AMOUNT_INVOLVED)
        for index, outcome in enumerate(plan):
            opened = self.at(index, VISITORS)
            who = "ent_clerk" if outcome == "mediate" else "chengdong_mediator"
            case = self.open(who, "mediation_case", {
                "applicants": [{"name": person(index), "phone": f"139{index:08d}"}],
                "respondent": {"name": f"温岭市城东{index % 97 + 1}号企业有限公司"},
                "dispute_type": DISPUTES[index % len(DISPUTES)], "claims": "支付拖欠的劳动报酬及经济补偿",
                "amount": f"{money[index]:.2f}", "channel": "visit" if index % 5 else "phone"}, opened)
            if outcome == "reject":
                self.fire(who, case, "reject", {"reason": "不属于劳动争议调解受理范围，已告知向有关部门反映"},
                          opened + timedelta(hours=2))
            else:
                self.fire(who, case, "accept", {"mediator": self._mediator(who)}, opened + timedelta(hours=1))
                self._conclude(who, case, outcome, opened)
            if index % 200 == 199:
                commit()
        return len(plan)

    def _mediator(self, who: str) -> str:
        if who not in self.names:
            user = self.session.scalar(sa.select(User).where(User.username == who))
            self.names[who] = user.display_name if user is not None and user.display_name else "调解员"
        return self.names[who]

    def _conclude(self, who: str, case: Case, outcome: str, opened: datetime) -> None:
        if outcome == "agree":
            self.fire(who, case, "agree", {"agreement": {
                "terms": "用人单位分两期支付拖欠款项", "amount": f"{(case.amount or Decimal(0)) * Decimal('0.8'):.2f}",
                "perform_by": (opened + timedelta(days=20)).astimezone(SHANGHAI).date().isoformat()}},
                opened + timedelta(days=2))
            if case.id % 20:       # most agreements are performed; the rest are watched until their date
                self.fire(who, case, "fulfil", {}, opened + timedelta(days=9))
        elif outcome in ("fail", "withdraw"):
            reason = "双方分歧较大，调解不成，告知申请仲裁" if outcome == "fail" else "申请人与单位自行和解，撤回申请"
            self.fire(who, case, outcome, {"reason": reason}, opened + timedelta(days=3))

    # ---- union formation ---------------------------------------------------------------------------------

    def unions(self) -> int:
        """A roster of 城东街道 imported in January opens the single unions' cases; two joint unions gather
        the small employers; each case goes from notice to approval."""
        single = [(credit_code(31_000_000 + index), f"温岭市城东{person(index)}机械有限公司", 26 + (index * 37) % 95)
                  for index in range(SINGLE_UNIONS)]
        small = [(credit_code(32_000_000 + index), f"城东{person(index + 60)}小微企业", 8 + (index * 5) % 16)
                 for index in range(JOINT_UNIONS * (1 + JOINT_MEMBERS))]
        lines = ["统一社会信用代码,单位名称,所属镇街,行业,参保人数,成立日期,是否已建会"]
        lines += [f"{code},{name},城东街道,机械制造,{staff},2012-03-01,否" for code, name, staff in single + small]
        imported = self.start.replace(hour=9)
        roster.import_roster(self.session, self.engine, self.people["chengdong_clerk"],
                             roster.rows_of("roster.csv", io.BytesIO("\n".join(lines).encode())), imported)
        cases = [self.session.get(Case, employer.formation_case_id) for employer in self.session.scalars(
            sa.select(Employer).where(Employer.uscc.in_([code for code, _, _ in single])).order_by(Employer.uscc))]
        for group in range(JOINT_UNIONS):
            lead, *members = small[group * (1 + JOINT_MEMBERS):(group + 1) * (1 + JOINT_MEMBERS)]
            cases.append(self.open("chengdong_clerk", "union_formation", {
                "kind": "joint", "enterprise": {"uscc": lead[0], "name": lead[1]},
                "members": [code for code, _, _ in members], "source": "roster"}, imported + timedelta(days=3)))
        for index, case in enumerate(cases):
            assert case is not None
            begun = self.at(index * 20, len(cases) * 20 + 200)
            notice_date = begun.astimezone(SHANGHAI).date().isoformat()
            steps: list[tuple[str, dict[str, Any]]] = [("notify", {"notice_date": notice_date}),
                     ("start_preparation", {"leader": person(index + 200), "prep_group": [person(index + 300),
                                                                                          person(index + 400)]}),
                     ("open_registration", {}), ("call_election", {"members_registered": 20 + index % 30}),
                     ("report_election", {"chair": person(index + 200), "committee": [person(index + 500),
                                                                                       person(index + 600)]}),
                     ("approve", {"approval_no": f"温城工〔{begun.year}〕{index + 1}号"})]
            for step, (event, data) in enumerate(steps):
                self.fire("chengdong_clerk", case, event, data, begun + timedelta(days=3 * step))
        return len(cases)

    # ---- worker reports ----------------------------------------------------------------------------------

    def reports(self) -> int:
        """Eleven reports about one enterprise, routed to its union, most of them handled and resolved."""
        for index, (category, description) in enumerate(REPORTS):
            made = self.at(index * 90 + 40, len(REPORTS) * 90 + 60)
            case = self.open("chengdong_clerk", "worker_report", {
                "employer": "温岭市东海鞋业有限公司", "category": category, "description": description,
                "channel": "operator"}, made)
            if index < 9:
                self.fire("ent_clerk", case, "acknowledge", {}, made + timedelta(hours=3))
                self.fire("ent_clerk", case, "start_handling", {}, made + timedelta(days=1))
            if index < 7:
                self.fire("ent_clerk", case, "serve_opinion", {"opinion": "请企业十五个工作日内整改并书面答复"},
                          made + timedelta(days=2))
                self.fire("ent_clerk", case, "resolve", {"feedback": "企业已整改，职工确认"}, made + timedelta(days=8))
        return len(REPORTS)


def tell(session: Session, engine: Engine, now: datetime, sweep: Callable[[datetime], int],
         commit: Callable[[], None]) -> Told:
    """Tell the story on a database holding the demo data and no case; ``sweep(at)`` fires what fell due."""
    if session.scalar(sa.select(sa.func.count()).select_from(Case)):
        raise StoryRefused("数据库中已有案件：演示故事只在只有演示数据的空库上生成")
    story = Story(session, engine, now)
    told = Told()
    told.unions = story.unions()
    commit()
    told.reports = story.reports()
    commit()
    told.mediation = story.mediation(commit)
    commit()
    told.swept = sweep(now)
    return told


def tell_in_app(app: Any, now: datetime) -> Told:
    """The story in the app's database, committed as it goes (the sweep in its own transactions)."""
    from api.extensions import current_session, db
    from api.sweep import sweep_due

    engine = app.extensions["gonghui.engine"]
    try:
        told = tell(current_session(), engine, now, lambda at: len(sweep_due(lambda: Session(db.engine), engine, at)),
                    db.session.commit)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return told
