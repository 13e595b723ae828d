"""The emulator itself: it enforces what the vendors enforce, and its fault switches work.

These run in-process against the ``emulator`` fixture over real HTTP, in well under a second
each; the connector is not involved.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import requests

from integration_tests.conftest import EmulatorFactory
from integration_tests.emulator import Emulator
from integration_tests.emulator.core import SlidingWindows, Window

JDY = "/api/v1/corp_usage/"
WORKATO_USAGE = "/api/v2/managed_users/statistics/usage"
#: 2026-06-16 04:00 in UTC+8, still 2026-06-15 in UTC: Jiandaoyun's T is 2026-06-16.
PINNED = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc)


def call(emulator: Emulator, method: str, path: str, key: Optional[str] = None, **kwargs: Any) -> requests.Response:
    prefixes = {"/api/v1/corp_usage": "jiandaoyun", "/api/v1/org": "tabnine", "/api/v2/org": "tabnine"}
    vendor = next((name for prefix, name in prefixes.items() if path.startswith(prefix)), "workato")
    token = key if key is not None else emulator.vendor(vendor).options.api_key
    return requests.request(method, emulator.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


@pytest.fixture
def pinned(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(seed=3, now=PINNED, rate_limits=False)


# --------------------------------------------------------------------------- Jiandaoyun


def test_jiandaoyun_wrong_key_is_code_8301(emulator: Emulator) -> None:
    answer = call(emulator, "POST", JDY + "overview", key="nope", json={})
    assert answer.status_code == 400 and answer.json()["code"] == 8301


def test_jiandaoyun_dates_run_from_t_minus_180_to_t_minus_1_in_utc8(pinned: Emulator) -> None:
    def status(day: Any) -> Any:
        answer = call(pinned, "POST", JDY + "overview", json={} if day is None else {"date": day})
        return answer.json().get("code") or answer.json()["date"]

    assert status(None) == status("") == "2026-06-15"  # omitted: T-1 in UTC+8, a day later than UTC
    assert status("2026-06-16") == 17017
    assert status(str(date(2026, 6, 16) - timedelta(days=180))) == "2025-12-18"
    assert status("2025-12-17") == 17017
    assert status("2026/06/01") == 17017


def test_jiandaoyun_limit_skip_and_ids_are_enforced(pinned: Emulator) -> None:
    jdy = pinned.vendor("jiandaoyun")
    for bad in ({"limit": 0}, {"limit": 101}, {"skip": -1}, {"member_ids": [jdy.member_id(i) for i in range(11)]}):
        answer = call(pinned, "POST", JDY + "member_metrics", json=bad)
        assert (answer.status_code, answer.json()["code"]) == (400, 17017), bad
    assert len(call(pinned, "POST", JDY + "member_metrics", json={}).json()["items"]) == 20  # default limit
    chosen = [jdy.member_id(7), jdy.member_id(3), "65f000000000000000000fff"]
    items = call(pinned, "POST", JDY + "member_metrics", json={"member_ids": chosen}).json()["items"]
    assert [item["member"]["member_id"] for item in items] == chosen[:2]


def test_jiandaoyun_pages_cover_every_member_once(pinned: Emulator) -> None:
    pinned.vendor("jiandaoyun").options.members = 230
    seen, skip, has_next = [], 0, True
    while has_next:
        page = call(pinned, "POST", JDY + "member_metrics", json={"date": "2026-06-01", "skip": skip, "limit": 100}).json()
        assert page["date"] == "2026-06-01"
        seen += [item["member"]["member_id"] for item in page["items"]]
        skip, has_next = skip + 100, page["has_next"]
    assert len(seen) == len(set(seen)) == 230


def test_jiandaoyun_items_have_the_documented_shapes_and_quirks(pinned: Emulator) -> None:
    members = call(pinned, "POST", JDY + "member_metrics", json={"limit": 100}).json()["items"]
    apps = call(pinned, "POST", JDY + "app_metrics", json={"limit": 40}).json()["items"]
    overview = call(pinned, "POST", JDY + "overview", json={}).json()
    documented = {"app", "form_coop", "form_workflow", "dash", "etl", "aggregate", "public_link"}
    documented |= {"data_trigger", "automation", "bpa", "data"}
    assert set(members[0]) == {"member", "metrics"} and set(members[0]["member"]) == {"member_id", "name"}
    assert set(apps[0]) == {"app_id", "app_name", "creator", "created_at", "last_edit_at", "last_visit_at", "metrics"}
    assert all(app[field].endswith("+08:00") for app in apps for field in ("created_at", "last_edit_at"))
    assert set(overview) == {"date", "metrics"} and set(overview["metrics"]) >= documented
    metrics = [item["metrics"] for item in members + apps]
    assert any("data" not in m for m in metrics), "some member items omit data, like the vendor's example"
    assert any(set(m) - documented for m in metrics), "some items carry a metric the connector does not know"
    assert all(isinstance(v, int) for m in metrics for v in m.values())


def test_jiandaoyun_rate_limit_is_per_endpoint(emulator_factory: EmulatorFactory) -> None:
    limited = emulator_factory(jiandaoyun={"requests_per_second": 2})
    answers = [call(limited, "POST", JDY + "member_metrics", json={}) for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert (answers[2].status_code, answers[2].json()["code"]) == (400, 8303)
    assert call(limited, "POST", JDY + "app_metrics", json={}).status_code == 200  # another endpoint, own window


def test_sliding_window_admits_again_when_the_oldest_request_leaves_it() -> None:
    windows, limit = SlidingWindows(), [("endpoint", Window(2, 1.0))]
    assert windows.admit(limit, 10.0) is None
    assert windows.admit(limit, 10.6) is None
    assert windows.admit(limit, 10.9) == pytest.approx(0.1)  # waits for 10.0 to leave the window
    assert windows.admit(limit, 11.0) is None  # arrivals, not fixed seconds: 11.0 - 10.0 = one second
    assert windows.admit(limit, 11.5) == pytest.approx(0.1)


def test_generation_is_lazy(emulator_factory: EmulatorFactory) -> None:
    big = emulator_factory(rate_limits=False, jiandaoyun={"members": 1_000_000})
    started = time.perf_counter()
    page = call(big, "POST", JDY + "member_metrics", json={"skip": 999_950, "limit": 100}).json()
    assert len(page["items"]) == 50 and page["has_next"] is False
    assert time.perf_counter() - started < 1.0


def test_jiandaoyun_ground_truth_is_what_the_api_serves(pinned: Emulator) -> None:
    pinned.vendor("jiandaoyun").correct("2026-06-01")
    served = call(pinned, "POST", JDY + "member_metrics", json={"date": "2026-06-01", "limit": 100}).json()["items"]
    truth = pinned.ground_truth("jiandaoyun_member_usage", start_date="2026-06-01", end_date="2026-06-01")
    assert [{key: record[key] for key in ("member", "metrics")} for record in truth[:100]] == served
    first = truth[0]
    assert first["date"] == "2026-06-01" and first["member_id"] == served[0]["member"]["member_id"]
    assert all(first[name] == served[0]["metrics"].get(name) for name in ("app", "bpa", "data"))


# --------------------------------------------------------------------------- Workato


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


# --------------------------------------------------------------------------- Tabnine


def test_tabnine_wrong_key_is_401_with_its_error_body(emulator: Emulator) -> None:
    answer = call(emulator, "GET", "/api/v1/organization", key="nope")
    assert answer.status_code == 401
    assert answer.json()["error"] == "Unauthorized" and answer.json()["status"] == 401


def test_tabnine_teams_and_users_page_with_meta_next(pinned: Emulator) -> None:
    for path, total in (("/api/v1/organization/teams", 5), ("/api/v1/organization/users", 60)):
        ids: List[str] = []
        offset: Optional[int] = 0
        while offset is not None:
            body = call(pinned, "GET", path, params={"offset": offset, "limit": 4}).json()
            assert body["meta"]["total"] == total and body["meta"]["count"] == len(body["data"])
            ids += [item["id"] for item in body["data"]]
            offset = (body["meta"]["next"] or {}).get("offset")
        assert len(ids) == len(set(ids)) == total
    inactive = call(pinned, "GET", "/api/v1/organization/users", params={"active": "false", "limit": 100}).json()
    assert inactive["data"] and all(not user["active"] and "deactivatedAt" in user for user in inactive["data"])


def test_tabnine_account_utilizations_are_zero_based_months_up_to_now(pinned: Emulator) -> None:
    rows = call(pinned, "GET", "/api/v1/organization/account-utilizations", params={"startDate": "2026-01"}).json()
    assert [(r["year"], r["month"]) for r in rows] == [(2026, m) for m in range(6)]  # January is 0; June is now
    default = call(pinned, "GET", "/api/v1/organization/account-utilizations").json()
    assert [(r["year"], r["month"]) for r in default][0] == (2025, 6) and len(default) == 12
    assert call(pinned, "GET", "/api/v1/organization/account-utilizations", params={"startDate": "2026-1"}).status_code == 400


def test_tabnine_usage_buckets_by_granularity(pinned: Emulator) -> None:
    org = call(pinned, "GET", "/api/v1/organization").json()["id"]
    window = {"organizationId": org, "from": "2026-05-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}
    daily = call(pinned, "GET", "/api/v2/organization/usage", params={**window, "granularity": "daily"}).json()
    monthly = call(pinned, "GET", "/api/v2/organization/usage", params={**window, "granularity": "monthly"}).json()
    assert daily["usage"]["granularity"] == "daily" and len(daily["usage"]["data"]) == 31
    (month,) = monthly["usage"]["data"]
    assert (month["from"], month["to"]) == ("2026-05-01T00:00:00.000Z", "2026-06-01T00:00:00.000Z")
    assert month["codeCompletions"]["suggestions"] == sum(d["codeCompletions"]["suggestions"] for d in daily["usage"]["data"])
    assert {"activeUsers", "codeCompletions", "chat", "agent"} <= set(month)
    assert call(pinned, "GET", "/api/v2/organization/usage", params={**window, "granularity": "hourly"}).status_code == 400


def test_tabnine_old_server_has_no_v2_and_v1_serves_all_history(pinned: Emulator) -> None:
    tabnine = pinned.vendor("tabnine")
    params = {"organizationId": tabnine.organization_id(), "from": "2026-06-01T00:00:00Z", "to": "2026-06-08T00:00:00Z",
              "granularity": "daily"}  # fmt: skip
    assert len(call(pinned, "GET", "/api/v1/organization/usage", params=params).json()["usage"]["data"]) == 0
    tabnine.options.v2_available = False
    assert call(pinned, "GET", "/api/v2/organization/usage", params=params).status_code == 404
    old = call(pinned, "GET", "/api/v1/organization/usage", params=params).json()["usage"]["data"]
    assert len(old) == 7 and "agent" not in old[0]


# --------------------------------------------------------------------------- faults, log, command line


def test_every_fault_kind_answers_as_switched(emulator: Emulator) -> None:
    path = JDY + "overview"
    emulator.faults.add("http_500", every=1, times=1)
    assert call(emulator, "POST", path, json={}).status_code == 500
    emulator.faults.add("http_429", every=1, times=1, retry_after=3)
    answer = call(emulator, "POST", path, json={})
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "3")
    emulator.faults.add("throttle", every=1, times=1)
    assert call(emulator, "POST", path, json={}).json()["code"] == 8303
    emulator.faults.add("invalid_json", every=1, times=1)
    answer = call(emulator, "POST", path, json={})
    assert answer.status_code == 200 and pytest.raises(ValueError, answer.json)
    emulator.faults.add("drop", every=1, times=1)
    with pytest.raises(requests.ConnectionError):
        call(emulator, "POST", path, json={})
    emulator.faults.add("slow", every=1, times=1, delay=0.3)
    started = time.perf_counter()
    assert call(emulator, "POST", path, json={}).status_code == 200
    assert time.perf_counter() - started >= 0.3
    log = emulator.log.entries(path)
    assert [(e.fault, e.status) for e in log] == [
        ("http_500", 500), ("http_429", 429), ("throttle", 400), ("invalid_json", 200), ("drop", None), ("slow", 200),
    ]  # fmt: skip
    assert log[0].method == "POST" and log[0].body == {} and log[0].vendor == "jiandaoyun"


def test_trickle_sends_status_and_headers_at_once_then_the_real_body_a_byte_per_delay(emulator: Emulator) -> None:
    path = "/api/v1/organization"
    whole = call(emulator, "GET", path).content
    emulator.faults.add("trickle", every=1, times=1, delay=0.005)
    started = time.perf_counter()
    answer = call(emulator, "GET", path, stream=True)
    assert answer.status_code == 200 and answer.headers["Content-Length"] == str(len(whole))
    assert time.perf_counter() - started < 0.5  # the head came at once
    first = answer.raw.read(5)
    assert first == whole[:5] and time.perf_counter() - started >= 0.025  # five bytes, five delays
    assert first + answer.raw.read() == whole
    assert time.perf_counter() - started >= 0.005 * len(whole)
    assert [(e.fault, e.status) for e in emulator.log.entries(path)][-1] == ("trickle", 200)


def test_hang_reads_the_request_and_never_answers_until_the_client_goes_away(emulator: Emulator) -> None:
    path = JDY + "overview"
    emulator.faults.add("hang", every=1, times=1)
    started = time.perf_counter()
    with pytest.raises(requests.ReadTimeout):
        requests.post(emulator.url + path, json={"x": 1}, timeout=(1, 0.5))
    assert 0.5 <= time.perf_counter() - started < 2
    (entry,) = emulator.log.entries(path)
    assert (entry.fault, entry.status, entry.body) == ("hang", None, {"x": 1})  # read, never answered
    assert call(emulator, "POST", path, json={}).status_code == 200  # the server serves on


def test_a_hanging_request_ends_when_the_emulator_stops(emulator_factory: EmulatorFactory) -> None:
    hanging = emulator_factory()
    hanging.faults.add("hang")
    with socket.create_connection(("127.0.0.1", int(hanging.url.rsplit(":", 1)[1])), timeout=5) as client:
        client.sendall(b"POST /api/v1/corp_usage/overview HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        time.sleep(0.2)
        hanging.stop()
        assert client.recv(100) == b""  # closed, nothing sent


@pytest.mark.parametrize(
    "option, header",
    [({"retry_after": 999999}, "999999"), ({"retry_after_header": "Fri, 01 Jan 2100 00:00:00 GMT"}, "Fri, 01 Jan 2100 00:00:00 GMT")],
    ids=["huge", "http-date"],
)
def test_http_429_sends_a_huge_retry_after_or_an_http_date(emulator: Emulator, option: Dict[str, Any], header: str) -> None:
    emulator.faults.add("http_429", every=1, times=1, **option)
    answer = call(emulator, "POST", JDY + "overview", json={})
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, header)


def test_every_nth_request_gets_the_fault(emulator: Emulator) -> None:
    emulator.faults.add("http_500", every=3, path="teams")
    statuses = [call(emulator, "GET", "/api/v1/organization/teams").status_code for _ in range(6)]
    assert statuses == [200, 200, 500, 200, 200, 500]
    assert call(emulator, "GET", "/api/v1/organization").status_code == 200  # another path: no fault


def test_command_line_prints_its_url_and_serves(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "integration_tests.emulator", "--members", "7", "--rate-limit", "off", "--port", "0"],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        headers: Dict[str, str] = {"Authorization": "Bearer jdy-emulator-key"}
        page = requests.post(f"{url}{JDY}member_metrics", json={"limit": 100}, headers=headers, timeout=10).json()
        assert len(page["items"]) == 7
    finally:
        process.terminate()
        process.wait(timeout=10)


# --------------------------------------------------------------------------- paging faults (Options.paging_fault)


def test_jiandaoyun_endless_paging_says_has_next_on_empty_pages_past_the_end(emulator_factory: EmulatorFactory) -> None:
    broken = emulator_factory(now=PINNED, rate_limits=False, jiandaoyun={"members": 230, "apps": 30, "paging_fault": "endless"})
    for path, sizes in (("member_metrics", [100, 100, 30, 0, 0]), ("app_metrics", [30, 0, 0, 0, 0])):
        pages = [call(broken, "POST", JDY + path, json={"skip": skip, "limit": 100}).json() for skip in range(0, 500, 100)]
        assert [len(page["items"]) for page in pages] == sizes, path
        assert [page["has_next"] for page in pages] == [True] * 5, path
    broken.vendor("jiandaoyun").options.paging_fault = None  # switched off while it runs: the real pager again
    assert call(broken, "POST", JDY + "member_metrics", json={"skip": 200, "limit": 100}).json()["has_next"] is False


def test_jiandaoyun_repeat_paging_ignores_skip_and_says_has_next_for_ever(emulator_factory: EmulatorFactory) -> None:
    broken = emulator_factory(now=PINNED, rate_limits=False, jiandaoyun={"members": 230, "paging_fault": "repeat"})
    jdy = broken.vendor("jiandaoyun")
    first_page = [jdy.member_id(i) for i in range(100)]
    for skip in (0, 100, 200, 5_000):
        page = call(broken, "POST", JDY + "member_metrics", json={"skip": skip, "limit": 100}).json()
        assert [item["member"]["member_id"] for item in page["items"]] == first_page, skip
        assert page["has_next"] is True
    small = call(broken, "POST", JDY + "app_metrics", json={"skip": 40, "limit": 100}).json()
    assert [item["app_id"] for item in small["items"]] == [jdy.app_id(i) for i in range(40)] and small["has_next"] is True


def tabnine_meta(emulator: Emulator, path: str, offset: int, limit: int) -> Dict[str, Any]:
    body = call(emulator, "GET", path, params={"offset": offset, "limit": limit}).json()
    assert body["meta"]["count"] == len(body["data"])
    return {"size": len(body["data"]), "next": body["meta"]["next"], "ids": [item["id"] for item in body["data"]]}


def test_tabnine_endless_paging_answers_empty_pages_with_a_moving_next(emulator_factory: EmulatorFactory) -> None:
    broken = emulator_factory(now=PINNED, rate_limits=False, tabnine={"teams": 5, "users": 60, "paging_fault": "endless"})
    for path, total, limit in (("/api/v1/organization/teams", 5, 2), ("/api/v1/organization/users", 60, 25)):
        pages = [tabnine_meta(broken, path, offset, limit) for offset in range(0, 5 * limit, limit)]
        assert [page["size"] for page in pages] == [min(limit, max(0, total - o)) for o in range(0, 5 * limit, limit)], path
        assert [page["next"] for page in pages] == [{"limit": limit, "offset": o + limit} for o in range(0, 5 * limit, limit)], path
        assert pages[-1]["size"] == 0 and pages[-2]["size"] == 0, f"{path}: past the end, empty pages saying there is more"


def test_tabnine_stuck_paging_points_the_last_page_at_itself(emulator_factory: EmulatorFactory) -> None:
    broken = emulator_factory(now=PINNED, rate_limits=False, tabnine={"teams": 5, "users": 60, "paging_fault": "stuck"})
    path = "/api/v1/organization/users"
    assert [tabnine_meta(broken, path, o, 25)["next"] for o in (0, 25)] == [{"limit": 25, "offset": 25}, {"limit": 25, "offset": 50}]
    last = tabnine_meta(broken, path, 50, 25)
    assert last["size"] == 10 and last["next"] == {"limit": 25, "offset": 50}
    assert tabnine_meta(broken, path, 50, 25) == last, "following next serves the same page again"
    teams = tabnine_meta(broken, "/api/v1/organization/teams", 0, 100)
    assert teams["size"] == 5 and teams["next"] == {"limit": 100, "offset": 0}


def test_workato_repeat_paging_ignores_page(emulator_factory: EmulatorFactory) -> None:
    broken = emulator_factory(now=PINNED, rate_limits=False, workato={"workspaces": 12, "paging_fault": "repeat"})
    first_page = [broken.vendor("workato").workspace_id(i) for i in range(5)]
    for page in (1, 2, 3, 50):
        rows = call(broken, "GET", "/api/managed_users", params={"page": page, "per_page": 5}).json()["result"]
        assert [row["id"] for row in rows] == first_page, page


@pytest.mark.parametrize("vendor", ["jiandaoyun", "tabnine", "workato"])
def test_an_unknown_paging_fault_is_refused(vendor: str) -> None:
    with pytest.raises(ValueError, match="unknown paging_fault 'sideways'"):
        Emulator(**{vendor: {"paging_fault": "sideways"}})


def test_command_line_switches_the_paging_faults(tmp_path: Path) -> None:
    flags = ["--jiandaoyun-paging-fault", "repeat", "--tabnine-paging-fault", "endless", "--workato-paging-fault", "repeat"]
    process = subprocess.Popen(
        [sys.executable, "-m", "integration_tests.emulator", "--rate-limit", "off", "--port", "0", *flags],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()

        def get(method: str, path: str, token: str, **kwargs: Any) -> Any:
            answer = requests.request(method, url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)
            assert answer.status_code == 200, answer.text
            return answer.json()

        jdy = get("POST", JDY + "member_metrics", "jdy-emulator-key", json={"skip": 1_000, "limit": 100})
        assert len(jdy["items"]) == 100 and jdy["has_next"] is True  # 250 members: skip 1,000 is the first page again
        teams = get("GET", "/api/v1/organization/teams", "tabnine-emulator-token", params={"offset": 10, "limit": 10})
        assert teams["data"] == [] and teams["meta"]["next"] == {"limit": 10, "offset": 20}
        page_one, page_two = (
            get("GET", "/api/managed_users", "workato-emulator-token", params={"page": n, "per_page": 5})["result"] for n in (1, 2)
        )
        assert page_one == page_two and len(page_one) == 5
    finally:
        process.terminate()
        process.wait(timeout=10)
