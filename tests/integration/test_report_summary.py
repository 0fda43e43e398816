"""The report summary is kept by the transaction that changes a case, whatever writes it: after random casework
(openings, events, sweeps that escalate and flag overdue, set-wise updates as a definition migration makes,
deletes) ``gonghui reports verify`` agrees with a recount from the cases, and every lifecycle's report read from
the summary equals the same report computed straight from the cases (``tests/report_oracle.py``), at city and
street scope, for any period; compaction changes no total."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import Api, mediation_data

REASON = {"reason": "情况说明"}
EVENT_DATA: dict[str, dict[str, Any]] = {
    "accept": {"mediator": "李调解"}, "reject": REASON, "fail": REASON, "withdraw": REASON, "decline": REASON,
    "reopen": REASON, "escalate": REASON, "extend": {"parties_consent": True, "days": 5},
    "agree": {"agreement": {"terms": "分两期支付", "amount": "8000.00", "perform_by": "2026-12-31"}},
    "serve_opinion": {"opinion": "责令限期整改"}, "refer": {"offices": ["labour"]}, "resolve": {"feedback": "已解决"},
}
# who acts for a case at each unit, tried in turn
ACTORS = {"chengdong": ["chengdong_mediator", "chengdong_clerk"], "wenling": ["city_clerk"],
          "cd-e001": ["ent_clerk"], "daxi": ["daxi_clerk"]}
CATEGORIES = ["social_insurance", "safety", "overtime_pay", "employment", "wage_arrears"]
KINDS = ["wages", "overtime", "social_insurance", "injury", "termination", "other"]
PERIODS = [(None, None), (date(2026, 10, 1), date(2026, 12, 31)), (date(2026, 10, 17), date(2027, 1, 9)),
           (date(2026, 11, 24), date(2026, 11, 24)), (date(2026, 12, 1), None), (None, date(2026, 11, 30)),
           # month rows less the days left out (the casework opens cases on Nov 24-25 and Dec 4, 8, 17, 21)
           (date(2026, 12, 5), date(2026, 12, 31)), (date(2026, 11, 2), date(2026, 11, 24)),
           (date(2026, 11, 2), date(2026, 12, 20)), (None, date(2026, 12, 20)),
           # ten-day rows, whole and less their days left out
           (date(2026, 12, 1), date(2026, 12, 20)), (date(2026, 11, 21), date(2026, 12, 9)),
           (date(2026, 12, 3), date(2026, 12, 25))]


def _open(api: Api, rng: random.Random) -> None:
    if rng.random() < 0.6:
        unit, user = rng.choice([("chengdong", "chengdong_mediator"), ("cd-e001", "ent_clerk"),
                                 ("wenling", "city_clerk")])
        api.open_case(user, "mediation_case", mediation_data(
            dispute_type=rng.choice(KINDS), amount=f"{rng.randrange(100, 90000)}.{rng.randrange(100):02d}"))
    else:
        api.open_case("chengdong_clerk", "worker_report", {
            "employer": "温岭市东海鞋业有限公司", "category": rng.choice(CATEGORIES), "description": "反映的问题",
            "channel": "operator"})


def _step(api: Api, rng: random.Random, case_ids: list[int]) -> None:
    case_id = rng.choice(case_ids)
    case = api.get(f"/cases/{case_id}", "city_clerk").get_json()
    events = case.get("allowed_events") or []
    allowed = [event for event in (events if isinstance(events, list) else []) if isinstance(event, str)]
    if not allowed or case.get("closed"):
        return
    event = rng.choice(allowed)
    for user in ACTORS.get(case["org_unit"], ["city_clerk"]):
        if api.fire(case_id, event, user, EVENT_DATA.get(event, {})).status_code == 200:
            return


def _case_ids(app: Flask) -> list[int]:
    from api.extensions import db
    from api.models import Case

    with app.app_context():
        return list(db.session.scalars(sa.select(Case.id)))


def _sweep(app: Flask, clock: Any) -> None:
    from sqlalchemy.orm import Session

    from api.extensions import db
    from api.sweep import sweep_due

    with app.app_context():
        sweep_due(lambda: Session(db.engine), app.extensions["gonghui.engine"], clock())


def _migration_like_update(app: Flask, rng: random.Random) -> None:
    """A set-wise write of state and category, as a definition migration's batch does, then a delete."""
    from api.extensions import db
    from api.models import Case

    with app.app_context():
        ids = list(db.session.scalars(sa.select(Case.id).where(Case.definition_key == "mediation_case",
                                                               sa.not_(Case.closed))))
        chosen = rng.sample(ids, min(3, len(ids)))
        db.session.execute(sa.update(Case).where(Case.id.in_(chosen))
                           .values(category="other", version=Case.version + 1), execution_options={
                               "synchronize_session": False})
        db.session.execute(sa.update(Case.__table__).where(Case.id.in_(chosen[:1])).values(overdue=True))
        db.session.commit()


def _delete_a_case(app: Flask) -> None:
    """A case with no rows pointing at it, inserted then deleted (as a purge would): its deltas cancel."""
    from api.extensions import db
    from api.models import Case

    with app.app_context():
        row = db.session.execute(sa.select(Case.__table__).order_by(Case.id.desc()).limit(1)).mappings().one()
        copy = {**row, "id": row["id"] + 1000, "number": f"{row['number']}-X", "escalations": 2}
        db.session.execute(sa.insert(Case.__table__), [copy])
        db.session.commit()
        db.session.execute(sa.update(Case.__table__).where(Case.id == copy["id"]).values(state="closed", closed=True,
                                                                                           due_at=None))
        db.session.execute(sa.delete(Case.__table__).where(Case.id == copy["id"]))
        db.session.commit()


def _casework(api: Api, app: Flask, clock: Any, seed: int, rounds: int = 6) -> None:
    rng = random.Random(seed)
    for round_ in range(rounds):
        for _ in range(6):
            _open(api, rng)
        ids = _case_ids(app)
        for _ in range(14):
            _step(api, rng, ids)
        clock.advance(days=rng.choice([1, 4, 9, 17]))   # deadlines pass: the sweep escalates and flags overdue
        _sweep(app, clock)
        if round_ % 2:
            _migration_like_update(app, rng)
    _delete_a_case(app)


def _verify(app: Flask) -> list[Any]:
    from api.extensions import db
    from api.lifecycles import registry
    from api.report_summary import verify

    with app.app_context():
        try:
            return verify(db.session, {key: plugin.milestones for key, plugin in registry().items()})
        finally:
            db.session.rollback()


def _reports_agree_with_the_oracle(app: Flask) -> int:
    from api.extensions import db
    from api.lifecycles import context, registry
    from api.reports import ReportScope
    from tests.report_oracle import REPORTS

    compared = 0
    with app.app_context():
        engine = app.extensions["gonghui.engine"]
        for key, straight in REPORTS.items():
            hooks = context(db.session, engine, key, None, app.config["CLOCK"]())
            for path in ("wenling/", "wenling/chengdong/", "wenling/daxi/"):
                for start, end in PERIODS:
                    scope = ReportScope(key, path, start, end)
                    summary = registry()[key].report(db.session, scope, hooks)   # type: ignore[misc]
                    assert summary == straight(db.session, scope, hooks), (key, path, start, end)
                    compared += 1
        db.session.rollback()
    return compared


@pytest.fixture
def worked(api: Api, fresh: Flask, clock: Any) -> Flask:
    _casework(api, fresh, clock, seed=7)
    return fresh


def test_random_casework_keeps_the_summary_equal_to_a_recount_and_the_reports_to_the_straight_ones(
        worked: Flask) -> None:
    from api.extensions import db
    from api.models import Case, ReportSummary

    with worked.app_context():
        cases = db.session.scalar(sa.select(sa.func.count()).select_from(Case))
        escalated = db.session.scalar(sa.select(sa.func.count()).where(Case.escalations > 0))
        moved = db.session.scalar(sa.select(sa.func.count()).where(Case.milestones != ""))
        deltas = db.session.scalar(sa.select(sa.func.count()).select_from(ReportSummary).where(ReportSummary.n < 0))
    assert cases >= 30 and escalated and moved and deltas   # the walk reached escalations, milestones, deltas
    assert _verify(worked) == []
    assert _reports_agree_with_the_oracle(worked) == 5 * 3 * len(PERIODS)


def test_compaction_folds_the_deltas_and_changes_no_figure(worked: Flask) -> None:
    from api.extensions import db
    from api.models import ReportSummary
    from api.report_summary import compact

    def snapshot() -> tuple[int, list[Any]]:
        with worked.app_context():
            rows = db.session.scalar(sa.select(sa.func.count()).select_from(ReportSummary))
            table = ReportSummary.__table__
            keys = [column for column in table.c if column.name not in ("id", "n", "amount_cents")]
            sums = sorted(map(tuple, db.session.execute(
                sa.select(*keys, sa.func.sum(table.c.n), sa.func.sum(table.c.amount_cents)).group_by(*keys)
                .having(sa.func.sum(table.c.n) != 0))))
            db.session.rollback()
        return rows, sums

    before, totals = snapshot()
    with worked.app_context():
        result = compact(db.session)
        db.session.commit()
        assert compact(db.session).rows_folded == 0   # folded already: nothing left to fold
        db.session.commit()
    after, totals_after = snapshot()
    assert result.rows_folded > result.rows_written and after == before - result.rows_folded + result.rows_written
    assert totals_after == totals and _verify(worked) == []
    assert _reports_agree_with_the_oracle(worked) == 5 * 3 * len(PERIODS)


def test_verify_names_each_difference_and_exits_1(worked: Flask) -> None:
    from api.commands.reports import reports_group
    from api.extensions import db
    from api.models import Case, ReportSummary

    runner = worked.test_cli_runner()
    agreed = runner.invoke(reports_group, ["verify"])
    assert agreed.exit_code == 0 and "agrees" in agreed.output
    with worked.app_context():   # a row the triggers did not write, and a milestone the history does not hold
        first = sa.select(sa.func.min(ReportSummary.id)).scalar_subquery()
        db.session.execute(sa.update(ReportSummary).where(ReportSummary.id == first).values(n=ReportSummary.n + 1))
        number = db.session.scalar(sa.select(Case.number).where(Case.definition_key == "mediation_case",
                                                                Case.milestones == "").limit(1))
        db.session.execute(sa.update(Case.__table__).where(Case.number == number).values(milestones="agree"))
        db.session.commit()
    disagreed = runner.invoke(reports_group, ["verify"])
    assert disagreed.exit_code == 1
    assert "the cases count" in disagreed.output and f"case {number}" in disagreed.output
    assert "2 difference(s)" in disagreed.output or "3 difference(s)" in disagreed.output
    compacted = runner.invoke(reports_group, ["compact"])
    assert compacted.exit_code == 0 and "folded" in compacted.output


def test_an_event_sets_the_milestones_in_the_declared_order(api: Api, fresh: Flask) -> None:
    from api.cases.firing import reached

    assert reached(("accept", "agree"), "agree", "accept") == "accept,agree"
    assert reached(("accept", "agree"), "accept", "extend") == "accept"
    assert reached(("acknowledge", "resolve", "reopen"), None, "resolve") == "resolve"
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    for event in ("accept", "agree"):
        assert api.fire(case["id"], event, "chengdong_mediator", EVENT_DATA[event]).status_code == 200
    from api.extensions import db
    from api.models import Case

    with fresh.app_context():
        assert db.session.scalar(sa.select(Case.milestones).where(Case.id == case["id"])) == "accept,agree"


def test_a_period_reads_whole_months_from_month_rows_and_the_fewest_ten_days_and_days_at_its_edges() -> None:
    from api.reports import Span, spans

    assert spans(None, None) == [Span("m", None, None)]
    assert spans(date(2026, 10, 1), date(2026, 12, 31)) == [Span("m", date(2026, 10, 1), date(2027, 1, 1))]
    assert spans(date(2026, 10, 21), date(2027, 1, 10)) == [   # whole ten days at both edges
        Span("m", date(2026, 11, 1), date(2027, 1, 1)), Span("t", date(2026, 10, 21), date(2026, 11, 1)),
        Span("t", date(2027, 1, 1), date(2027, 1, 11))]
    assert spans(date(2026, 10, 17), date(2027, 1, 8)) == [    # and the days covered, or ten days less the rest
        Span("m", date(2026, 11, 1), date(2027, 1, 1)), Span("t", date(2026, 10, 21), date(2026, 11, 1)),
        Span("t", date(2027, 1, 1), date(2027, 1, 11)), Span("d", date(2026, 10, 17), date(2026, 10, 21)),
        Span("d", date(2027, 1, 9), date(2027, 1, 11), -1)]
    assert spans(date(2026, 10, 3), date(2026, 12, 29)) == [   # whole months less the days left out
        Span("m", date(2026, 10, 1), date(2027, 1, 1)), Span("d", date(2026, 10, 1), date(2026, 10, 3), -1),
        Span("d", date(2026, 12, 30), date(2027, 1, 1), -1)]
    assert spans(date(2026, 11, 3), date(2026, 11, 20)) == [   # within a month: ten days, less two days
        Span("t", date(2026, 11, 1), date(2026, 11, 21)), Span("d", date(2026, 11, 1), date(2026, 11, 3), -1)]
    assert spans(date(2026, 11, 3), date(2026, 11, 3)) == [Span("d", date(2026, 11, 3), date(2026, 11, 4))]
    assert spans(date(2026, 2, 21), date(2026, 2, 28)) == [Span("t", date(2026, 2, 21), date(2026, 3, 1))]
    assert spans(date(2026, 12, 1), None) == [Span("m", date(2026, 12, 1), None)]
    assert spans(None, date(2026, 11, 20)) == [Span("m", None, date(2026, 11, 1)),
                                               Span("t", date(2026, 11, 1), date(2026, 11, 21))]
    assert spans(date(2026, 11, 3), date(2026, 11, 2)) == []


def _days_counted(chosen: list[Any], first: date, last: date) -> dict[date, int]:
    """How many times the spans count each day (unbounded spans cut to [first, last))."""
    from datetime import timedelta

    from api.reports import period_of

    counted: dict[date, int] = {}
    for span in chosen:
        day = span.start or first
        assert period_of(span.grain, day) == day   # a span starts at a period of its grain
        while day < (span.end or last):
            counted[day] = counted.get(day, 0) + span.sign
            day += timedelta(days=1)
        assert period_of(span.grain, day) == day   # and ends at one
    return {day: times for day, times in counted.items() if times}


def test_every_period_counts_each_of_its_days_once_and_reads_few_ten_days_and_days() -> None:
    from datetime import timedelta

    from api.reports import spans

    rng = random.Random(5)
    first, last = date(2024, 1, 1), date(2029, 1, 1)
    for _ in range(600):
        start = date(2025, 1, 1) + timedelta(days=rng.randrange(3 * 365))
        end = start + timedelta(days=rng.randrange(-2, 420))
        date_from, date_to = rng.choice([start, start, None]), rng.choice([end, end, None])
        chosen = spans(date_from, date_to)
        expected: dict[date, int] = {}
        day = date_from or first
        while day <= (date_to or last - timedelta(days=1)):
            expected[day] = 1
            day += timedelta(days=1)
        assert _days_counted(chosen, first, last) == expected, (date_from, date_to, chosen)
        fine = [span.periods() for span in chosen if span.grain != "m"]
        assert sum(fine) <= 14 and len(chosen) <= 7, (date_from, date_to, chosen)


def test_the_scheduler_compacts_the_summary(worked: Flask) -> None:
    from api.scheduler import run_report_compaction

    assert run_report_compaction(worked) > 0 and run_report_compaction(worked) == 0
    assert _verify(worked) == []
