"""Look-ups without an account cannot be used to guess: the claim needs the last six characters of the ID
number, every miss is the same 404, and misses are limited per number and per client (429, Retry-After)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.api.test_medical import claim, submit
from tests.api.test_worker_reports import file
from tests.conftest import Api, FrozenClock

CLAIMS = "/api/v1/counters/claims"
REPORTS = "/api/v1/intake/worker-reports"


def look_up(api: Api, number: str, last6: str, address: str = "10.1.1.1") -> Any:
    return api.client.get(f"{CLAIMS}/{number}?id_last6={last6}", environ_base={"REMOTE_ADDR": address})


def test_a_claim_is_found_with_the_last_six_characters_of_the_id_number_only(api: Api) -> None:
    number = submit(api, claim()).get_json()["number"]
    found = look_up(api, number, "201237")
    assert found.status_code == 200 and found.get_json()["state_label"]
    body = found.get_data(as_text=True)
    assert "张*" in body and "331081199805201237" not in body
    # the last four, as the look-up took before, are no longer enough
    assert api.client.get(f"{CLAIMS}/{number}?id_last4=1237").status_code == 422


def test_every_claim_miss_is_the_same_404(api: Api) -> None:
    number = submit(api, claim()).get_json()["number"]
    wrong_id = look_up(api, number, "209999")
    unknown = look_up(api, "YL-2026-999999", "201237", address="10.1.1.2")
    assert wrong_id.status_code == unknown.status_code == 404
    assert wrong_id.get_json()["detail"] == unknown.get_json()["detail"]


def test_misses_on_one_claim_number_are_limited_whatever_the_client(fresh: Flask, api: Api,
                                                                    clock: FrozenClock) -> None:
    number = submit(api, claim()).get_json()["number"]
    for attempt in range(5):  # five wrong guesses, each from another address
        assert look_up(api, number, f"20000{attempt}", address=f"10.2.0.{attempt}").status_code == 404
    refused = look_up(api, number, "201237", address="10.2.0.99")  # even the right answer, from a new client
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.content_type.startswith("application/problem+json")
    clock.advance(hours=1)
    assert look_up(api, number, "201237", address="10.2.0.99").status_code == 200


def test_misses_of_one_client_are_limited_across_numbers(fresh: Flask, api: Api) -> None:
    number = submit(api, claim()).get_json()["number"]
    for sequence in range(20):  # sweeping numbers one miss each
        assert look_up(api, f"YL-2026-{100 + sequence:06d}", "201237", address="10.3.0.1").status_code == 404
    assert look_up(api, number, "201237", address="10.3.0.1").status_code == 429
    assert look_up(api, number, "201237", address="10.3.0.2").status_code == 200


def test_guessing_a_worker_reports_secret_is_limited_per_number_and_per_client(fresh: Flask, api: Api) -> None:
    receipt = file(api).get_json()
    url = f"{REPORTS}/{receipt['number']}"
    for attempt in range(5):
        miss = api.client.get(url, headers={"X-Report-Secret": f"guess-{attempt}"},
                              environ_base={"REMOTE_ADDR": f"10.4.0.{attempt}"})
        assert miss.status_code == 404
    right = api.client.get(url, headers={"X-Report-Secret": receipt["secret"]},
                           environ_base={"REMOTE_ADDR": "10.4.0.50"})
    assert right.status_code == 429 and "Retry-After" in right.headers
    reopen = api.client.post(f"{url}/reopen", json={"reason": "x"}, headers={"X-Report-Secret": receipt["secret"]},
                             environ_base={"REMOTE_ADDR": "10.4.0.51"})
    assert reopen.status_code == 429
    other = file(api, address="10.4.1.1").get_json()
    for sequence in range(20):
        api.client.get(f"{REPORTS}/FY-2026-{500 + sequence:06d}", headers={"X-Report-Secret": "guess"},
                       environ_base={"REMOTE_ADDR": "10.4.2.2"})
    blocked = api.client.get(f"{REPORTS}/{other['number']}", headers={"X-Report-Secret": other["secret"]},
                             environ_base={"REMOTE_ADDR": "10.4.2.2"})
    assert blocked.status_code == 429
    allowed = api.client.get(f"{REPORTS}/{other['number']}", headers={"X-Report-Secret": other["secret"]},
                             environ_base={"REMOTE_ADDR": "10.4.2.3"})
    assert allowed.status_code == 200 and allowed.get_json()["number"] == other["number"]


def test_the_look_up_functions_serve_a_public_page_too(fresh: Flask, api: Api) -> None:
    from api import lookups
    from api.extensions import db

    number = submit(api, claim()).get_json()["number"]
    with fresh.test_request_context():
        now = fresh.config["CLOCK"]()
        status = lookups.claim_status_for_applicant(db.session, number, "201237", client="10.5.0.1", now=now)
        assert status is not None and status["number"] == number and status["member"] == "张*"
        assert lookups.claim_status_for_applicant(db.session, number, "201238", client="10.5.0.1", now=now) is None


def test_an_overlong_number_is_an_ordinary_miss(api: Api) -> None:
    number = "YL-2026-" + "1" * 300
    assert look_up(api, number, "201237").status_code == 404
    report = api.client.get(f"{REPORTS}/FY-2026-{'2' * 300}", headers={"X-Report-Secret": "x"})
    assert report.status_code == 404
