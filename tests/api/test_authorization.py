"""The authorization matrix, generated from the app's routes: every API endpoint × caller (role and unit:
own unit, a unit below, another street, the city). An endpoint without a rule here fails the test."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from api.auth import PUBLIC_ENDPOINTS
from tests.conftest import Api, mediation_data

USERS = ["chengdong_mediator", "ent_clerk", "daxi_clerk", "city_admin", "counter_chengbei"]
EVERYONE = set(USERS)
ADMIN = {"city_admin"}
CASE_SCOPE = {"chengdong_mediator", "city_admin"}   # the case is owned by 城东街道: its staff and the city
# (endpoint, method) → (path, json body, users allowed, status for the others)
RULES: dict[tuple[str, str], tuple[str, Any, set[str], int]] = {
    ("org_units.OrgUnits", "GET"): ("/org-units", None, EVERYONE, 0),
    ("definitions.Definitions", "GET"): ("/definitions", None, EVERYONE, 0),
    ("definitions.DefinitionOne", "GET"): ("/definitions/mediation_case", None, EVERYONE, 0),
    ("definitions.Diagram", "GET"): ("/definitions/mediation_case/diagram?case={case}", None, CASE_SCOPE, 404),
    ("cases.Cases", "GET"): ("/cases", None, EVERYONE, 0),
    ("cases.Cases", "POST"): ("/cases", {"definition": "mediation_case", "data": mediation_data()},
                              EVERYONE - {"counter_chengbei"}, 403),
    ("cases.Case", "GET"): ("/cases/{case}", None, CASE_SCOPE, 404),
    ("cases.CaseEvent", "POST"): ("/cases/{case}/events/accept", {"data": {"mediator": "李调解"}},
                                  {"chengdong_mediator"}, -1),  # -1: 403 in scope without the role, else 404
    ("cases.CaseHistory", "GET"): ("/cases/{case}/history", None, CASE_SCOPE, 404),
    ("documents.CaseDocuments", "GET"): ("/cases/{case}/documents", None, CASE_SCOPE, 404),
    ("documents.CaseDocument", "GET"): ("/cases/{case}/documents/receipt.pdf", None, CASE_SCOPE, 404),
    ("cases.Worklist", "GET"): ("/worklist", None, EVERYONE, 0),
    ("reports.Report", "GET"): ("/reports/mediation_case", None, EVERYONE, 0),
    ("calendar.CalendarYears", "GET"): ("/admin/calendar", None, ADMIN, 403),
    ("calendar.CalendarYears", "POST"): ("/admin/calendar", {"year": 2027, "holidays": ["2027-01-01"]}, ADMIN, 403),
    ("admin.Users", "GET"): ("/admin/users", None, ADMIN, 403),
    ("admin.Users", "POST"): ("/admin/users", {"username": "new_clerk", "org_unit": "daxi", "roles": ["clerk"],
                                               "password": "daxi-window-2026"}, ADMIN, 403),
    ("admin.UserOne", "PATCH"): ("/admin/users/daxi_clerk", {"roles": ["clerk", "mediator"]}, ADMIN, 403),
    ("admin.UserSessions", "DELETE"): ("/admin/users/daxi_clerk/sessions", None, ADMIN, 403),
    ("admin.UserLockout", "DELETE"): ("/admin/users/daxi_clerk/lockout", None, ADMIN, 403),
    ("admin.Log", "GET"): ("/admin/log", None, ADMIN, 403),
    ("auth.Logout", "POST"): ("/auth/logout", None, EVERYONE, 0),
    ("auth.Password", "POST"): ("/auth/password", {"current_password": "demo", "new_password": "a-new-pass-2026"},
                                EVERYONE, 0),
    ("admin.Tokens", "GET"): ("/admin/tokens", None, ADMIN, 403),
    ("admin.Tokens", "POST"): ("/admin/tokens", {"username": "counter_chengbei"}, ADMIN, 403),
    ("admin.Token", "DELETE"): ("/admin/tokens/999", None, ADMIN, 403),
    ("counters.ClaimCheck", "POST"): ("/counters/claims/check", {}, {"counter_chengbei"}, 403),
    ("counters.Claims", "POST"): ("/counters/claims", {}, {"counter_chengbei"}, 403),
    ("counters.ClaimNotice", "GET"): ("/counters/claims/YL-2026-000001/notice", None, EVERYONE, 0),
    ("definition_admin.DefinitionDeploy", "POST"): ("/admin/definitions", None, ADMIN, 403),
    ("definition_admin.DefinitionVersions", "GET"): ("/definitions/mediation_case/versions", None, EVERYONE, 0),
    ("definition_admin.DefinitionDiff", "GET"): ("/admin/definitions/mediation_case/diff?from=1&to=1", None,
                                                 ADMIN, 403),
    ("definition_admin.DefinitionMigrations", "POST"): ("/admin/definitions/mediation_case/migrations",
                                                        {"from_version": 1, "to_version": 1}, ADMIN, 403),
    ("enterprises.Enterprises", "GET"): ("/enterprises", None, EVERYONE, 0),
    ("enterprises.EnterpriseImport", "POST"): ("/enterprises/import", None, {"daxi_clerk", "city_admin"}, 403),
    ("notifications.Notifications", "GET"): ("/notifications?unread=true", None, EVERYONE, 0),
    ("notifications.NotificationRead", "POST"): ("/notifications/999/read", None, EVERYONE, 0),
    ("notifications.NotificationsReadAll", "POST"): ("/notifications/read-all", None, EVERYONE, 0),
    ("webhooks.Webhooks", "GET"): ("/admin/webhooks", None, ADMIN, 403),
    ("webhooks.Webhooks", "POST"): ("/admin/webhooks", {"url": "https://hooks.example.org/gonghui", "events":
                                                        ["case.opened"], "secret": "s" * 32}, ADMIN, 403),
    ("webhooks.WebhookOne", "GET"): ("/admin/webhooks/999", None, ADMIN, 403),
    ("webhooks.WebhookOne", "DELETE"): ("/admin/webhooks/999", None, ADMIN, 403),
    ("webhooks.WebhookDeliveries", "GET"): ("/admin/webhooks/999/deliveries", None, ADMIN, 403),
    ("union_terms.UnionTermImport", "POST"): ("/union-terms/import", None, {"daxi_clerk", "city_admin"}, 403),
    ("union_terms.UnionTermRecord", "GET"): ("/org-units/cd-e001/term", None,
                                             {"chengdong_mediator", "ent_clerk", "city_admin"}, 404),
}
PUBLIC: dict[tuple[str, str], str] = {
    ("auth.Token", "POST"): "/auth/token", ("intake.IntakeReports", "POST"): "/intake/worker-reports",
    ("intake.IntakeReport", "GET"): "/intake/worker-reports/FY-2026-000001",
    ("intake.IntakeReopen", "POST"): "/intake/worker-reports/FY-2026-000001/reopen",
    ("counters.ClaimStatus", "GET"): "/counters/claims/YL-2026-000001?id_last6=123456",
    ("api-docs.openapi_json", "GET"): "/openapi.json", ("api-docs.openapi_swagger_ui", "GET"): "/docs",
}


def api_routes(app: Flask) -> set[tuple[str, str]]:
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_api_endpoint_has_a_rule(app: Flask) -> None:
    missing = api_routes(app) - set(RULES) - set(PUBLIC)
    assert not missing, f"endpoints without an authorization rule: {sorted(missing)}"
    assert {endpoint for endpoint, _ in PUBLIC} == set(PUBLIC_ENDPOINTS)


@pytest.mark.parametrize(("endpoint", "method"), sorted(RULES))
def test_a_protected_endpoint_needs_a_token(api: Api, endpoint: str, method: str) -> None:
    path, body, _, _ = RULES[(endpoint, method)]
    response = api.client.open(f"/api/v1{path.format(case=1)}", method=method, json=body)
    assert response.status_code == 401, (endpoint, method, response.status_code)


@pytest.mark.parametrize(("endpoint", "method"), sorted(RULES))
@pytest.mark.parametrize("user", USERS)
def test_the_matrix(api: Api, endpoint: str, method: str, user: str) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    path, body, allowed, denied = RULES[(endpoint, method)]
    response = api.client.open(f"/api/v1{path.format(case=case['id'])}", method=method, json=body,
                               headers=api.headers(user))
    if user in allowed:
        assert response.status_code not in (401, 403) and response.status_code < 500, response.get_json()
        if "{case}" in path:
            assert response.status_code != 404
    else:
        expected = denied if denied != -1 else (403 if user in CASE_SCOPE else 404)
        assert response.status_code == expected, (user, response.status_code, response.get_data(as_text=True))


@pytest.mark.parametrize(("endpoint", "method"), sorted(PUBLIC))
def test_public_endpoints_answer_without_a_token(api: Api, endpoint: str, method: str) -> None:
    response = api.client.open(f"/api/v1{PUBLIC[(endpoint, method)]}", method=method, json={})
    assert response.status_code != 401 and response.status_code < 500


def test_a_revoked_token_stops_working_at_once(fresh: Flask, api: Api) -> None:
    issued = api.post("/admin/tokens", "city_admin", {"username": "counter_chengbei", "label": "窗口 7"})
    token = issued.get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/worklist", headers=headers).status_code == 200
    (listed,) = [t for t in api.get("/admin/tokens", "city_admin").get_json() if t["label"] == "窗口 7"]
    revoked = api.client.delete(f"/api/v1/admin/tokens/{listed['id']}", headers=api.headers("city_admin"))
    assert revoked.status_code == 204
    assert api.client.get("/api/v1/worklist", headers=headers).status_code == 401


def test_passwords_are_hashed_with_scrypt_in_production(fresh: Flask) -> None:
    from api.auth import PASSWORD_METHOD

    assert PASSWORD_METHOD == "scrypt"
    with fresh.app_context():
        from werkzeug.security import generate_password_hash

        assert generate_password_hash("x", method=PASSWORD_METHOD).startswith("scrypt:")


def test_login_attempts_are_limited_per_user_and_address(api: Api, clock) -> None:  # type: ignore[no-untyped-def]
    for _ in range(10):
        failed = api.client.post("/api/v1/auth/token", json={"username": "daxi_clerk", "password": "x"})
        assert failed.status_code == 401
    refused = api.client.post("/api/v1/auth/token", json={"username": "daxi_clerk", "password": "demo"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert api.client.post("/api/v1/auth/token", json={"username": "city_admin", "password": "demo"}).status_code == 200
    clock.advance(minutes=6)
    assert api.client.post("/api/v1/auth/token", json={"username": "daxi_clerk", "password": "demo"}).status_code == 200


def test_every_answer_carries_the_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/healthz", "/api/v1/cases", "/login"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "default-src 'self'" in client.get("/login").headers["Content-Security-Policy"]
