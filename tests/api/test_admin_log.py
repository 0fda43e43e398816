"""Every administration change leaves an entry in the append-only admin log (actor, action, target, before,
after, time), whichever way it was made; creating a user never overwrites an existing one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.api.test_ui_pages import signed_in
from tests.conftest import Api

NEW_USER = {"username": "songmen_clerk", "org_unit": "songmen", "roles": ["clerk"], "password": "songmen-window-7"}


def log(api: Api, **query: str) -> list[dict[str, Any]]:
    answer = api.get("/admin/log" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""),
                     "city_admin")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


def test_user_changes_are_logged_with_actor_before_and_after(fresh: Flask, api: Api) -> None:
    assert api.post("/admin/users", "city_admin", NEW_USER).status_code == 201
    changed = api.client.patch("/api/v1/admin/users/songmen_clerk", json={"roles": ["clerk", "mediator"]},
                               headers=api.headers("city_admin"))
    assert changed.status_code == 200 and changed.get_json()["roles"] == ["clerk", "mediator"]
    api.client.patch("/api/v1/admin/users/songmen_clerk", json={"active": False}, headers=api.headers("city_admin"))
    entries = log(api, target="songmen_clerk")
    assert [entry["action"] for entry in entries] == ["user.deactivate", "user.update", "user.create"]
    assert {entry["actor"] for entry in entries} == {"city_admin"}
    update = entries[1]
    assert update["before"]["roles"] == ["clerk"] and update["after"]["roles"] == ["clerk", "mediator"]
    assert entries[2]["after"] == {"username": "songmen_clerk", "org_unit": "songmen", "roles": ["clerk"],
                                   "active": True}
    assert entries[0]["action_label"] == "停用用户" and entries[0]["at"].endswith("+08:00")
    everything = str(log(api))
    assert "songmen-window-7" not in everything and "scrypt" not in everything and "pbkdf2" not in everything


def test_creating_an_existing_user_is_refused_everywhere(fresh: Flask, api: Api) -> None:
    from api.cli import cli

    again = api.post("/admin/users", "city_admin", {**NEW_USER, "username": "daxi_clerk", "roles": ["admin"]})
    assert again.status_code == 409 and "daxi_clerk" in again.get_json()["detail"]
    assert api.client.post("/api/v1/auth/token", json={"username": "daxi_clerk", "password": "demo"}).status_code == 200
    admin, csrf = signed_in(fresh, "city_admin")
    admin.post("/admin/users", data={"csrf_token": csrf, "username": "daxi_clerk", "org": "wenling",
                                     "roles": ["admin"], "password": "songmen-window-7"})
    assert "用户名 daxi_clerk 已存在" in admin.get("/admin").get_data(as_text=True)
    result = fresh.test_cli_runner().invoke(cli, ["users", "create", "daxi_clerk", "--org", "wenling", "--role",
                                                  "admin", "--password", "songmen-window-7"])
    assert result.exit_code == 1 and "已存在" in result.output
    users = {user["username"]: user for user in api.get("/admin/users", "city_admin").get_json()}
    assert users["daxi_clerk"]["roles"] == ["clerk"] and users["daxi_clerk"]["org_unit"] == "daxi"
    assert not log(api, action="user.create")


def test_tokens_calendars_and_sessions_are_logged_from_the_api_the_page_and_the_cli(
        fresh: Flask, api: Api, tmp_path: Path) -> None:
    from api.cli import cli
    working_days = fresh.extensions["gonghui.engine"].calendar

    issued = api.post("/admin/tokens", "city_admin", {"username": "counter_chengbei", "label": "窗口 7"})
    token_id = next(t["id"] for t in api.get("/admin/tokens", "city_admin").get_json() if t["label"] == "窗口 7")
    assert api.client.delete(f"/api/v1/admin/tokens/{token_id}", headers=api.headers("city_admin")).status_code == 204
    api.client.delete("/api/v1/admin/users/daxi_clerk/sessions", headers=api.headers("city_admin"))
    api.post("/admin/calendar", "city_admin", {"year": 2027, "holidays": ["2027-01-01"]})
    admin, csrf = signed_in(fresh, "city_admin")
    admin.post("/admin/calendar", data={"csrf_token": csrf, "year": "2028", "d-2028-01-01": "holiday"})
    schedule = tmp_path / "2029.yaml"
    schedule.write_text("year: 2029\nholidays: [2029-01-01]\n", encoding="utf-8")
    assert fresh.test_cli_runner().invoke(cli, ["calendar", "load", str(schedule)]).exit_code == 0
    assert fresh.test_cli_runner().invoke(cli, ["tokens", "revoke", str(token_id)]).exit_code == 1  # already
    working_days.unload()
    entries = log(api)
    actions = [(entry["action"], entry["target"]) for entry in reversed(entries)]
    assert actions == [("token.issue", "counter_chengbei"), ("token.revoke", "counter_chengbei"),
                       ("user.sessions_revoked", "daxi_clerk"), ("calendar.load", "2027"),
                       ("calendar.load", "2028"), ("calendar.load", "2029")]
    assert issued.get_json()["token"] not in str(entries)
    assert entries[0]["actor"].startswith("cli") and entries[1]["actor"] == "city_admin"
    assert entries[2]["after"]["holidays"] == ["2027-01-01"] and entries[2]["before"] is None
    page = admin.get("/admin").get_data(as_text=True)
    assert "管理日志" in page and "载入放假安排" in page and "吊销令牌" in page and "签发令牌" in page


def test_the_log_pages_and_filters(fresh: Flask, api: Api) -> None:
    for number in range(3):
        api.post("/admin/users", "city_admin", {**NEW_USER, "username": f"clerk_{number}"})
    page = api.get("/admin/log?per_page=2&page=2", "city_admin").get_json()
    assert page["total"] == 3 and [entry["target"] for entry in page["items"]] == ["clerk_0"]
    assert api.get("/admin/log?action=nonsense", "city_admin").status_code == 422


@pytest.mark.postgres
def test_the_admin_log_is_append_only_on_postgresql(fresh: Flask, api: Api) -> None:
    from api.extensions import db

    api.post("/admin/users", "city_admin", NEW_USER)
    with fresh.app_context():
        for statement in ("UPDATE admin_log SET actor = 'someone'", "DELETE FROM admin_log"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                with db.engine.begin() as connection:
                    connection.execute(sa.text(statement))


def test_the_admin_page_changes_a_users_roles_and_the_log_shows_it(fresh: Flask, api: Api) -> None:
    admin, csrf = signed_in(fresh, "city_admin")
    admin.post("/admin/users/change", data={"csrf_token": csrf, "username": "daxi_clerk",
                                            "roles": ["clerk", "mediator"]})
    assert "用户 daxi_clerk 已修改" in admin.get("/admin").get_data(as_text=True)
    (entry,) = log(api, action="user.update")
    assert (entry["actor"], entry["target"]) == ("city_admin", "daxi_clerk")
    assert entry["before"]["roles"] == ["clerk"] and entry["after"]["roles"] == ["clerk", "mediator"]
    admin.post("/admin/users/change", data={"csrf_token": csrf, "username": "daxi_clerk", "org": "songmen"})
    users = {user["username"]: user for user in api.get("/admin/users", "city_admin").get_json()}
    assert users["daxi_clerk"]["org_unit"] == "songmen" and users["daxi_clerk"]["roles"] == ["clerk", "mediator"]


def test_an_administrator_cannot_deactivate_itself(api: Api) -> None:
    answer = api.client.patch("/api/v1/admin/users/city_admin", json={"active": False},
                              headers=api.headers("city_admin"))
    assert answer.status_code == 422 and "active" in answer.get_json()["errors"]
