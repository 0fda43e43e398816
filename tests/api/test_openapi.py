"""The OpenAPI document is generated from the schemas, valid, and covers the contract's endpoints."""

from __future__ import annotations

from openapi_spec_validator import validate

CONTRACT = [
    ("post", "/api/v1/auth/token"), ("get", "/api/v1/org-units"), ("get", "/api/v1/definitions"),
    ("get", "/api/v1/definitions/{key}"), ("get", "/api/v1/definitions/{key}/diagram"),
    ("get", "/api/v1/cases"), ("post", "/api/v1/cases"), ("get", "/api/v1/cases/{case_id}"),
    ("post", "/api/v1/cases/{case_id}/events/{event}"), ("get", "/api/v1/cases/{case_id}/history"),
    ("get", "/api/v1/worklist"), ("get", "/api/v1/reports/{definition}"),
]


def test_the_openapi_document_validates_and_covers_the_contract(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    for method, path in CONTRACT:
        assert method in document["paths"][path], (method, path)
    assert "CaseSchema" in str(document["components"]["schemas"]) or "Case" in document["components"]["schemas"]


def test_the_interactive_docs_are_served(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/docs").status_code == 200
