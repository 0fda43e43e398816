"""Sign-in failures have a budget per username across addresses (a lockout the administrators see and can
lift), and one password policy serves the API, the 管理 page and the command line."""

from __future__ import annotations

import pytest
from flask import Flask

from api import passwords
from tests.api.test_ui_pages import signed_in
from tests.conftest import Api, FrozenClock


def sign_in(api: Api, username: str, password: str, address: str) -> int:
    return api.client.post("/api/v1/auth/token", json={"username": username, "password": password},
                           environ_base={"REMOTE_ADDR": address}).status_code


def test_failures_from_many_addresses_lock_the_username_and_tell_the_administrators(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    for attempt in range(20):  # a spray from twenty addresses, one failure each: under every per-address limit
        assert sign_in(api, "daxi_clerk", f"guess-{attempt}", f"10.9.0.{attempt}") == 401
    locked = api.client.post("/api/v1/auth/token", json={"username": "daxi_clerk", "password": "demo"},
                             environ_base={"REMOTE_ADDR": "10.9.1.1"})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "锁定" in locked.get_json()["detail"]
    assert sign_in(api, "chengdong_clerk", "demo", "10.9.1.1") == 200   # other users are not affected
    admin, csrf = signed_in(fresh, "city_admin")
    page = admin.get("/admin").get_data(as_text=True)
    assert "登录锁定提醒" in page and "daxi_clerk" in page and "解除锁定" in page
    log = api.get("/admin/log?action=user.locked_out", "city_admin").get_json()["items"]
    assert [(entry["actor"], entry["target"]) for entry in log] == [("system", "daxi_clerk")]
    admin.post("/admin/users/daxi_clerk/unlock", data={"csrf_token": csrf})
    assert "登录锁定提醒" not in admin.get("/admin").get_data(as_text=True)
    assert sign_in(api, "daxi_clerk", "demo", "10.9.1.1") == 200


def test_a_lockout_ends_with_its_window(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    for attempt in range(20):
        sign_in(api, "ent_clerk", "wrong", f"10.8.0.{attempt}")
    assert sign_in(api, "ent_clerk", "demo", "10.8.1.1") == 429
    clock.advance(hours=1)
    assert sign_in(api, "ent_clerk", "demo", "10.8.1.1") == 200


def test_the_sign_in_page_shows_the_lockout(fresh: Flask, api: Api) -> None:
    import re

    for attempt in range(20):
        sign_in(api, "ent_clerk", "wrong", f"10.7.0.{attempt}")
    client = fresh.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    page = client.post("/login", data={"csrf_token": csrf, "username": "ent_clerk", "password": "demo"})
    assert page.status_code == 429 and "锁定" in page.get_data(as_text=True)


@pytest.mark.parametrize(("password", "fault"), [
    ("short-pass", "至少 12 个字符"), ("demo", "至少 12 个字符"), ("password1234", "过于常见"),
    ("qwerty123456", "过于常见"), ("1qaz2wsx3edc", "过于常见"), ("aaaaaaaaaaaa", "过于常见"),
    ("123456789012", "过于常见"), ("Woaini1314!!", "过于常见"), ("new_clerk-2026-x", "用户名"),
])
def test_the_policy_refuses_weak_passwords(password: str, fault: str) -> None:
    assert any(fault in message for message in passwords.faults(password, "new_clerk"))


def test_the_policy_accepts_a_long_uncommon_password() -> None:
    assert passwords.faults("城东街道-调解窗口-7号", "new_clerk") == []
    assert passwords.faults("correct horse battery staple", "new_clerk") == []


def test_the_api_the_page_and_the_cli_refuse_a_weak_password(fresh: Flask, api: Api) -> None:
    from api.cli import cli

    weak = api.post("/admin/users", "city_admin", {"username": "new_clerk", "org_unit": "daxi", "roles": ["clerk"],
                                                   "password": "password1234"})
    assert weak.status_code == 422 and "password" in weak.get_json()["errors"]
    document = api.client.get("/api/v1/openapi.json").get_json()
    assert document["components"]["schemas"]["User"]["properties"]["password"]["minLength"] == 12
    admin, csrf = signed_in(fresh, "city_admin")
    admin.post("/admin/users", data={"csrf_token": csrf, "username": "new_clerk", "org": "daxi", "roles": ["clerk"],
                                     "password": "demo"})
    assert "密码至少 12 个字符" in admin.get("/admin").get_data(as_text=True)
    result = fresh.test_cli_runner().invoke(cli, ["users", "create", "new_clerk", "--org", "daxi", "--role", "clerk",
                                                  "--password", "demo"])
    assert result.exit_code == 1 and "至少 12 个字符" in result.output
    result = fresh.test_cli_runner().invoke(cli, ["users", "create", "new_clerk", "--org", "daxi", "--role", "clerk",
                                                  "--password", "daxi-window-2026"])
    assert result.exit_code == 0, result.output
    assert sign_in(api, "new_clerk", "daxi-window-2026", "10.6.0.1") == 200


def test_demo_users_keep_demo_from_seed_demo(fresh: Flask) -> None:
    from api.cli import cli

    result = fresh.test_cli_runner().invoke(cli, ["seed-demo"])
    assert result.exit_code == 0, result.output
    assert fresh.test_client().post("/api/v1/auth/token", json={"username": "daxi_clerk",
                                                                  "password": "demo"}).status_code == 200


@pytest.mark.parametrize("password", ["demo", "password1234", "x" * 201])
def test_every_api_path_answers_in_the_policys_words_once(api: Api, password: str) -> None:
    expected = passwords.faults(password)
    created = api.post("/admin/users", "city_admin", {"username": "new_clerk", "org_unit": "daxi",
                                                      "roles": ["clerk"], "password": password})
    assert created.status_code == 422 and created.get_json()["errors"]["password"] == expected
    changed = api.client.patch("/api/v1/admin/users/daxi_clerk", json={"password": password},
                               headers=api.headers("city_admin"))
    assert changed.status_code == 422 and changed.get_json()["errors"]["password"] == expected
    own = api.post("/auth/password", "daxi_clerk", {"current_password": "demo", "new_password": password})
    assert own.status_code == 422 and own.get_json()["errors"]["new_password"] == expected
