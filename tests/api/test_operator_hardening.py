"""Smaller hardening: the claim notice under the strict CSP, exports refused where the dashboard is, /metrics for
operators only, and WeChat intake limited per reporter rather than per (the platform's one) address."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from api.headers import CSP
from tests.api.test_medical import claim, submit
from tests.api.test_ui_pages import signed_in
from tests.api.test_worker_reports import INTAKE, report
from tests.conftest import Api


def test_the_claim_notice_is_sent_with_the_strict_csp(api: Api) -> None:
    receipt = submit(api, claim(documents=["id_card", "invoice"])).get_json()
    page = api.client.get(receipt["notice_url"], headers=api.headers("counter_chengbei"))
    assert page.status_code == 200 and page.headers["Content-Security-Policy"] == CSP
    text = page.get_data(as_text=True)
    assert "一次性告知书" in text and "银行卡" in text and "补交期限" in text
    assert "<style" not in text and "onclick" not in text and "style=" not in text


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_enterprise_union_may_not_download_the_statistics(fresh: Flask, fmt: str) -> None:
    enterprise, _ = signed_in(fresh, "ent_clerk")
    response = enterprise.get(f"/dashboard/mediation_case.{fmt}")
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert "统计面向镇（街道）和市总工会" in response.get_data(as_text=True)
    street, _ = signed_in(fresh, "chengdong_clerk")
    assert street.get(f"/dashboard/mediation_case.{fmt}").status_code == 200


def _metrics(fresh: Flask, address: str = "127.0.0.1", **headers: str) -> Any:
    return fresh.test_client().get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": address})


def test_metrics_answer_only_operators(fresh: Flask) -> None:
    assert _metrics(fresh).status_code == 200
    refused = _metrics(fresh, "203.0.113.5")
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert "gonghui_http_requests_total" not in refused.get_data(as_text=True)
    assert _metrics(fresh, "127.0.0.1", **{"X-Forwarded-For": "203.0.113.5"}).status_code == 403
    fresh.config.update(METRICS_TOKEN="s3cret-operator-token", METRICS_ALLOW="198.51.100.0/24")
    try:
        assert _metrics(fresh, "203.0.113.5", Authorization="Bearer s3cret-operator-token").status_code == 200
        assert _metrics(fresh, "203.0.113.5", Authorization="Bearer wrong").status_code == 403
        assert _metrics(fresh, "198.51.100.7").status_code == 200
        assert _metrics(fresh, "127.0.0.1").status_code == 403     # loopback no longer listed
    finally:
        fresh.config.pop("METRICS_TOKEN")
        fresh.config.pop("METRICS_ALLOW")


def test_wechat_intake_is_limited_per_reporter_not_per_the_platforms_address(fresh: Flask, api: Api) -> None:
    platform = "203.0.113.9"
    fresh.config["INTAKE_PLATFORM_ADDRESSES"] = "203.0.113.9/32"
    try:
        def send(contact: str, address: str = platform) -> int:
            return api.client.post(INTAKE, json=report(contact=contact, channel="wechat"),
                                   environ_base={"REMOTE_ADDR": address}).status_code

        # seven reporters through the platform's one address: each is counted apart
        assert [send(f"1390000{n:04d}") for n in range(7)] == [201] * 7
        # one reporter sending again and again is held back, whichever spelling of the number
        statuses = [send("139-0000-0000") for _ in range(5)]
        assert statuses == [201] * 4 + [429]
        # an ordinary client is still counted by its address
        assert [send(f"1380000{n:04d}", "198.51.100.20") for n in range(6)] == [201] * 5 + [429]
    finally:
        fresh.config.pop("INTAKE_PLATFORM_ADDRESSES")
