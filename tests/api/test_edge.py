"""What every answer gets at the edge: the security headers from one hook, the app's one 404, the CSRF token of
Flask-WTF in every form (the API, which takes no cookies, exempt), and the settings read from ``GONGHUI_*``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from api import create_app
from api.config import text_settings
from api.headers import API_CSP, CSP
from tests.api.ui_support import signed_in
from tests.conftest import Api, mediation_data

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "api" / "templates"


@pytest.mark.parametrize(("path", "policy"), [
    ("/login", CSP), ("/worklist", CSP), ("/no/such/page", CSP), ("/public/report", CSP),
    ("/public/no-such-page", CSP), ("/healthz", CSP), ("/api/v1/definitions", API_CSP),
    ("/api/v1/no-such-thing", API_CSP), ("/api/v1/docs", API_CSP),
])
def test_every_answer_gets_the_security_headers_pages_the_strict_policy(fresh: Flask, path: str,
                                                                         policy: str) -> None:
    response = fresh.test_client().get(path)
    assert response.headers["Content-Security-Policy"] == policy
    assert response.headers["X-Content-Type-Options"] == "nosniff" and response.headers["X-Frame-Options"] == "DENY"
    public = path.startswith("/public/")   # a 查询码 is neither sent on nor kept in a shared phone's history
    assert response.headers["Referrer-Policy"] == ("no-referrer" if public else "same-origin")
    assert (response.headers.get("Cache-Control") == "no-store") == public


def test_the_security_headers_and_the_404_are_set_in_one_place_each(fresh: Flask) -> None:
    hooks = [hook for hooks in fresh.after_request_funcs.values() for hook in hooks]
    assert [hook.__name__ for hook in hooks].count("security_headers") == 1
    assert "ui" not in fresh.after_request_funcs   # no second copy for the clerk's pages
    handlers = [(blueprint, code) for blueprint, by_code in fresh.error_handler_spec.items()
                for code, found in by_code.items() if code == 404 and found]
    assert handlers == [(None, 404)]


def test_an_unknown_address_is_answered_in_the_manner_of_its_part_of_the_site(fresh: Flask, api: Api) -> None:
    client = fresh.test_client()
    api_answer = client.get("/api/v1/no-such-thing")
    assert api_answer.status_code == 404 and api_answer.mimetype == "application/problem+json"
    public = client.get("/public/no-such-page")
    assert public.status_code == 404 and "找不到该页面" in public.get_data(as_text=True)
    clerk, _ = signed_in(fresh, "chengdong_clerk")
    page = clerk.get("/no/such/page")
    assert page.status_code == 404 and "页面或案件不存在" in page.get_data(as_text=True)
    outside = api.open_case("daxi_clerk", "mediation_case", mediation_data())   # another street's case
    page = clerk.get(f"/cases/{outside['id']}")
    assert page.status_code == 404 and "页面或案件不存在" in page.get_data(as_text=True)
    assert "东海鞋业" not in page.get_data(as_text=True)


def test_every_form_that_posts_carries_the_csrf_token() -> None:
    faults = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text()
        for form in re.findall(r"<form\b[^>]*>.*?</form>", text, flags=re.S):
            opening = form.split(">", 1)[0]
            if 'method="post"' in opening and 'name="csrf_token" value="{{ csrf_token() }}"' not in form:
                faults.append(f"{template.relative_to(TEMPLATES)}: {opening}>")
    assert not faults, "\n".join(faults)


def test_a_page_form_with_a_stale_token_is_refused_and_the_api_needs_its_bearer_token(fresh: Flask,
                                                                                      api: Api) -> None:
    client, csrf = signed_in(fresh, "chengdong_clerk")
    stale = csrf[:-2] + ("AA" if not csrf.endswith("AA") else "BB")
    refused = client.post("/notifications/read-all", data={"csrf_token": stale})
    assert refused.status_code == 400 and "表单已过期" in refused.get_data(as_text=True)
    kept = client.post("/new/mediation_case", data={"csrf_token": stale, "claims": "支付拖欠的工资"})
    page = kept.get_data(as_text=True)   # a form that can be shown again comes back filled in, nothing opened
    assert "您填写的内容已保留" in page and "支付拖欠的工资" in page and "已登记，编号" not in page
    # the API is not checked for the token: it takes no cookie, so a signed-in browser cannot be made to use it
    assert client.post("/api/v1/cases", json={"definition": "mediation_case", "data": mediation_data()}
                       ).status_code == 401
    assert api.post("/cases", "chengdong_clerk", {"definition": "mediation_case", "data": mediation_data()}
                    ).status_code == 201


def test_a_public_form_without_its_token_is_answered_in_words(fresh: Flask) -> None:
    response = fresh.test_client().post("/public/report", data={"employer": "温岭市东海鞋业有限公司"})
    assert response.status_code == 400 and "页面已过期" in response.get_data(as_text=True)


# ---- configuration --------------------------------------------------------------------------------------

def documented_variables() -> list[str]:
    names = set(re.findall(r"GONGHUI_([A-Z][A-Z_]*[A-Z])", (ROOT / "README.md").read_text()))
    return sorted(names - {"REQUIRE_BROWSER"})   # read by the test suite, not the app


def test_every_documented_setting_is_read_from_its_gonghui_variable(fresh: Flask, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    documented = documented_variables()
    assert len(documented) > 20 and {"SECRET_KEY", "TOKEN_TTL_HOURS", "METRICS_TOKEN"} <= set(documented)
    for name in documented:
        # digits: a number for a number's setting; kept as the characters given for a text setting
        monkeypatch.setenv(f"GONGHUI_{name}", "1" * 40)
    app = create_app({"SQLALCHEMY_DATABASE_URI": fresh.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                      "INSTANCE_PATH": str(tmp_path)})
    text = text_settings()
    wrong = {name: app.config.get(name) for name in documented
             if app.config.get(name) != ("1" * 40 if name in text else int("1" * 40))}
    assert not wrong


def test_environment_values_are_read_as_json_and_explicit_settings_win(fresh: Flask, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGHUI_SESSION_COOKIE_SECURE", "false")
    monkeypatch.setenv("GONGHUI_SWEEP_INTERVAL_SECONDS", "0.5")
    monkeypatch.setenv("GONGHUI_SQLALCHEMY_ENGINE_OPTIONS__pool_recycle", "300")
    monkeypatch.setenv("GONGHUI_METRICS_ALLOW", "10.0.0.0/8")
    monkeypatch.setenv("GONGHUI_TOKEN_TTL_HOURS", "8")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///" + str(tmp_path / "from-the-environment.sqlite3"))
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "TOKEN_TTL_HOURS": 2})
    assert app.config["SESSION_COOKIE_SECURE"] is False and app.config["SWEEP_INTERVAL_SECONDS"] == 0.5
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"hide_parameters": True, "pool_pre_ping": False,
                                                       "pool_recycle": 300}
    assert app.config["METRICS_ALLOW"] == "10.0.0.0/8" and app.config["TOKEN_TTL_HOURS"] == 2
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("from-the-environment.sqlite3")
    assert app.instance_path == str(tmp_path)


def test_a_database_error_logged_with_its_request_carries_none_of_the_statements_values(
        fresh: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """A request that meets a database error is answered 500 and logged with the error's kind and where it was
    raised: neither the statement's values (hidden by the engine) nor the server's "failing row" (PostgreSQL's
    detail of a NOT NULL violation quotes the whole row) reach the log."""
    import logging

    import sqlalchemy as sa

    from api.extensions import db
    from api.models import IdempotencyRecord

    values = {"principal": None, "key": "k", "method": "POST", "path": "/api/v1/cases", "request_hash": "h",
              "status": 201, "body": '{"id_number": "330781199001011234", "name": "王小明"}', "headers": {},
              "created_at": None}
    with fresh.app_context():
        with pytest.raises(sa.exc.IntegrityError) as failed:
            db.session.execute(sa.insert(IdempotencyRecord), values)   # principal may not be NULL
        db.session.rollback()
    assert "SQL parameters hidden" in str(failed.value)   # the statement's values, in the message itself
    with caplog.at_level(logging.INFO), fresh.test_request_context("/api/v1/cases", method="POST"):
        answer = fresh.handle_user_exception(failed.value)
    assert answer.status_code == 500
    assert "unhandled error on POST /api/v1/cases: IntegrityError" in caplog.text
    assert "test_edge.py" in caplog.text   # where it was raised
    assert "330781199001011234" not in caplog.text and "王小明" not in caplog.text
    from api.errors import described

    assert described(failed.value) in ("IntegrityError", "IntegrityError (SQLSTATE 23502)")   # SQLite, PostgreSQL


def test_a_fired_event_writes_no_log_line_at_the_default_level(fresh: Flask, api: Api,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """The state machine library's lines about entering and leaving states (two for every event) are not
    logged: the case's history holds them. A request that went well writes nothing at INFO."""
    import logging

    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    with caplog.at_level(logging.INFO):
        answer = api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    assert answer.status_code == 200 and answer.get_json()["state"] == "mediating"
    assert [(record.name, record.getMessage()) for record in caplog.records] == []


def test_the_objects_behind_flasks_proxies_are_the_requests_own(app: Flask) -> None:
    """``api.context`` hands out what Flask's proxies stand for, and like them refuses outside a request."""
    from flask import current_app, g, request

    from api.context import request_globals, this_app, this_request

    with app.test_request_context("/api/v1/cases?page=2", method="POST"):
        assert this_request() is request._get_current_object()  # type: ignore[attr-defined]
        assert this_request().args["page"] == "2" and this_request().method == "POST"
        assert this_app() is app is current_app._get_current_object()  # type: ignore[attr-defined]
        request_globals().marker = "seen"
        assert g.marker == "seen"
    with pytest.raises(RuntimeError):
        this_request()
    with pytest.raises(RuntimeError):
        this_app()
