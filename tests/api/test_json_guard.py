"""Anonymous JSON that used to crash the parser or the database is a 400 naming the fault, on every JSON
endpoint: nesting ~990 deep, and unpaired UTF-16 surrogates ("\\ud800")."""

from __future__ import annotations

import pytest

from api.json_guard import faults
from tests.conftest import Api

DEEP = b'{"username": "a", "password": ' + b"[" * 990 + b"]" * 990 + b"}"
PUBLIC_JSON = ["/api/v1/auth/token", "/api/v1/intake/worker-reports"]


def post_raw(api: Api, path: str, body: bytes, headers: dict[str, str] | None = None) -> object:
    return api.client.post(path, data=body, content_type="application/json", headers=headers or {})


@pytest.mark.parametrize("path", PUBLIC_JSON)
def test_json_nested_990_deep_is_400(api: Api, path: str) -> None:
    answer = post_raw(api, path, DEEP)
    assert answer.status_code == 400, answer.get_data(as_text=True)  # type: ignore[attr-defined]
    assert answer.content_type.startswith("application/problem+json")  # type: ignore[attr-defined]
    assert "嵌套" in answer.get_json()["detail"]  # type: ignore[attr-defined]


LONE = {  # bodies otherwise valid: the surrogate reached the password hash or the database (a 500 before)
    "/api/v1/auth/token": b'{"username": "daxi_clerk", "password": %s}',
    "/api/v1/intake/worker-reports": '{"employer": "温岭市东海鞋业有限公司", "category": "other", "anonymous": true, '
                                     '"description": %s}'.encode(),
}


@pytest.mark.parametrize("path", PUBLIC_JSON)
@pytest.mark.parametrize("text", [b'"\\ud800"', b'"x\\udc00"', b'"\\ud800\\u0041"', b'"\\uDBFF"'])
def test_an_unpaired_surrogate_is_400(api: Api, path: str, text: bytes) -> None:
    answer = post_raw(api, path, LONE[path] % text)
    assert answer.status_code == 400, answer.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "代理项" in answer.get_json()["detail"]  # type: ignore[attr-defined]


def test_an_authenticated_endpoint_refuses_them_too_after_the_token_check(api: Api) -> None:
    assert post_raw(api, "/api/v1/cases", DEEP).status_code == 401   # a stranger's body is not read
    answer = post_raw(api, "/api/v1/cases", DEEP, api.headers("chengdong_mediator"))
    assert answer.status_code == 400
    lone = b'{"definition": "mediation_case", "data": {"claims": "\\ud800"}}'
    assert post_raw(api, "/api/v1/cases", lone, api.headers("chengdong_mediator")).status_code == 400


def test_paired_surrogates_escaped_backslashes_and_brackets_in_strings_pass(api: Api) -> None:
    assert faults(b'{"a": "\\ud83d\\ude00"}', 64) == []           # an emoji written as a pair
    assert faults(b'{"a": "\\\\ud800"}', 64) == []                 # a backslash, then the letters ud800
    assert faults(b'{"a": "' + b"[" * 500 + b'"}', 64) == []       # brackets inside a string
    assert faults(b"[" * 64 + b"]" * 64, 64) == []
    assert faults(b"[" * 65 + b"]" * 65, 64) != []
    answer = api.client.post("/api/v1/auth/token", json={"username": "城东😀", "password": "x"})
    assert answer.status_code == 401
