"""Definitions deployed while cases run: deploy (and its dry run and diff), the versions with their open cases,
migrating open cases with their deadlines recounted, the holiday schedule's dry run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from api import definition_migrations, definition_store
from api.auth import Principal
from api.cases import open_many
from api.extensions import db
from api.history import history_of
from api.models import Case, CaseHistory, Timer, User
from api.models_definitions import DefinitionMigration, DefinitionVersion
from tests.conftest import Api, FrozenClock, mediation_data, shanghai

ROOT = Path(__file__).resolve().parents[2]
V1 = (ROOT / "definitions" / "mediation_case.v1.yaml").read_text(encoding="utf-8")
ADMIN = "city_admin"
ENT = "ent_clerk"


def mediation_v2(text: str = V1, *, registered_days: int = 5, version: int = 2) -> str:
    """mediation_case with ``registered`` lengthened to ``registered_days`` working days."""
    assert "version: 1\n" in text and "period: {working_days: 3}" in text
    return text.replace("version: 1\n", f"version: {version}\n").replace(
        "period: {working_days: 3}", f"period: {{working_days: {registered_days}}}")


def deploy(api: Api, text: str, *, dry_run: bool = False, as_: str = ADMIN) -> Any:
    query = "?dry_run=true" if dry_run else ""
    return api.client.post(f"/api/v1/admin/definitions{query}", data=text.encode("utf-8"),
                           headers=api.headers(as_, {"Content-Type": "application/yaml"}))


def migrate(api: Api, body: dict[str, Any], key: str = "mediation_case") -> Any:
    return api.post(f"/admin/definitions/{key}/migrations", ADMIN, body)


@pytest.fixture(autouse=True)
def back_to_the_files(app: Flask) -> Iterator[None]:
    """Each test ends with the engine holding the files' versions only, as the other tests expect."""
    yield
    with app.app_context():
        db.session.execute(sa.delete(DefinitionVersion))
        db.session.commit()
        definition_store.refresh(app, db.session)
        app.extensions["gonghui.engine"].calendar.unload()


def open_cases(app: Flask, moments: list[datetime], per_moment: int) -> None:
    """``per_moment`` unaccepted mediation cases at an enterprise opened at each instant."""
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == ENT))
        principal = Principal.of(user)
        engine = app.extensions["gonghui.engine"]
        for moment in moments:
            open_many(db.session, engine, principal, "mediation_case",
                               [("cd-e001", mediation_data())] * per_moment, moment)
        db.session.commit()


def audit_passes(app: Flask) -> None:
    from api.commands.audit import audit

    result = app.test_cli_runner().invoke(audit, ["verify"])
    assert result.exit_code == 0, result.output


# ---- the done-test --------------------------------------------------------------------------------------

def test_registered_lengthened_to_five_working_days_moves_a_thousand_open_cases_each_due_by_the_calendar(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    from workflow.calendar import add_days, add_working_days

    working_days = fresh.extensions["gonghui.engine"].calendar

    # 1,000 open cases opened over three weeks (weekends and the turn of the year among them), 40 accepted
    moments = [shanghai(2026, 11, 24 + day, 9 + day % 8) for day in range(7)]
    moments += [shanghai(2026, 12, day, 15) for day in (4, 5, 11, 24, 28, 29, 30)]
    open_cases(fresh, moments, 1000 // len(moments))
    remainder = 1000 - (1000 // len(moments)) * len(moments)
    open_cases(fresh, [shanghai(2026, 12, 31, 11)], remainder)
    clock.set(shanghai(2026, 12, 31, 12))
    accepted = list(range(1, 41))
    for case_id in accepted:
        assert api.fire(case_id, "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200
    assert api.get("/definitions/mediation_case/versions", ENT).get_json() == [
        {"key": "mediation_case", "version": 1, "title": "劳动人事争议调解", "latest": True, "open_cases": 1000,
         "sha256": None, "deployed_by": None, "deployed_at": None}]

    assert api.get("/worklist", "chengdong_mediator").get_json()   # worked out for the versions known now
    # the dry run of the deploy shows the change in a clerk's words and stores nothing
    preview = deploy(api, mediation_v2(), dry_run=True)
    assert preview.status_code == 200, preview.get_json()
    assert [c["text"] for c in preview.get_json()["changes"]] == ["已登记 的期限 3个工作日 → 5个工作日"]
    assert [v["version"] for v in api.get("/definitions/mediation_case/versions", ENT).get_json()] == [1]

    deployed = deploy(api, mediation_v2())
    assert deployed.status_code == 201, deployed.get_json()
    assert deployed.get_json()["deployed_by"] == ADMIN and deployed.get_json()["previous_version"] == 1
    (registered,) = [state for state in deployed.get_json()["states"] if state["name"] == "registered"]
    assert registered["deadline"]["periods"] == {"*": {"working_days": 5}}
    assert api.get("/definitions/mediation_case", ENT).get_json()["version"] == 2
    versions = api.get("/definitions/mediation_case/versions", ENT).get_json()
    assert [(v["version"], v["open_cases"], v["latest"]) for v in versions] == [(1, 1000, False), (2, 0, True)]

    plan = {"from_version": 1, "to_version": 2, "state_map": {}, "recount_deadlines": True}
    dry = migrate(api, {**plan, "dry_run": True})
    assert dry.status_code == 200, dry.get_json()
    listed = dry.get_json()["cases"]
    assert dry.get_json()["count"] == len(listed) == 1000
    with fresh.app_context():
        before = {case.id: (case.state, case.due_at, case.version) for case in db.session.scalars(sa.select(Case))}
        assert all(c.definition_version == 1 for c in db.session.scalars(sa.select(Case)))
    for item in listed:   # nothing moved by the dry run; the old due date is the one each case has
        assert before[item["id"]][0] == item["old_state"] == item["new_state"]
        assert datetime.fromisoformat(item["old_due_at"]) == before[item["id"]][1]

    done = migrate(api, {**plan, "dry_run": False})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["count"] == 1000 and done.get_json()["conflicts"] == []
    assert [c["new_due_at"] for c in done.get_json()["cases"]] == [c["new_due_at"] for c in listed]

    with fresh.app_context():
        cases = list(db.session.scalars(sa.select(Case).order_by(Case.id)))
        timers = {t.case_id: t for t in db.session.scalars(sa.select(Timer).where(Timer.status == "pending"))}
        migrations = Counter(db.session.scalars(sa.select(CaseHistory.case_id).where(CaseHistory.event == "migrate")))
        entries = {row.case_id: row for row in db.session.scalars(
            sa.select(CaseHistory).where(CaseHistory.event == "migrate"))}
        for case in cases:
            assert case.definition_version == 2 and migrations[case.id] == 1
            assert case.version == before[case.id][2] + 1
            if case.id in accepted:   # 15 days from the opening, as before: only `registered` changed
                expected = add_days(working_days, case.created_at, 15)
                assert case.state == "mediating" and case.due_at == before[case.id][1]
            else:                     # 5 working days from the registration, on the working-day calendar
                expected = add_working_days(working_days, case.created_at, 5)
                assert case.state == "registered"
            assert case.due_at == expected.at and case.due_provisional == expected.provisional
            assert timers[case.id].due_at == case.due_at and timers[case.id].state == case.state
            entry = entries[case.id]
            assert entry.data["from_version"] == 1 and entry.data["to_version"] == 2
            assert datetime.fromisoformat(entry.data["new_due_at"]) == case.due_at
            assert datetime.fromisoformat(entry.data["old_due_at"]) == before[case.id][1]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Timer).where(
            Timer.status == "pending")) == 1000
        record = db.session.scalar(sa.select(DefinitionMigration))
        assert (record.status, record.moved, record.requested_by) == ("done", 1000, ADMIN)
    # a registered case now has five working days: opened Tuesday 2026-11-24 09:00 → due at the end of 12-01
    assert api.get("/cases/41", ENT).get_json()["due_at"] == "2026-12-02T00:00:00+08:00"
    audit_passes(fresh)
    versions = api.get("/definitions/mediation_case/versions", ENT).get_json()
    assert [(v["version"], v["open_cases"]) for v in versions] == [(1, 0), (2, 1000)]
    # migrated cases go on under v2 (and are in the worklist), and new cases start on v2
    worklist = api.get("/worklist", "chengdong_mediator").get_json()
    assert worklist and {c["definition_version"] for c in worklist} == {2}
    assert api.fire(42, "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200
    assert api.open_case(ENT, "mediation_case", mediation_data())["definition_version"] == 2
    assert migrate(api, {**plan, "dry_run": True}).get_json()["count"] == 0


# ---- deploying ------------------------------------------------------------------------------------------

def test_an_invalid_definition_is_refused_with_every_fault_and_its_line_and_nothing_is_stored(
        fresh: Flask, api: Api) -> None:
    broken = mediation_v2().replace("to: mediating\n    roles: [mediator, clerk]\n    requires: [mediator]",
                                    "to: nowhere\n    roles: [mediator, chief]\n    requires: [mediator]")
    response = deploy(api, broken)
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    faults = response.get_json()["errors"]["definition"]
    assert any("line" in fault and "'nowhere'" in fault for fault in faults)
    assert any("line" in fault and "'chief'" in fault for fault in faults)
    assert deploy(api, "key: [unclosed").status_code == 422
    assert "line" in deploy(api, "key: x\nkey: y\n").get_json()["errors"]["definition"][0]
    assert deploy(api, "").status_code == 422
    non_utf8 = api.client.post("/api/v1/admin/definitions", data=b"\xff\xfe key", headers=api.headers(ADMIN))
    assert non_utf8.status_code == 422
    with fresh.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DefinitionVersion)) == 0
    assert [v["version"] for v in api.get("/definitions/mediation_case/versions", ENT).get_json()] == [1]


@pytest.mark.parametrize("text", [
    "a: 2026-13-45", "? [1, 2]\n: x", "[" * 3000 + "]" * 3000, "- a\n- b", "&a [*a]",
    mediation_v2().replace("registered", "1"), mediation_v2(version=99999999999999999999),
    mediation_v2().replace("title: 劳动人事争议调解", "title: " + "长" * 201)])
def test_no_text_a_client_can_send_is_a_server_error(api: Api, text: str) -> None:
    response = deploy(api, text)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"]


def test_a_definition_without_its_lifecycle_module_is_refused(api: Api) -> None:
    text = V1.replace("key: mediation_case", "key: strange_case")
    response = deploy(api, text)
    assert response.status_code == 422
    assert "strange_case: no lifecycle plug-in (api/lifecycles/, listed in api/plugins.py)" in \
        response.get_json()["errors"]["definition"]


def test_a_deployed_version_never_changes_the_same_text_again_is_harmless(fresh: Flask, api: Api) -> None:
    assert deploy(api, mediation_v2()).status_code == 201
    again = deploy(api, mediation_v2())
    assert again.status_code == 200 and again.get_json()["created"] is False
    other = deploy(api, mediation_v2(registered_days=7))
    assert other.status_code == 409 and "不能修改" in other.get_json()["detail"]
    # the file's version 1 is deployed too, in effect: another text under its number is a conflict
    assert deploy(api, V1.replace("title: 劳动人事争议调解", "title: 调解")).status_code == 409
    assert deploy(api, V1).status_code == 200
    older = deploy(api, mediation_v2(version=3).replace("version: 3", "version: 3"))
    assert older.status_code == 201
    assert deploy(api, mediation_v2(registered_days=4)).status_code == 409   # v2 exists with another text
    with fresh.app_context():
        rows = list(db.session.scalars(sa.select(DefinitionVersion).order_by(DefinitionVersion.version)))
        assert [(r.key, r.version, r.deployed_by) for r in rows] == [("mediation_case", 2, ADMIN),
                                                                     ("mediation_case", 3, ADMIN)]
        assert rows[0].source == mediation_v2() and rows[0].sha256 == definition_store.sha256(mediation_v2())


def test_a_version_older_than_the_latest_is_refused(api: Api) -> None:
    assert deploy(api, mediation_v2(version=3)).status_code == 201
    response = deploy(api, mediation_v2(version=2))
    assert response.status_code == 422 and "第 3 版" in response.get_json()["detail"]


def test_only_an_administrator_deploys(api: Api) -> None:
    assert deploy(api, mediation_v2(), as_="chengdong_clerk").status_code == 403
    assert deploy(api, mediation_v2(), dry_run=True, as_="chengdong_clerk").status_code == 403


def test_the_dry_run_names_states_events_roles_and_guards_added_removed_and_changed(fresh: Flask, api: Api) -> None:
    text = mediation_v2(registered_days=3).replace(
        "    roles: [mediator, clerk]     # the joint mediation centre's clerk records the signed agreement\n",
        "    roles: [mediator]\n").replace(
        "  breach:\n    label: 未履行协议\n    from: [agreed]\n    to: failed\n    roles: [mediator, clerk]\n", "")
    response = deploy(api, text, dry_run=True)
    assert response.status_code == 200, response.get_json()
    texts = [change["text"] for change in response.get_json()["changes"]]
    assert "事件 达成协议 的办理角色去掉 办事员" in texts
    assert "删除事件 未履行协议（breach）" in texts
    with fresh.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DefinitionVersion)) == 0


def test_a_version_deployed_through_another_process_reaches_this_one_within_a_minute(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    from api import create_app

    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": fresh.config["SQLALCHEMY_DATABASE_URI"],
                        "CLOCK": clock, "PASSWORD_METHOD": "pbkdf2:sha256:1000",
                        "SECRET_KEY": fresh.config["SECRET_KEY"]})
    try:
        seen = Api(other.test_client())
        assert seen.get("/definitions/mediation_case", ENT).get_json()["version"] == 1
        assert deploy(api, mediation_v2()).status_code == 201
        clock.advance(seconds=61)
        assert seen.get("/definitions/mediation_case", ENT).get_json()["version"] == 2
        assert seen.open_case(ENT, "mediation_case", mediation_data())["definition_version"] == 2
        # the sweep process takes it up at its next sweep
        third = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": fresh.config["SQLALCHEMY_DATABASE_URI"],
                            "CLOCK": clock, "SECRET_KEY": fresh.config["SECRET_KEY"]})
        assert third.extensions["gonghui.engine"].catalog.get("mediation_case").version == 2
        with third.app_context():
            db.engine.dispose()
    finally:
        with other.app_context():
            db.engine.dispose()


def test_the_machine_of_a_version_is_built_once_when_it_is_installed(fresh: Flask, api: Api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from workflow.engine import Engine

    built: list[str] = []
    original = Engine._build
    monkeypatch.setattr(Engine, "_build", staticmethod(lambda d: built.append(f"{d.key}.v{d.version}") or original(d)))
    assert deploy(api, mediation_v2()).status_code == 201
    case = api.open_case(ENT, "mediation_case", mediation_data())
    for _ in range(3):
        api.get(f"/cases/{case['id']}", ENT)
    assert api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200
    assert built == ["mediation_case.v2"]


# ---- migrating -----------------------------------------------------------------------------------------

def test_bad_migration_requests_are_refused_naming_every_fault(api: Api) -> None:
    assert deploy(api, mediation_v2()).status_code == 201
    unrelated = migrate(api, {"definition": "worker_report", "from_version": 1, "to_version": 2})
    assert unrelated.status_code == 422 and "definition" in unrelated.get_json()["errors"]
    backwards = migrate(api, {"from_version": 2, "to_version": 1})
    assert backwards.status_code == 422 and "to_version" in backwards.get_json()["errors"]
    same = migrate(api, {"from_version": 1, "to_version": 1})
    assert same.status_code == 422
    unknown = migrate(api, {"from_version": 1, "to_version": 9, "state_map": {"nowhere": "registered"}})
    assert unknown.status_code == 422 and {"to_version", "state_map.nowhere"} <= set(unknown.get_json()["errors"])
    limbo = migrate(api, {"from_version": 1, "to_version": 2, "state_map": {"nowhere": "registered",
                                                                             "mediating": "limbo"}})
    assert limbo.status_code == 422 and set(limbo.get_json()["errors"]) == {"state_map.nowhere", "state_map.mediating"}
    terminal = migrate(api, {"from_version": 1, "to_version": 2, "state_map": {"registered": "closed"}})
    assert terminal.status_code == 422 and "state_map.registered" in terminal.get_json()["errors"]
    assert migrate(api, {"from_version": 1, "to_version": 2}, key="no_such_case").status_code == 404
    assert migrate(api, {"from_version": "x"}).status_code == 422
    assert api.post("/admin/definitions/mediation_case/migrations", "chengdong_clerk",
                    {"from_version": 1, "to_version": 2}).status_code == 403


RENAMED = mediation_v2(registered_days=3).replace("initial: registered", "initial: received").replace(
    "  registered:\n    label: 已登记", "  received:\n    label: 已登记").replace(
    "from: [registered]", "from: [received]").replace("from: [registered, mediating]", "from: [received, mediating]")


def test_a_state_without_a_place_in_the_new_version_refuses_the_migration_until_it_is_mapped(
        fresh: Flask, api: Api) -> None:
    first = api.open_case(ENT, "mediation_case", mediation_data())
    second = api.open_case(ENT, "mediation_case", mediation_data())
    assert api.fire(second["id"], "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200
    assert deploy(api, RENAMED).status_code == 201, deploy(api, RENAMED, dry_run=True).get_json()
    refused = migrate(api, {"from_version": 1, "to_version": 2, "dry_run": True})
    assert refused.status_code == 422
    problem = refused.get_json()
    assert list(problem["errors"]) == ["state_map.registered"] and first["number"] in problem["errors"][
        "state_map.registered"][0]
    assert migrate(api, {"from_version": 1, "to_version": 2}).status_code == 422   # nor the real run
    mapped = migrate(api, {"from_version": 1, "to_version": 2, "state_map": {"registered": "received"}})
    assert mapped.status_code == 200, mapped.get_json()
    moved = {c["number"]: (c["old_state"], c["new_state"], c["new_state_label"]) for c in mapped.get_json()["cases"]}
    assert moved == {first["number"]: ("registered", "received", "已登记"),
                     second["number"]: ("mediating", "mediating", "调解中")}
    case = api.get(f"/cases/{first['id']}", ENT).get_json()
    assert case["state"] == "received" and case["definition_version"] == 2 and "accept" in case["allowed_events"]
    history = api.get(f"/cases/{first['id']}/history", "chengdong_mediator").get_json()
    assert [(h["event"], h["from_state"], h["to_state"]) for h in history] == [
        ("open", None, "registered"), ("migrate", "registered", "received")]
    from tests.api.test_ui_pages import signed_in

    page = signed_in(fresh, "chengdong_mediator")[0].get(f"/cases/{first['id']}")
    assert page.status_code == 200 and "迁移到新版流程" in page.get_data(as_text=True)
    audit_passes(fresh)


def test_cases_whose_data_the_new_version_would_refuse_are_named_and_nothing_moves(fresh: Flask, api: Api) -> None:
    waiting = api.open_case(ENT, "mediation_case", mediation_data())
    working = api.open_case(ENT, "mediation_case", mediation_data())
    assert api.fire(working["id"], "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200
    stricter = mediation_v2().replace("requires: [mediator]", "requires: [mediator, agreement]")
    assert deploy(api, stricter).status_code == 201
    refused = migrate(api, {"from_version": 1, "to_version": 2, "dry_run": True})
    assert refused.status_code == 422
    errors = refused.get_json()["errors"]
    assert list(errors) == [f"cases.{working['number']}"] and "agreement" in errors[f"cases.{working['number']}"][0]
    assert migrate(api, {"from_version": 1, "to_version": 2}).status_code == 422
    for case in (waiting, working):
        assert api.get(f"/cases/{case['id']}", ENT).get_json()["definition_version"] == 1


def test_an_extension_granted_by_hand_stands_through_a_migration(fresh: Flask, api: Api) -> None:
    case = api.open_case(ENT, "mediation_case", mediation_data())
    assert api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200
    extended = api.fire(case["id"], "extend", "chengdong_mediator", {"parties_consent": True, "days": 30})
    assert extended.status_code == 200
    assert deploy(api, mediation_v2().replace("period: {days: 15}", "period: {days: 20}")).status_code == 201
    moved = migrate(api, {"from_version": 1, "to_version": 2}).get_json()["cases"]
    assert moved[0]["new_due_at"] == moved[0]["old_due_at"] == extended.get_json()["due_at"]


def test_a_deadline_counted_from_another_moment_in_the_new_version_is_recounted_from_that_moment(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    case = api.open_case(ENT, "mediation_case", mediation_data())     # Tuesday 2026-11-24 10:00
    clock.set(shanghai(2026, 11, 26, 15))
    accepted = api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"}).get_json()
    assert accepted["due_at"] == "2026-12-10T00:00:00+08:00"          # 15 days from the registration
    assert deploy(api, mediation_v2().replace("      since: case_opened\n", "")).status_code == 201
    moved = migrate(api, {"from_version": 1, "to_version": 2}).get_json()["cases"]
    assert moved[0]["new_due_at"] == "2026-12-12T00:00:00+08:00"      # 15 days from the acceptance


def test_keeping_the_deadlines_moves_the_cases_without_recounting(fresh: Flask, api: Api) -> None:
    case = api.open_case(ENT, "mediation_case", mediation_data())
    assert deploy(api, mediation_v2()).status_code == 201
    result = migrate(api, {"from_version": 1, "to_version": 2, "recount_deadlines": False}).get_json()
    assert result["cases"][0]["new_due_at"] == result["cases"][0]["old_due_at"] == case["due_at"]
    assert api.get(f"/cases/{case['id']}", ENT).get_json()["due_at"] == case["due_at"]


def each_case_is_whole(app: Flask, version: int) -> int:
    """Every open case is either not migrated at all (the old version, no ``migrate`` row, the old clock) or
    wholly (the new version, one ``migrate`` row, one pending deadline timer, its own version matching its
    history); returns how many are at ``version``."""
    with app.app_context():
        moved = 0
        for case in db.session.scalars(sa.select(Case).where(sa.not_(Case.closed))):
            rows = history_of(db.session, case)
            migrated = [row for row in rows if row.event == "migrate"]
            pending = list(db.session.scalars(sa.select(Timer).where(Timer.case_id == case.id,
                                                                      Timer.status == "pending")))
            assert len(migrated) == (case.definition_version == version) and migrated in ([], [rows[-1]])
            assert case.version == len(rows) and case.history_hash == rows[-1].hash
            assert [timer.due_at for timer in pending] == [case.due_at]
            if migrated:
                assert migrated[0].data["to_version"] == version and pending[0].created_at == migrated[0].at
            moved += bool(migrated)
        return moved


@pytest.mark.parametrize("crash_in", ["_write_batch", "_write_rows"])
def test_a_migration_stopped_by_a_crash_is_finished_by_asking_again_and_no_case_moves_twice(
        fresh: Flask, api: Api, clock: FrozenClock, monkeypatch, crash_in: str) -> None:  # type: ignore[no-untyped-def]
    """Killed between two batches (the third read and planned, not yet written; on PostgreSQL the fourth read
    meanwhile), or in the middle of one (its cases updated, their timers and history rows not yet written): the
    batches committed stay, the open one leaves no trace."""
    open_cases(fresh, [shanghai(2026, 11, 24, 9)], 45)
    assert deploy(api, mediation_v2()).status_code == 201
    clock.set(shanghai(2026, 11, 25, 9))
    engine = fresh.extensions["gonghui.engine"]
    original = getattr(definition_migrations, crash_in)
    calls = {"n": 0}

    def killed_at_the_third_batch(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("the process is killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(definition_migrations, crash_in, killed_at_the_third_batch)
    plan_body = {"from_version": 1, "to_version": 2, "state_map": {}, "recount_deadlines": True}
    with fresh.app_context(), pytest.raises(SystemExit):
        plan = definition_migrations.make_plan(engine, "mediation_case", plan_body)
        definition_migrations.run(lambda: sa.orm.Session(db.engine), plan, actor=ADMIN, now=clock(),
                                  batch=10)
    monkeypatch.setattr(definition_migrations, crash_in, original)
    assert calls["n"] == 3
    assert each_case_is_whole(fresh, 2) == 20   # two whole batches; the third rolled back with no case half moved
    with fresh.app_context():
        record = db.session.scalar(sa.select(DefinitionMigration))
        assert (record.status, record.moved) == ("running", 20)
    audit_passes(fresh)
    again = migrate(api, plan_body)
    assert again.status_code == 200 and again.get_json()["resumed"] is True and again.get_json()["count"] == 25
    assert each_case_is_whole(fresh, 2) == 45
    with fresh.app_context():
        record = db.session.scalar(sa.select(DefinitionMigration))
        assert (record.status, record.moved) == ("done", 45)
    audit_passes(fresh)


def test_a_case_a_clerk_keeps_changing_is_reported_and_left_whole_while_its_batch_moves(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    """One case of a batch of twelve changes under the migration before each of its writes (a mediator extends
    the period again and again): the other eleven move in that batch; it is passed over each time, reported,
    and left exactly as the mediator left it; a later run moves it."""
    open_cases(fresh, [shanghai(2026, 11, 24, 9)], 12)
    busy = 7
    assert api.fire(busy, "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200
    assert deploy(api, mediation_v2()).status_code == 201
    clock.set(shanghai(2026, 11, 26, 9))
    engine = fresh.extensions["gonghui.engine"]
    extended: list[int] = []
    granted: list[str] = []

    def mediator_extends(case: Any) -> None:
        if case.id == busy:
            extended.append(case.version)
            answer = api.fire(busy, "extend", "chengdong_mediator",
                              {"parties_consent": True, "days": 20 + len(extended)})
            assert answer.status_code == 200, answer.get_json()
            granted.append(answer.get_json()["due_at"])

    with fresh.app_context():
        plan = definition_migrations.make_plan(engine, "mediation_case", {"from_version": 1, "to_version": 2})
        result = definition_migrations.run(lambda: sa.orm.Session(db.engine), plan, actor=ADMIN, now=clock(),
                                           before_write=mediator_extends)
    assert extended == [2, 3, 4]   # read afresh before each try: the version the last extension left
    assert len(result.moves) == 11 and busy not in {move.case_id for move in result.moves}
    number = api.get(f"/cases/{busy}", ENT).get_json()["number"]
    assert result.conflicts == [{"number": number, "reason": "案件反复被他人修改，未迁移，请稍后再次迁移"}]
    case = api.get(f"/cases/{busy}", ENT).get_json()
    assert (case["definition_version"], case["state"], case["version"]) == (1, "mediating", 5)
    assert case["due_at"] == granted[-1] == "2026-12-22T00:00:00+08:00"   # the last extension, 23 days (to a Monday)
    history = api.get(f"/cases/{busy}/history", "chengdong_mediator").get_json()
    assert [h["event"] for h in history] == ["open", "accept", "extend", "extend", "extend"]
    assert each_case_is_whole(fresh, 2) == 11
    with fresh.app_context():
        record = db.session.scalar(sa.select(DefinitionMigration))
        assert (record.status, record.moved, record.conflicts) == ("done", 11, result.conflicts)
    audit_passes(fresh)
    again = migrate(api, {"from_version": 1, "to_version": 2})
    assert [c["id"] for c in again.get_json()["cases"]] == [busy] and again.get_json()["conflicts"] == []
    moved = again.get_json()["cases"][0]
    assert moved["old_due_at"] == moved["new_due_at"] == case["due_at"]   # an extension granted by hand stands
    assert each_case_is_whole(fresh, 2) == 12
    audit_passes(fresh)


def test_the_audit_trail_verifies_after_a_migration_that_renames_states_and_recounts_deadlines(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    """Cases in every open state (one extended by hand, one agreed with a date to perform by), two states
    renamed: after the migration each history chain is unbroken, each migrate row points at the row before it,
    each case's pending timer carries its new state's name, replaying the history through the engine gives
    each case as it is stored, and the report summary kept by the triggers agrees with a recount."""
    from api.audit import verify
    from api.lifecycles import registry
    from api.report_summary import verify as verify_summary

    open_cases(fresh, [shanghai(2026, 11, 24, 9)], 6)
    clock.set(shanghai(2026, 11, 25, 10))
    for case_id in (2, 3, 4):
        assert api.fire(case_id, "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200
    assert api.fire(3, "extend", "chengdong_mediator", {"parties_consent": True, "days": 30}).status_code == 200
    agreement = {"agreement": {"terms": "分期支付", "amount": "8000.00", "perform_by": "2026-12-20"}}
    agreed = api.fire(4, "agree", "chengdong_mediator", agreement)
    assert agreed.status_code == 200, agreed.get_json()
    renamed = RENAMED.replace("mediating", "in_mediation").replace("period: {working_days: 3}",
                                                                  "period: {working_days: 4}")
    assert deploy(api, renamed).status_code == 201, deploy(api, renamed, dry_run=True).get_json()
    clock.set(shanghai(2026, 11, 26, 10))
    done = migrate(api, {"from_version": 1, "to_version": 2,
                         "state_map": {"registered": "received", "mediating": "in_mediation"}})
    assert done.status_code == 200 and done.get_json()["count"] == 6, done.get_json()
    with fresh.app_context():
        assert list(verify(db.session, engine=fresh.extensions["gonghui.engine"])) == []
        assert verify_summary(db.session, {key: plugin.milestones for key, plugin in registry().items()}) == []
        for case in db.session.scalars(sa.select(Case)):
            rows = history_of(db.session, case)
            assert rows[-1].event == "migrate" and rows[-1].prev_hash == rows[-2].hash
            assert (rows[-1].from_state, rows[-1].to_state) in {("registered", "received"),
                                                                ("mediating", "in_mediation"), ("agreed", "agreed")}
            assert case.history_hash == rows[-1].hash and case.version == rows[-1].seq
            timers = db.session.scalars(sa.select(Timer).where(Timer.case_id == case.id, Timer.status == "pending"))
            assert [(t.state, t.due_at) for t in timers] == [(case.state, case.due_at)]
    states = {c["id"]: (c["new_state"], c["old_due_at"] == c["new_due_at"]) for c in done.get_json()["cases"]}
    assert states == {1: ("received", False), 2: ("in_mediation", True), 3: ("in_mediation", True),
                      4: ("agreed", True), 5: ("received", False), 6: ("received", False)}
    audit_passes(fresh)


def test_a_clerk_who_changes_a_case_during_the_migration_wins_and_the_case_is_planned_again(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    raced = api.open_case(ENT, "mediation_case", mediation_data())
    closed = api.open_case(ENT, "mediation_case", mediation_data())
    quiet = api.open_case(ENT, "mediation_case", mediation_data())
    assert deploy(api, mediation_v2()).status_code == 201
    engine = fresh.extensions["gonghui.engine"]
    fired: list[int] = []

    def clerk_fires_first(case: Case) -> None:
        """Between the migration reading the case and writing it, a clerk fires an event on it."""
        if case.id == raced["id"] and case.id not in fired:
            fired.append(case.id)
            assert api.fire(case.id, "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200
        if case.id == closed["id"] and case.id not in fired:
            fired.append(case.id)
            assert api.fire(case.id, "withdraw", "chengdong_mediator", {"reason": "已和解"}).status_code == 200

    with fresh.app_context():
        plan = definition_migrations.make_plan(engine, "mediation_case", {"from_version": 1, "to_version": 2})
        result = definition_migrations.run(lambda: sa.orm.Session(db.engine), plan, actor=ADMIN,
                                           now=clock(), before_write=clerk_fires_first)
    assert sorted(move.number for move in result.moves) == sorted([raced["number"], quiet["number"]])
    after = api.get(f"/cases/{raced['id']}", ENT).get_json()
    assert (after["state"], after["definition_version"], after["data"]["mediator"]) == ("mediating", 2, "李调解")
    history = api.get(f"/cases/{raced['id']}/history", "chengdong_mediator").get_json()
    assert [h["event"] for h in history] == ["open", "accept", "migrate"]
    gone = api.get(f"/cases/{closed['id']}", ENT).get_json()
    assert (gone["state"], gone["definition_version"]) == ("withdrawn", 1)
    audit_passes(fresh)


def test_a_case_a_clerk_moves_out_of_the_plan_during_the_migration_is_reported_and_stays(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    moved = api.open_case(ENT, "mediation_case", mediation_data())
    staying = api.open_case(ENT, "mediation_case", mediation_data())
    assert deploy(api, mediation_v2().replace("mediating", "in_mediation")).status_code == 201
    engine = fresh.extensions["gonghui.engine"]

    def clerk_accepts(case: Case) -> None:
        if case.id == staying["id"]:   # into 调解中, which v2 calls in_mediation and the plan does not map
            assert api.fire(case.id, "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200

    with fresh.app_context():
        plan = definition_migrations.make_plan(engine, "mediation_case", {"from_version": 1, "to_version": 2})
        assert len(definition_migrations.dry_run(db.session, plan)) == 2
        result = definition_migrations.run(lambda: sa.orm.Session(db.engine), plan, actor=ADMIN, now=clock(),
                                           before_write=clerk_accepts)
    assert [move.number for move in result.moves] == [moved["number"]]
    assert [item["number"] for item in result.conflicts] == [staying["number"]]
    assert "调解中" in result.conflicts[0]["reason"]
    after = api.get(f"/cases/{staying['id']}", ENT).get_json()
    assert (after["state"], after["definition_version"], after["version"]) == ("mediating", 1, 2)
    with fresh.app_context():
        assert db.session.scalar(sa.select(DefinitionMigration.conflicts)) == result.conflicts
    audit_passes(fresh)


# ---- init-db and the command line -----------------------------------------------------------------------

def test_init_db_deploys_the_definition_files_the_database_lacks(fresh: Flask) -> None:
    from api.cli import init_db

    runner = fresh.test_cli_runner()
    first = runner.invoke(init_db)
    assert first.exit_code == 0, first.output
    assert "definition deployed from definitions/: mediation_case v1" in first.output
    second = runner.invoke(init_db)
    assert second.exit_code == 0 and "definition deployed" not in second.output
    with fresh.app_context():
        rows = {(r.key, r.version): r for r in db.session.scalars(sa.select(DefinitionVersion))}
        assert set(rows) == {(d.key, d.version) for d in fresh.extensions["gonghui.engine"].catalog.all()}
        assert rows[("mediation_case", 1)].source == V1 and rows[("mediation_case", 1)].deployed_by == "init-db"


def test_init_db_makes_the_documents_font_ahead_of_the_first_document(
        fresh: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api import document_font
    from api.cli import init_db

    monkeypatch.setitem(fresh.config, "DOCUMENT_FONT_FOLDER", str(tmp_path / "fonts"))
    monkeypatch.setattr(document_font, "characters", lambda *_: [ord(c) for c in "受理回执温岭市总工会0123456789"])
    if not document_font.SYSTEM_FONT.is_file():
        pytest.skip("fonts-wqy-microhei is not installed")
    result = fresh.test_cli_runner().invoke(init_db)
    assert result.exit_code == 0, result.output
    made = list((tmp_path / "fonts").glob("wqy-documents-*.ttf"))
    assert len(made) == 1 and f"documents' font: {made[0]}" in result.output


def test_the_command_line_deploys_with_a_dry_run_first_and_refuses_a_bad_file(
        fresh: Flask, api: Api, tmp_path: Path) -> None:
    from api.cli import definitions

    runner = fresh.test_cli_runner()
    good = tmp_path / "mediation_case.v2.yaml"
    good.write_text(mediation_v2(), encoding="utf-8")
    dry = runner.invoke(definitions, ["deploy", str(good), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "已登记 的期限 3个工作日 → 5个工作日" in dry.output and "nothing deployed" in dry.output
    assert [v["version"] for v in api.get("/definitions/mediation_case/versions", ENT).get_json()] == [1]
    done = runner.invoke(definitions, ["deploy", str(good)])
    assert done.exit_code == 0 and "mediation_case v2 deployed" in done.output
    assert [v["version"] for v in api.get("/definitions/mediation_case/versions", ENT).get_json()] == [1, 2]
    bad = tmp_path / "bad.yaml"
    bad.write_text(mediation_v2(version=3).replace("to: mediating\n    roles", "to: limbo\n    roles"), "utf-8")
    refused = runner.invoke(definitions, ["deploy", str(bad)])
    assert refused.exit_code == 1 and "line" in refused.output and "'limbo'" in refused.output
    clash = tmp_path / "clash.yaml"
    clash.write_text(mediation_v2(registered_days=9), "utf-8")
    assert runner.invoke(definitions, ["deploy", str(clash)]).exit_code == 1
    api.open_case(ENT, "mediation_case", mediation_data())   # opened on v2
    migrated = runner.invoke(definitions, ["migrate", "mediation_case", "--from", "1", "--to", "2", "--dry-run"])
    assert migrated.exit_code == 0 and "0 open case(s) would move" in migrated.output


# ---- holiday schedules -----------------------------------------------------------------------------------

YEAR_2027 = {"year": 2027, "holidays": ["2027-01-01", "2027-01-04"], "workdays": []}


def test_a_schedule_dry_run_lists_the_deadlines_it_would_move_and_loads_nothing(
        fresh: Flask, api: Api, clock: FrozenClock, tmp_path: Path) -> None:
    clock.set(shanghai(2026, 12, 30, 10))
    moving = api.open_case(ENT, "mediation_case", mediation_data())
    clock.set(shanghai(2026, 12, 10, 10))
    staying = api.open_case(ENT, "mediation_case", mediation_data())
    response = api.post("/admin/calendar?dry_run=true", ADMIN, YEAR_2027)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["moves"] == [{"case": moving["id"], "number": moving["number"],
                                             "old_due_at": "2027-01-06T00:00:00+08:00",
                                             "new_due_at": "2027-01-07T00:00:00+08:00"}]
    assert api.get("/admin/calendar", ADMIN).get_json() == []
    assert api.get(f"/cases/{moving['id']}", ENT).get_json()["due_at"] == "2027-01-06T00:00:00+08:00"
    assert staying["number"] not in str(response.get_json()["moves"])
    assert api.post("/admin/calendar?dry_run=true", "chengdong_clerk", YEAR_2027).status_code == 403

    from api.commands.deadlines import calendar

    path = tmp_path / "2027.yaml"
    path.write_text("year: 2027\nholidays: [2027-01-01, 2027-01-04]\n", encoding="utf-8")
    shown = fresh.test_cli_runner().invoke(calendar, ["load", str(path), "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert f"{moving['number']}  2027-01-06 00:00 → 2027-01-07 00:00" in shown.output
    assert "1 deadline(s) would move" in shown.output
    assert api.get("/admin/calendar", ADMIN).get_json() == []


# ---- the administrator's pages ---------------------------------------------------------------------------

def test_the_pages_preview_a_new_version_with_both_diagrams_then_deploy_it_after_confirmation(
        fresh: Flask, api: Api) -> None:
    from tests.api.test_ui_pages import signed_in

    case = api.open_case(ENT, "mediation_case", mediation_data())
    client, csrf = signed_in(fresh, ADMIN)
    page = client.get("/admin/definitions").get_data(as_text=True)
    assert "劳动人事争议调解（mediation_case）" in page and "第 1 版（当前版本）" in page and "1 件" in page
    preview = client.post("/admin/definitions/preview", data={"csrf_token": csrf, "definition": mediation_v2()})
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "修改：已登记 的期限 3个工作日 → 5个工作日" in text and "确认部署第 2 版" in text
    assert text.count("<svg") == 2 and "第 1 版" in text
    assert api.get("/definitions/mediation_case", ENT).get_json()["version"] == 1   # nothing deployed yet
    done = client.post("/admin/definitions/deploy", data={"csrf_token": csrf, "definition": mediation_v2()})
    assert done.status_code == 302
    page = client.get("/admin/definitions").get_data(as_text=True)
    assert "劳动人事争议调解 第 2 版已部署" in page and "第 2 版（当前版本）" in page and "迁移在办案件" in page
    diffed = client.get("/admin/definitions/mediation_case/diff?from=1&to=2").get_data(as_text=True)
    assert "已登记 的期限 3个工作日 → 5个工作日" in diffed and diffed.count("<svg") == 2
    bad = client.post("/admin/definitions/preview", data={"csrf_token": csrf, "definition": "key: [oops"})
    assert bad.status_code == 302 and "流程定义未部署" in client.get("/admin/definitions").get_data(as_text=True)

    # the migration: the plan, the dry-run table, then the confirmed run
    form = {"csrf_token": csrf, "from": "1", "to": "2", "recount": "1"}
    dry = client.post("/admin/definitions/mediation_case/migrate", data={**form, "action": "preview"})
    table = dry.get_data(as_text=True)
    assert dry.status_code == 200 and "将要迁移的案件（1 件）" in table and case["number"] in table
    assert "温岭市东海鞋业有限公司工会" in table   # the unit that handles the case, by its name
    assert "2026-11-28 00:00" in table and "2026-12-02 00:00" in table and "确认迁移这 1 件案件" in table
    assert api.get(f"/cases/{case['id']}", ENT).get_json()["definition_version"] == 1
    ran = client.post("/admin/definitions/mediation_case/migrate", data={**form, "action": "run"})
    assert "已迁移 1 件案件到第 2 版" in ran.get_data(as_text=True)
    assert api.get(f"/cases/{case['id']}", ENT).get_json()["due_at"] == "2026-12-02T00:00:00+08:00"
    refused = client.post("/admin/definitions/mediation_case/migrate",
                          data={**form, "from": "2", "to": "1", "action": "preview"})
    assert refused.status_code == 422 and "只能迁移到更新的版本" in refused.get_data(as_text=True)


def test_the_admin_page_previews_the_deadlines_a_schedule_moves_before_loading_it(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    from tests.api.test_ui_pages import signed_in

    clock.set(shanghai(2026, 12, 30, 10))
    case = api.open_case(ENT, "mediation_case", mediation_data())
    client, csrf = signed_in(fresh, ADMIN)
    page = client.post("/admin/calendar/preview", data={"csrf_token": csrf, "year": "2027",
                                                        "d-2027-01-01": "holiday", "d-2027-01-04": "holiday"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "将会变动的期限（1 件）" in text and case["number"] in text
    assert "2027-01-06 00:00" in text and "2027-01-07 00:00" in text and "确认载入 2027 年放假安排" in text
    assert api.get("/admin/calendar", ADMIN).get_json() == []


def test_the_definition_pages_are_for_administrators_only(fresh: Flask) -> None:
    from tests.api.test_ui_pages import signed_in

    client, csrf = signed_in(fresh, "chengdong_clerk")
    assert client.get("/admin/definitions").status_code == 403
    assert client.post("/admin/definitions/deploy", data={"csrf_token": csrf, "definition": mediation_v2()}
                       ).status_code == 403
    assert client.get("/admin/definitions/mediation_case/migrate").status_code == 403


def test_every_deploy_migration_and_schedule_load_is_in_the_admin_log(fresh: Flask, api: Api) -> None:
    from api.admin_log import AdminLogEntry

    api.open_case(ENT, "mediation_case", mediation_data())
    assert deploy(api, mediation_v2(), dry_run=True).status_code == 200
    assert deploy(api, mediation_v2()).status_code == 201
    assert migrate(api, {"from_version": 1, "to_version": 2, "dry_run": True}).status_code == 200
    assert migrate(api, {"from_version": 1, "to_version": 2}).status_code == 200
    assert api.post("/admin/calendar", ADMIN, YEAR_2027).status_code == 201
    with fresh.app_context():
        entries = list(db.session.scalars(sa.select(AdminLogEntry).order_by(AdminLogEntry.id)))
        assert [(e.action, e.target, e.actor) for e in entries] == [
            ("definition.deploy", "mediation_case v2", ADMIN), ("definition.migrate", "mediation_case v1→v2", ADMIN),
            ("calendar.load", "2027", ADMIN)]
        assert entries[0].after["changes"] == ["已登记 的期限 3个工作日 → 5个工作日"]
        assert entries[0].before == {"version": 1}
