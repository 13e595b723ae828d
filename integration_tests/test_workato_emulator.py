"""The Workato emulator: it enforces what Workato enforces, serves what it documents, and its
paging fault breaks paging as switched. In-process over real HTTP; the connector is not involved."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, List, Optional, Set

import pytest
import requests

from emulator import Emulator
from integration_tests.conftest import EmulatorFactory
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


def test_workato_ground_truth_is_what_the_api_serves_for_one_window_asked_with_interval_none(pinned: Emulator) -> None:
    truth = pinned.ground_truth("workato_recipe_usage", start_date="2026-06-01", end_date="2026-06-01")
    rows = usage(pinned, **{"from": "2026-06-01T00:00:00-07:00", "to": "2026-06-02T00:00:00-07:00"},
                 interval="none", workspace_ids=list(range(100_000, 100_012)), group_by="recipe")  # fmt: skip
    added = ("period_start", "period_end", "interval", "period_start_utc", "period_end_utc")  # the connector's columns
    assert [{k: v for k, v in r.items() if k not in added} for r in truth] == rows
    assert truth[0]["period_start"] == "2026-06-01T00:00:00-07:00" and truth[0]["period_end"] == "2026-06-02T00:00:00-07:00"
    assert {r["interval"] for r in truth} == {"day"}, "the record's interval is the configured one, the window's length"


# --------------------------------------------------------------------------- variants where Workato's documents are silent

KOLKATA_DAY = {"from": "2026-06-01T00:00:00+05:30", "to": "2026-06-02T00:00:00+05:30"}


def test_workato_a_window_in_another_zone_straddles_two_admin_zone_buckets_unless_interval_is_none(
    emulator_factory: EmulatorFactory,
) -> None:
    split = emulator_factory(seed=3, now=PINNED, rate_limits=False, workato={"configured_timezone": "Asia/Kolkata"})
    ids = {"workspace_ids": [100_000, 100_001]}
    by_day = usage(split, **KOLKATA_DAY, **ids, interval="day")
    # Kolkata's 06-01 runs from 11:30 on 05-31 to 11:30 on 06-01 in Los Angeles: two buckets, each workspace twice.
    assert [(r["workspace_id"], r["period"]) for r in by_day] == [
        (ws, f"2026-{day}T00:00:00-07:00") for day in ("05-31", "06-01") for ws in (100_000, 100_001)
    ]
    whole = usage(split, **KOLKATA_DAY, **ids, interval="none")
    assert [r["workspace_id"] for r in whole] == [100_000, 100_001] and all("period" not in r for r in whole)
    for row in whole:
        for metric in ("task_count", "successful_job_count", "failed_job_count"):
            assert row[metric] == sum(r[metric] for r in by_day if r["workspace_id"] == row["workspace_id"]), metric
    # The connector is configured with the other zone, and the ground truth plans its windows there.
    assert split.vendor("workato").connector_section("http://x")["timezone"] == "Asia/Kolkata"
    truth = split.ground_truth("workato_workspace_usage", start_date="2026-06-01", end_date="2026-06-01", **ids)
    assert [(r["period_start"], r["task_count"]) for r in truth] == [(KOLKATA_DAY["from"], row["task_count"]) for row in whole]


@pytest.mark.parametrize(
    ("row_names", "absent", "present"),
    [
        ("job_counts", {"successful_job_count", "failed_job_count"}, {"workspace_id", "job_succeeded_count", "job_failed_count"}),
        ("workspace_key", {"workspace_id"}, {"managed_user_id", "successful_job_count", "failed_job_count"}),
    ],
)
def test_workato_row_names_name_usage_row_fields_otherwise(
    emulator_factory: EmulatorFactory, row_names: str, absent: Set[str], present: Set[str]
) -> None:
    plain = emulator_factory(seed=3, now=PINNED, rate_limits=False)
    renamed = emulator_factory(seed=3, now=PINNED, rate_limits=False, workato={"row_names": row_names})
    window = {"from": "2026-06-01T00:00:00-07:00", "to": "2026-06-02T00:00:00-07:00", "workspace_ids": [100_000], "interval": "none"}
    for group_by in ("workspace", "recipe"):
        (before, *_), (after, *_) = usage(plain, **window, group_by=group_by), usage(renamed, **window, group_by=group_by)
        assert not absent & set(after) and present <= set(after), after
        assert sorted(before.values(), key=repr) == sorted(after.values(), key=repr), "the same values, other names"
    # The ground truth is what a correct connector makes of them: the raw fields, and the typed columns.
    (truth, *_) = renamed.ground_truth("workato_workspace_usage", start_date="2026-06-01", end_date="2026-06-01", workspace_ids=[100_000])
    assert present <= set(truth) and {"task_count", "recipe_count", "successful_job_count", "failed_job_count"} <= set(truth)


def listing_pages(emulator: Emulator, per_page: int = 100, pages: int = 6) -> List[requests.Response]:
    return [call(emulator, "GET", "/api/managed_users", params={"page": n, "per_page": per_page}) for n in range(1, pages + 1)]


def test_workato_listing_page_cap_serves_short_pages_that_are_not_the_last(emulator_factory: EmulatorFactory) -> None:
    capped = emulator_factory(seed=3, rate_limits=False, workato={"workspaces": 150, "listing_page_cap": 40})
    answers = listing_pages(capped)
    assert [len(a.json()["result"]) for a in answers] == [40, 40, 40, 30, 0, 0]
    ids = [row["id"] for a in answers for row in a.json()["result"]]
    assert ids == [capped.vendor("workato").workspace_id(i) for i in range(150)]
    assert all("next_page" not in a.json() and "X-Next-Page" not in a.headers for a in answers)
    assert capped.vendor("workato").listing_requests() == 5  # four pages, then the empty one


def test_workato_listing_next_page_names_the_next_page_in_the_body_null_on_the_last(emulator_factory: EmulatorFactory) -> None:
    served = emulator_factory(seed=3, rate_limits=False, workato={"workspaces": 150, "listing_next_page": "body"})
    answers = listing_pages(served, pages=2)
    assert [(len(a.json()["result"]), a.json()["next_page"]) for a in answers] == [(100, 2), (50, None)]
    assert served.vendor("workato").listing_requests() == 2


def test_workato_listing_next_page_header_names_the_next_page_absent_on_the_last(emulator_factory: EmulatorFactory) -> None:
    options = {"workspaces": 150, "listing_next_page": "header", "listing_page_cap": 60}
    served = emulator_factory(seed=3, rate_limits=False, workato=options)
    answers = listing_pages(served, pages=3)
    assert [(len(a.json()["result"]), a.headers.get("X-Next-Page")) for a in answers] == [(60, "2"), (60, "3"), (30, None)]
    assert all("next_page" not in a.json() for a in answers)
    assert served.vendor("workato").listing_requests() == 4  # the last page says nothing: an empty page 4 ends it


@pytest.mark.parametrize(
    ("option", "value"),
    [("row_names", "sideways"), ("listing_next_page", "footer"), ("listing_page_cap", 0), ("configured_timezone", "Mars/Olympus")],
)
def test_workato_an_unknown_variant_is_refused(option: str, value: Any) -> None:
    with pytest.raises((ValueError, KeyError)):
        Emulator(workato={option: value})


@pytest.mark.process  # the emulator's command line
def test_command_line_switches_the_workato_variants() -> None:
    flags = ("--workato-listing-next-page", "header", "--workato-listing-page-cap", "5", "--workato-row-names", "job_counts")
    with command_line("--rate-limit", "off", "--port", "0", *flags) as url:
        headers = {"Authorization": "Bearer workato-emulator-token"}
        page = requests.get(url + "/api/managed_users", params={"page": 1, "per_page": 100}, headers=headers, timeout=10)
        assert len(page.json()["result"]) == 5 and page.headers["X-Next-Page"] == "2"
        body = {**KOLKATA_DAY, "workspace_ids": [100_000], "interval": "none"}
        (row,) = requests.post(url + WORKATO_USAGE, json=body, headers=headers, timeout=10).json()["data"]
        assert "job_succeeded_count" in row and "successful_job_count" not in row


# --------------------------------------------------------------------------- paging faults (Options.paging_fault)


def test_workato_repeat_paging_ignores_page(emulator_factory: EmulatorFactory) -> None:
    broken = emulator_factory(now=PINNED, rate_limits=False, workato={"workspaces": 12, "paging_fault": "repeat"})
    first_page = [broken.vendor("workato").workspace_id(i) for i in range(5)]
    for page in (1, 2, 3, 50):
        rows = call(broken, "GET", "/api/managed_users", params={"page": page, "per_page": 5}).json()["result"]
        assert [row["id"] for row in rows] == first_page, page


@pytest.mark.process  # the emulator's command line
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
