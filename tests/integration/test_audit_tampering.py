"""Tampering that the hash chain alone cannot see: a chain rewritten with its hashes recomputed, the last history
row deleted with the case stepped back, a case edited directly — each found by ``gonghui audit verify``
(signed checkpoints outside the database; the history replayed through the engine). And on PostgreSQL the
service role cannot UPDATE or DELETE history, nor switch the append-only trigger off."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from api import checkpoints
from api.audit import verify
from api.commands.audit import audit
from api.extensions import db
from api.history import chain_hash, history_payload
from api.models import Case, CaseHistory
from tests.api.test_medical import claim, submit
from tests.api.test_union_formation import ALL_SIX, CLERK, STEPS, formation_case
from tests.conftest import Api, mediation_data


def walk(api: Api) -> dict[str, Any]:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    api.fire(case["id"], "fail", "chengdong_mediator", {"reason": "用人单位拒绝调解"})
    return case


def checkpoint(app: Flask) -> str:
    result = app.test_cli_runner().invoke(audit, ["checkpoint"])
    assert result.exit_code == 0, result.output
    return result.output


def verify_cli(app: Flask) -> Any:
    return app.test_cli_runner().invoke(audit, ["verify"])


def _as_owner(app: Flask, *statements: Any) -> None:
    """What someone holding the tables can do: switch the trigger off, write, switch it on."""
    with app.app_context(), db.engine.begin() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.execute(sa.text("ALTER TABLE case_history DISABLE TRIGGER case_history_append_only"))
        for statement in statements:
            connection.execute(statement)
        if postgres:
            connection.execute(sa.text("ALTER TABLE case_history ENABLE TRIGGER case_history_append_only"))


def test_a_chain_rewritten_with_its_hashes_recomputed_is_found(fresh: Flask, api: Api) -> None:
    case = walk(api)
    assert "1 chain head(s) signed" in checkpoint(fresh)
    with fresh.app_context():
        rows = list(db.session.scalars(sa.select(CaseHistory).where(CaseHistory.case_id == case["id"])
                                       .order_by(CaseHistory.seq)))
        # rewrite row 2 (who accepted, and the comment), then recompute its hash and every later one
        previous, updates = rows[0].hash, []
        for row in rows[1:]:
            payload = history_payload(row)
            if row.seq == 2:
                payload["actor"] = payload["actor"] + "_x"
                payload["comment"] = "改过"
            digest = chain_hash(previous, payload)
            updates.append(sa.update(CaseHistory).where(CaseHistory.id == row.id).values(
                actor=payload["actor"], comment=payload["comment"], prev_hash=previous, hash=digest))
            previous = digest
        updates.append(sa.update(Case.__table__).where(Case.__table__.c.id == case["id"])
                       .values(history_hash=previous))
    _as_owner(fresh, *updates)
    with fresh.app_context():
        breaks = list(verify(db.session))
    # the chain holds (it was recomputed) and the case matches its history: only the checkpoint sees it
    assert [(b.case_number, b.seq) for b in breaks] == [(case["number"], 3)]
    assert "the chain was rewritten" in breaks[0].reason
    result = verify_cli(fresh)
    assert result.exit_code == 1 and f"BROKEN  {case['number']}  seq 3" in result.output


def test_the_last_history_row_deleted_with_the_case_stepped_back_is_found(fresh: Flask, api: Api) -> None:
    case = walk(api)
    checkpoint(fresh)
    with fresh.app_context():
        second = db.session.scalar(sa.select(CaseHistory).where(CaseHistory.case_id == case["id"],
                                                                CaseHistory.seq == 2))
        stored = db.session.get(Case, case["id"])
        assert second is not None and stored is not None
        data = {name: value for name, value in stored.data.items() if name != "reason"}   # as before the event
        step_back = sa.update(Case.__table__).where(Case.__table__.c.id == case["id"]).values(
            version=2, history_hash=second.hash, state=second.to_state, closed=False, closed_at=None, data=data)
        db.session.rollback()
    _as_owner(fresh, sa.delete(CaseHistory).where(CaseHistory.case_id == case["id"], CaseHistory.seq == 3),
              step_back)
    with fresh.app_context():
        breaks = list(verify(db.session))
    assert [(b.case_number, b.seq) for b in breaks] == [(case["number"], 3)], breaks
    assert "is missing (deleted)" in breaks[0].reason
    assert verify_cli(fresh).exit_code == 1


def test_a_claim_approved_with_29999_directly_in_cases_is_found(fresh: Flask, api: Api) -> None:
    receipt = submit(api, claim()).get_json()
    assert api.fire(receipt["id"], "start_review", "chengbei_reviewer").status_code == 200
    with fresh.app_context():
        case = db.session.get(Case, receipt["id"])
        assert case is not None and case.state == "reviewing"
        data = {**case.data, "approved_amount": "29999.00"}
        edit = sa.update(Case.__table__).where(Case.__table__.c.id == case.id).values(
            state="approved", data=data, amount=29999)
        db.session.rollback()
    _as_owner(fresh, edit)   # no history row, no version step: invisible to the chain
    with fresh.app_context():
        reasons = [b.reason for b in verify(db.session) if b.case_number == receipt["number"]]
    assert "the case's state is approved but its history leads to reviewing" in reasons
    assert "the case's data differs from its history in: approved_amount" in reasons
    result = verify_cli(fresh)
    assert result.exit_code == 1 and receipt["number"] in result.output


def test_untouched_histories_of_every_lifecycle_verify_with_checkpoints(fresh: Flask, api: Api) -> None:
    walk(api)
    receipt = submit(api, claim()).get_json()
    api.fire(receipt["id"], "start_review", "chengbei_reviewer")
    api.fire(receipt["id"], "approve", "city_admin")
    checkpoint(fresh)
    api.fire(receipt["id"], "pay", "city_admin", {"payment_ref": "ZF20261130001", "paid_on": "2026-11-30"})
    report = api.client.post("/api/v1/intake/worker-reports", json={
        "employer": "温岭市东海鞋业有限公司", "category": "overtime_pay", "description": "连续三个月加班未付加班费",
        "contact": "13900001111", "anonymous": False})
    assert report.status_code == 201
    formation = formation_case(api)
    for event, data in STEPS:
        api.fire(formation["id"], event, CLERK, data)
    approved = api.fire(formation["id"], "approve", CLERK, {"approval_no": "温工〔2026〕18号"}).get_json()
    # founding the union writes the case once: version 7 is the approval, no gap in the history
    assert approved["version"] == 7 and approved["data"]["union_unit"].startswith("chengdong-u")
    assert api.fire(formation["id"], "assess", CLERK, {"six_standards": ALL_SIX}).status_code == 200
    output = checkpoint(fresh)
    assert "chain head(s) signed" in output
    result = verify_cli(fresh)
    assert result.exit_code == 0 and "0 break(s)" in result.output, result.output
    lines = Path(fresh.config["AUDIT_CHECKPOINTS"]).read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["mac"] for line in lines)


def test_an_altered_checkpoint_file_or_a_missing_key_is_reported(fresh: Flask, api: Api) -> None:
    case = walk(api)
    checkpoint(fresh)
    path = Path(fresh.config["AUDIT_CHECKPOINTS"])
    line = json.loads(path.read_text())
    line["heads"][str(case["id"])][1] = "0" * 64     # someone "repairs" the checkpoint after a rewrite
    path.write_text(json.dumps(line) + "\n")
    with fresh.app_context():
        reasons = [b.reason for b in verify(db.session)]
    assert any("its signature does not hold" in reason for reason in reasons)
    with fresh.app_context():
        seal = checkpoints.Seal(None, Path("/nonexistent/audit.key"), path)
        assert [f.reason for f in checkpoints.check(db.session, seal)] == [
            f"{path} exists but no audit key is configured to check it"]


def test_the_key_file_is_made_private_once(fresh: Flask, tmp_path: Path) -> None:
    seal = checkpoints.Seal(None, tmp_path / "instance" / "audit.key", tmp_path / "c.jsonl").ensure_key()
    assert seal.key and (seal.key_file.stat().st_mode & 0o777) == 0o600
    again = checkpoints.Seal(None, seal.key_file, seal.path).ensure_key()
    assert again.key == seal.key


@pytest.mark.postgres
def test_the_service_role_cannot_rewrite_history_nor_switch_the_trigger_off(fresh: Flask, tmp_path: Path) -> None:
    from api import create_app
    from api.cli import init_db, seed_demo

    source = sa.make_url(fresh.config["SQLALCHEMY_DATABASE_URI"])
    suffix = uuid.uuid4().hex[:8]
    name, owner, service = f"roles_{suffix}", f"gh_owner_{suffix}", f"gh_service_{suffix}"
    admin = sa.create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    audit_files = {"AUDIT_KEY_FILE": str(tmp_path / "audit.key"), "AUDIT_CHECKPOINTS": str(tmp_path / "c.jsonl"),
                   "PASSWORD_METHOD": "pbkdf2:sha256:1000", "SECRET_KEY": "t" * 40, "CLOCK": fresh.config["CLOCK"]}
    apps: list[Flask] = []
    try:
        setup = create_app({"SQLALCHEMY_DATABASE_URI": source.set(database=name).render_as_string(False),
                            **audit_files})
        apps.append(setup)
        result = setup.test_cli_runner().invoke(init_db, ["--owner-role", owner, "--service-role", service])
        assert result.exit_code == 0, result.output
        assert f"role {owner} created" in result.output and f"tables owned by {owner}" in result.output
        # the service runs as the service role: it seeds, opens and moves a case, and its history verifies
        service_url = source.set(database=name, username=service, password=None)
        app = create_app({"SQLALCHEMY_DATABASE_URI": service_url.render_as_string(False), **audit_files})
        apps.append(app)
        assert app.test_cli_runner().invoke(seed_demo).exit_code == 0
        api = Api(app.test_client())
        case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
        assert api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200
        assert verify_cli(app).exit_code == 0
        with app.app_context():
            rows = db.session.scalar(sa.select(sa.func.count()).select_from(CaseHistory))
            db.session.rollback()
            assert rows >= 2   # the demo's cases and the one just moved
            for statement in ("UPDATE case_history SET comment = 'x'", "DELETE FROM case_history",
                              "TRUNCATE case_history", "UPDATE access_records SET fields = fields",
                              "ALTER TABLE case_history DISABLE TRIGGER case_history_append_only",
                              "DROP TRIGGER case_history_append_only ON case_history",
                              "UPDATE alembic_version SET version_num = 'x'"):
                with pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"), \
                        db.engine.begin() as connection:
                    connection.execute(sa.text(statement))
            assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseHistory)) == rows
        # migrations run as the owner (GONGHUI_MIGRATION_DATABASE_URL) while the service keeps its own URL
        app.config["MIGRATION_DATABASE_URL"] = source.set(database=name, username=owner, password=None) \
            .render_as_string(False)
        migrated = app.test_cli_runner().invoke(init_db)
        assert migrated.exit_code == 0 and f"{owner}@" in migrated.output, migrated.output
    finally:
        for each in apps:
            with each.app_context():
                db.engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'DROP ROLE IF EXISTS "{service}"'))
            connection.execute(sa.text(f'DROP ROLE IF EXISTS "{owner}"'))
        admin.dispose()
