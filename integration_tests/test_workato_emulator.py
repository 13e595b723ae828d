"""The Workato emulator: it enforces what Workato enforces, serves what it documents, and its
paging fault breaks paging as switched. In-process over real HTTP; the connector is not involved."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

import pytest
import requests

from integration_tests.conftest import EmulatorFactory
from integration_tests.emulator import Emulator
from integration_tests.emulator_client import command_line, vendor_request

WORKATO_USAGE = "/api/v2/managed_users/statistics/usage"
PINNED = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc)


def call(emulator: Emulator, method: str, path: str, key: Optional[str] = None, **kwargs: Any) -> requests.Response:
    return vendor_request(emulator, "workato", method, path, key, **kwargs)


@pytest.fixture
def pinned(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(seed=3, now=PINNED, rate_limits=False)


def usage(emulator: Emulator, **body: Any) -> Any:
    answer = call(emulator, "POST", WORKATO_USAGE, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def test_workato_wrong_key_is_401(emulator: Emulator) -> None:
    answer = call(emulator, "POST", WORKATO_USAGE, key="nope", json={})
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})


def test_workato_rejects_what_workato_rejects(pinned: Emulator) -> None:
    window = {"from": "2026-06-01T00:00:00-07:00", "to": "2026-06-02T00:00:00-07:00"}
    for bad in (
        {**window},  # no ids
        {**window, "workspace_ids": list(range(100_000, 100_101))},
        {**window, "workspace_ids": [100_000], "folder_name_pattern": "PR"},
        {**window, "workspace_ids": [100_000], "interval": "minute"},
        {"from": window["to"], "to": window["from"], "workspace_ids": [100_000]},
    ):
        answer = call(pinned, "POST", WORKATO_USAGE, json=bad)
        assert answer.status_code == 400 and "message" in answer.json(), bad
    assert usage(pinned, **window, workspace_ids=[42]) is None  # nothing matches: data is null


def test_workato_intervals_give_one_row_per_workspace_per_bucket(pinned: Emulator) -> None:
    rows = usage(pinned, **{"from": "2026-06-01T00:00:00-07:00", "to": "2026-06-04T00:00:00-07:00"}, interval="day",
                 external_ids=["cust-00001", "cust-00002"])  # fmt: skip
    assert [(r["external_id"], r["period"]) for r in rows] == [
        (ws, f"2026-06-0{day}T00:00:00-07:00") for day in (1, 2, 3) for ws in ("cust-00001", "cust-00002")
    ]
    assert set(rows[0]) == {"workspace_id", "external_id", "workspace_name", "period", "task_count", "recipe_count",
                            "successful_job_count", "failed_job_count"}  # fmt: skip
    whole = usage(pinned, **{"from": "2026-06-01T00:00:00-07:00", "to": "2026-06-04T00:00:00-07:00"},
                  external_ids=["cust-00001"])  # fmt: skip
    assert "period" not in whole[0]
    assert whole[0]["task_count"] == sum(r["task_count"] for r in rows if r["external_id"] == "cust-00001")


def test_workato_hours_add_up_to_their_day(pinned: Emulator) -> None:
    day = {"from": "2026-06-02T00:00:00-07:00", "to": "2026-06-03T00:00:00-07:00", "workspace_ids": [100_003]}
    hours = usage(pinned, **day, interval="hour")
    (total,) = usage(pinned, **day, interval="day")
    assert len(hours) == 24
    for metric in ("task_count", "successful_job_count", "failed_job_count"):
        assert sum(row[metric] for row in hours) == total[metric]


def test_workato_deleted_recipes_count_only_with_a_plain_body(pinned: Emulator) -> None:
    window = {"from": "2026-05-01T00:00:00-07:00", "to": "2026-06-01T00:00:00-07:00"}
    ids = list(range(100_000, 100_012))
    plain = usage(pinned, **window, workspace_ids=ids)
    filtered = usage(pinned, **window, workspace_ids=ids, group_by="workspace")
    by_recipe = usage(pinned, **window, workspace_ids=ids, group_by="recipe")
    assert sum(r["task_count"] for r in plain) > sum(r["task_count"] for r in filtered)
    assert sum(r["task_count"] for r in filtered) == sum(r["task_count"] for r in by_recipe)
    assert {"recipe_id", "recipe_name"} <= set(by_recipe[0])


def test_workato_managed_users_end_with_a_short_page(pinned: Emulator) -> None:
    pages = [call(pinned, "GET", "/api/managed_users", params={"page": n, "per_page": 5}).json()["result"] for n in (1, 2, 3)]
    assert [len(page) for page in pages] == [5, 5, 2]  # 12 workspaces
    assert {"id", "external_id", "name"} <= set(pages[0][0])
    assert call(pinned, "GET", "/api/managed_users", params={"per_page": 101}).status_code == 400


def test_workato_rate_limit_is_429_with_retry_after(emulator_factory: EmulatorFactory) -> None:
    limited = emulator_factory(workato={"managed_users_per_minute": 2})
    answers = [call(limited, "GET", "/api/managed_users") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60


def test_workato_ground_truth_is_what_the_api_serves(pinned: Emulator) -> None:
    truth = pinned.ground_truth("workato_recipe_usage", start_date="2026-06-01", end_date="2026-06-01")
    rows = usage(pinned, **{"from": "2026-06-01T00:00:00-07:00", "to": "2026-06-02T00:00:00-07:00"},
                 interval="day", workspace_ids=list(range(100_000, 100_012)), group_by="recipe")  # fmt: skip
    assert [{k: v for k, v in r.items() if k not in ("period_start", "period_end", "interval")} for r in truth] == rows
    assert truth[0]["period_start"] == "2026-06-01T00:00:00-07:00" and truth[0]["period_end"] == "2026-06-02T00:00:00-07:00"


# --------------------------------------------------------------------------- paging faults (Options.paging_fault)


def test_workato_repeat_paging_ignores_page(emulator_factory: EmulatorFactory) -> None:
    broken = emulator_factory(now=PINNED, rate_limits=False, workato={"workspaces": 12, "paging_fault": "repeat"})
    first_page = [broken.vendor("workato").workspace_id(i) for i in range(5)]
    for page in (1, 2, 3, 50):
        rows = call(broken, "GET", "/api/managed_users", params={"page": page, "per_page": 5}).json()["result"]
        assert [row["id"] for row in rows] == first_page, page


def test_command_line_switches_the_workato_paging_fault() -> None:
    with command_line("--rate-limit", "off", "--port", "0", "--workato-paging-fault", "repeat") as url:

        def get(page: int) -> Any:
            params = {"page": page, "per_page": 5}
            headers = {"Authorization": "Bearer workato-emulator-token"}
            answer = requests.get(url + "/api/managed_users", params=params, headers=headers, timeout=10)
            assert answer.status_code == 200, answer.text
            return answer.json()["result"]

        page_one, page_two = (get(n) for n in (1, 2))
        assert page_one == page_two and len(page_one) == 5
