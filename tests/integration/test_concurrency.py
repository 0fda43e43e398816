"""Two clerks firing on the same case at the same moment: exactly one wins, nothing is lost (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import Api, mediation_data

pytestmark = pytest.mark.postgres


def test_two_threads_firing_on_one_case_exactly_one_wins(fresh, api: Api) -> None:  # type: ignore[no-untyped-def]
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    tokens = {name: api.token(name) for name in ("chengdong_mediator", "ent_clerk", "city_admin")}
    barrier = threading.Barrier(2)
    results: list[int] = []

    def fire(event: str, data: dict[str, str]) -> None:
        client = fresh.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/cases/{case['id']}/events/{event}", json={"data": data},
                               headers={"Authorization": f"Bearer {tokens['chengdong_mediator']}",
                                        "If-Match": '"1"'})
        results.append(response.status_code)

    threads = [threading.Thread(target=fire, args=("accept", {"mediator": "李调解"})),
               threading.Thread(target=fire, args=("reject", {"reason": "不属于受理范围"}))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results)[0] == 200 and sorted(results)[1] in (409, 412), results
    history = api.get(f"/cases/{case['id']}/history", "chengdong_mediator").get_json()
    assert [h["seq"] for h in history] == [1, 2]
    final = api.get(f"/cases/{case['id']}", "chengdong_mediator").get_json()
    assert final["version"] == 2 and final["state"] == history[-1]["to_state"]


def test_many_threads_racing_lose_no_update(fresh, api: Api) -> None:  # type: ignore[no-untyped-def]
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    token = api.token("chengdong_mediator")
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def extend(days: int) -> None:
        client = fresh.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/cases/{case['id']}/events/extend",
                               json={"data": {"parties_consent": True, "days": days}},
                               headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=extend, args=(day,)) for day in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {200, 409}
    history = api.get(f"/cases/{case['id']}/history", "chengdong_mediator").get_json()
    assert len(history) == 2 + statuses.count(200)
    assert [h["seq"] for h in history] == list(range(1, len(history) + 1))
    assert api.get(f"/cases/{case['id']}", "chengdong_mediator").get_json()["version"] == len(history)
