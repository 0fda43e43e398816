"""``gonghui seed-demo --story``: a year of the 城东 pilot told through the use cases and the sweep; the
report API and the 统计 pages show exactly the pilot's figures."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask

from tests.api.ui_support import signed_in, visible_text
from tests.conftest import Api


@pytest.fixture
def told(fresh: Flask, clock: Any) -> Flask:
    from api.story import tell_in_app

    started = time.perf_counter()
    with fresh.app_context():
        result = tell_in_app(fresh, clock())
    assert result.mediation == 1336 and result.unions == 53 and result.reports == 11
    print(f"story told in {time.perf_counter() - started:.1f} s, {result.swept} timers swept")
    return fresh


def test_the_story_reproduces_the_pilot_figures(told: Flask, api: Api) -> None:
    year = "from=2026-01-01&to=2026-12-31"
    mediation = api.get(f"/reports/mediation_case?{year}", "city_admin").get_json()
    assert (mediation["visitors"], mediation["accepted"], mediation["amount_involved"]) == (1336, 776, "14108000.00")
    assert (mediation["concluded"], mediation["agreements"]) == (754, 735)
    assert round(mediation["closure_rate"] * 100, 1) == 97.2 and round(mediation["success_rate"] * 100, 1) == 97.5
    assert mediation["escalated"] >= 1                     # the sweep moved the overdue ones up
    unions = api.get(f"/reports/union_formation?{year}", "city_admin").get_json()
    assert (unions["new_unions"], unions["single"], unions["joint"], unions["units_covered"]) == (53, 51, 2, 91)
    assert unions["workers_reached"] >= 3600
    reports = api.get(f"/reports/worker_report?{year}", "city_admin").get_json()
    assert reports["by_employer"] == {"温岭市东海鞋业有限公司": 11}
    assert set(reports["by_category"]) == {"social_insurance", "safety", "overtime_pay", "employment"}
    # the 统计 page of the street shows the same figures
    client, _ = signed_in(told, "chengdong_clerk")
    text = visible_text(client.get("/dashboard?period=year&year=2026").get_data(as_text=True))
    for figure in ("来访登记 1336", "受理 776", "涉及金额（元） 14,108,000.00", "调处结案率 97.2%", "调解成功率 97.5%",
                   "新建工会 53", "单独建会 51", "联合建会 2", "覆盖单位 91", f"惠及职工 {unions['workers_reached']}"):
        assert figure in " ".join(text.split()), figure
    # told once: a database holding cases is refused
    from api.story import StoryRefused, tell_in_app

    with told.app_context(), pytest.raises(StoryRefused):
        tell_in_app(told, told.config["CLOCK"]())
