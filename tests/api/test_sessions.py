"""Sessions end on the server: sign-out, a new password, deactivation and an administrator end them at once,
for the browser's cookie (a copied one too) and for session tokens; the sign-in page sends only to this site."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_ui_pages import signed_in
from tests.conftest import Api

NEW_PASSWORD = "chengdong-window-2026"


def copy_of(fresh: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = fresh.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_copied_cookie_is_worthless_after_sign_out(fresh: Flask) -> None:
    client, csrf = signed_in(fresh, "chengdong_clerk")
    thief = copy_of(fresh, client)
    assert thief.get("/worklist").status_code == 200   # the copy works while the session lasts
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    answer = thief.get("/worklist")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert "登录" in thief.get("/login").get_data(as_text=True)


def test_a_new_password_ends_every_cookie_and_session_token(fresh: Flask, api: Api) -> None:
    client, _ = signed_in(fresh, "chengdong_clerk")
    old_token = api.token("chengdong_clerk")
    changed = api.post("/auth/password", "chengdong_clerk", {"current_password": "demo", "new_password": NEW_PASSWORD})
    assert changed.status_code == 204
    assert api.client.get("/api/v1/worklist", headers={"Authorization": f"Bearer {old_token}"}).status_code == 401
    assert client.get("/worklist").status_code == 302
    signed = api.client.post("/api/v1/auth/token", json={"username": "chengdong_clerk", "password": NEW_PASSWORD})
    assert signed.status_code == 200
    assert api.client.post("/api/v1/auth/token", json={"username": "chengdong_clerk",
                                                        "password": "demo"}).status_code == 401


def test_changing_ones_password_needs_the_current_one_and_a_good_new_one(api: Api) -> None:
    wrong = api.post("/auth/password", "daxi_clerk", {"current_password": "nope", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 422 and "current_password" in wrong.get_json()["errors"]
    weak = api.post("/auth/password", "daxi_clerk", {"current_password": "demo", "new_password": "password1234"})
    assert weak.status_code == 422 and "new_password" in weak.get_json()["errors"]


def test_the_page_to_change_ones_password(fresh: Flask) -> None:
    client, csrf = signed_in(fresh, "daxi_clerk")
    page = client.get("/account/password").get_data(as_text=True)
    assert "修改密码" in page and "当前密码" in page
    refused = client.post("/account/password", data={"csrf_token": csrf, "current_password": "demo",
                                                      "new_password": "short", "confirm_password": "short"})
    assert refused.status_code == 422 and "密码至少 12 个字符" in refused.get_data(as_text=True)
    done = client.post("/account/password", data={"csrf_token": csrf, "current_password": "demo",
                                                   "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert "密码已修改" in done.get_data(as_text=True)
    assert client.get("/worklist").status_code == 302


def test_signing_out_of_the_api_revokes_that_token(api: Api) -> None:
    token = api.token("ent_clerk")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert api.client.get("/api/v1/worklist", headers=headers).status_code == 401


def test_an_administrator_lists_and_revokes_anyones_tokens_and_ends_sessions(fresh: Flask, api: Api) -> None:
    clerk = api.token("daxi_clerk")
    headers = {"Authorization": f"Bearer {clerk}"}
    listed = api.get("/admin/tokens?user=daxi_clerk", "city_admin").get_json()
    assert [(token["kind"], token["active"]) for token in listed] == [("session", True)]
    assert "token" not in listed[0] and clerk not in str(listed)
    revoked = api.client.delete(f"/api/v1/admin/tokens/{listed[0]['id']}", headers=api.headers("city_admin"))
    assert revoked.status_code == 204
    assert api.client.get("/api/v1/worklist", headers=headers).status_code == 401

    api.tokens.pop("daxi_clerk")
    second = {"Authorization": f"Bearer {api.token('daxi_clerk')}"}
    service = api.post("/admin/tokens", "city_admin", {"username": "daxi_clerk"}).get_json()["token"]
    client, _ = signed_in(fresh, "daxi_clerk")
    ended = api.client.delete("/api/v1/admin/users/daxi_clerk/sessions", headers=api.headers("city_admin"))
    assert ended.status_code == 204
    assert api.client.get("/api/v1/worklist", headers=second).status_code == 401
    assert client.get("/worklist").status_code == 302
    # a service token is a device's credential: it stays until revoked by itself
    assert api.client.get("/api/v1/worklist", headers={"Authorization": f"Bearer {service}"}).status_code == 200


def test_a_deactivated_user_is_signed_out_everywhere_and_cannot_sign_in(fresh: Flask, api: Api) -> None:
    token = api.token("ent_clerk")
    client, _ = signed_in(fresh, "ent_clerk")
    changed = api.client.patch("/api/v1/admin/users/ent_clerk", json={"active": False},
                               headers=api.headers("city_admin"))
    assert changed.status_code == 200 and changed.get_json()["active"] is False
    assert api.client.get("/api/v1/worklist", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/worklist").status_code == 302
    assert api.client.post("/api/v1/auth/token", json={"username": "ent_clerk", "password": "demo"}).status_code == 401
    assert api.client.patch("/api/v1/admin/users/nobody", json={"active": False},
                            headers=api.headers("city_admin")).status_code == 404


def test_the_admin_page_deactivates_users_and_ends_sessions(fresh: Flask, api: Api) -> None:
    admin, csrf = signed_in(fresh, "city_admin")
    page = admin.get("/admin").get_data(as_text=True)
    assert "停用" in page and "结束全部会话" in page and "登录令牌" not in page
    victim, _ = signed_in(fresh, "daxi_clerk")
    admin.post("/admin/users/daxi_clerk/sessions/end", data={"csrf_token": csrf})
    assert "daxi_clerk 的全部会话已结束" in admin.get("/admin").get_data(as_text=True)
    assert victim.get("/worklist").status_code == 302
    api.token("daxi_clerk")
    page = admin.get("/admin").get_data(as_text=True)
    assert "登录令牌" in page   # the live session token is listed with a button to revoke it
    admin.post("/admin/users/daxi_clerk/active", data={"csrf_token": csrf, "active": "0"})
    page = admin.get("/admin").get_data(as_text=True)
    assert "已停用" in page and re.search(r"daxi_clerk</td>.*?启用", page, re.DOTALL)


def test_sign_in_sends_only_to_paths_of_this_site(fresh: Flask) -> None:
    for target, expected in [("/%09/evil.example", "/worklist"), ("//evil.example/", "/worklist"),
                             ("/\\evil.example", "/worklist"), ("https://evil.example/", "/worklist"),
                             ("/%0a/evil.example", "/worklist"), ("/cases/7?tab=history", "/cases/7?tab=history")]:
        client = fresh.test_client()
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        answer = client.post(f"/login?next={target}", data={"csrf_token": csrf, "username": "daxi_clerk",
                                                            "password": "demo"})
        assert answer.status_code == 302
        assert answer.headers["Location"] == expected, (target, answer.headers["Location"])
