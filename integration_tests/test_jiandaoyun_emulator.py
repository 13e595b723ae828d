"""The Jiandaoyun emulator: it enforces what Jiandaoyun enforces, serves what it documents, and its
paging faults break paging as switched. In-process over real HTTP; the connector is not involved."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import pytest
import requests

from emulator import Emulator
from integration_tests.conftest import EmulatorFactory
from integration_tests.emulator_client import command_line, vendor_request

JDY = "/api/v1/corp_usage/"
#: 2026-06-16 04:00 in UTC+8, still 2026-06-15 in UTC: Jiandaoyun's T is 2026-06-16.
PINNED = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc)
#: The command line's emulator serves the default key.
AUTH = {"Authorization": "Bearer jdy-emulator-key"}


def call(emulator: Emulator, method: str, path: str, key: Optional[str] = None, **kwargs: Any) -> requests.Response:
    return vendor_request(emulator, "jiandaoyun", method, path, key, **kwargs)


@pytest.fixture
def pinned(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(seed=3, now=PINNED, rate_limits=False)


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


def test_generation_is_lazy(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    big = emulator_factory(rate_limits=False, jiandaoyun={"members": 1_000_000})
    vendor = big.vendor("jiandaoyun")
    made: List[int] = []
    real_item = vendor.member_item
    monkeypatch.setattr(vendor, "member_item", lambda day, index: made.append(index) or real_item(day, index))
    page = call(big, "POST", JDY + "member_metrics", json={"skip": 999_950, "limit": 100}).json()
    assert len(page["items"]) == 50 and page["has_next"] is False
    assert made == list(range(999_950, 1_000_000))  # the page's members only, not the million before them


def test_jiandaoyun_ground_truth_is_what_the_api_serves(pinned: Emulator) -> None:
    pinned.vendor("jiandaoyun").correct("2026-06-01")
    served = call(pinned, "POST", JDY + "member_metrics", json={"date": "2026-06-01", "limit": 100}).json()["items"]
    truth = pinned.ground_truth("jiandaoyun_member_usage", start_date="2026-06-01", end_date="2026-06-01")
    assert [{key: record[key] for key in ("member", "metrics")} for record in truth[:100]] == served
    first = truth[0]
    assert first["date"] == "2026-06-01" and first["member_id"] == served[0]["member"]["member_id"]
    assert all(first[name] == served[0]["metrics"].get(name) for name in ("app", "bpa", "data"))


def test_jiandaoyun_throttle_fault_is_its_own_answer_code_8303(emulator: Emulator) -> None:
    # The core's fault kinds are tested in test_emulator.py; ``throttle`` answers as the vendor does.
    emulator.faults.add("throttle", every=1, times=1)
    assert call(emulator, "POST", JDY + "overview", json={}).json()["code"] == 8303
    log = emulator.log.entries(JDY + "overview")
    assert [(e.fault, e.status) for e in log] == [("throttle", 400)]
    assert log[0].method == "POST" and log[0].body == {} and log[0].vendor == "jiandaoyun"


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


# --------------------------------------------------------------------------- the command line


@pytest.mark.process  # the emulator's command line
def test_command_line_prints_its_url_and_serves() -> None:
    with command_line("--members", "7", "--rate-limit", "off", "--port", "0") as url:
        assert url.startswith("http://127.0.0.1:")
        headers: Dict[str, str] = {"Authorization": "Bearer jdy-emulator-key"}
        page = requests.post(f"{url}{JDY}member_metrics", json={"limit": 100}, headers=headers, timeout=10).json()
        assert len(page["items"]) == 7


@pytest.mark.process  # the emulator's command line
def test_command_line_switches_the_jiandaoyun_paging_fault() -> None:
    with command_line("--rate-limit", "off", "--port", "0", "--jiandaoyun-paging-fault", "repeat") as url:
        answer = requests.post(url + JDY + "member_metrics", json={"skip": 1_000, "limit": 100}, headers=AUTH, timeout=10)
        assert answer.status_code == 200, answer.text
        jdy = answer.json()
        assert len(jdy["items"]) == 100 and jdy["has_next"] is True  # 250 members: skip 1,000 is the first page again


# --------------------------------------------------------------------------- what the evidence does not settle (issue 13)

V1 = {"app", "form_coop", "form_workflow", "dash", "etl", "aggregate", "public_link", "data_trigger", "automation", "bpa", "data"}
V2 = {"daily_automation_exec", "daily_attachment_upload"}
NOT_PURCHASED = {"code": 8302, "msg": "No API permission: the usage statistics feature is not purchased (未购买用量统计功能)"}


def metrics_of(emulator: Emulator) -> Any:
    """The metrics objects of the first 100 members, of every app (up to 100) and of the overview, on T-1."""
    members = [item["metrics"] for item in call(emulator, "POST", JDY + "member_metrics", json={"limit": 100}).json()["items"]]
    apps = [item["metrics"] for item in call(emulator, "POST", JDY + "app_metrics", json={"limit": 100}).json()["items"]]
    return members, apps, call(emulator, "POST", JDY + "overview", json={}).json()["metrics"]


def test_jiandaoyun_app_and_overview_serve_the_v2_metrics_and_members_stay_v1(pinned: Emulator) -> None:
    members, apps, overview = metrics_of(pinned)
    assert all(set(m) == V1 | V2 for m in apps) and set(overview) == V1 | V2
    assert all(isinstance(m[name], int) and m[name] >= 0 for m in [*apps, overview] for name in V2)
    # Members: v1, some without data, about one in six with daily_automation_exec, a metric the endpoint does not document.
    assert all(V1 - {"data"} <= set(m) <= V1 | {"daily_automation_exec"} for m in members)
    assert 10 <= sum("daily_automation_exec" in m for m in members) <= 30
    assert not any("daily_attachment_upload" in m for m in members)


def test_jiandaoyun_usage_v2_off_serves_only_v1_metrics_on_apps_and_overview(pinned: Emulator) -> None:
    pinned.vendor("jiandaoyun").options.usage_v2 = False
    _, apps, overview = metrics_of(pinned)
    assert all(V1 <= set(m) <= V1 | {"daily_automation_exec"} for m in [*apps, overview])
    assert not any("daily_attachment_upload" in m for m in [*apps, overview])


def test_jiandaoyun_statistics_disabled_answers_every_metric_0_with_the_same_keys(pinned: Emulator) -> None:
    enabled = metrics_of(pinned)
    pinned.vendor("jiandaoyun").options.statistics_enabled = False
    disabled = metrics_of(pinned)
    assert [[set(m) for m in group] for group in disabled[:2]] == [[set(m) for m in group] for group in enabled[:2]]
    assert set(disabled[2]) == set(enabled[2])
    assert {value for m in [*disabled[0], *disabled[1], disabled[2]] for value in m.values()} == {0}
    truth = pinned.ground_truth("jiandaoyun_app_usage", start_date="2026-06-15", end_date="2026-06-15")
    assert {record[name] for record in truth for name in V1 | V2} == {0}


def test_jiandaoyun_feature_not_purchased_answers_403_on_every_usage_endpoint(pinned: Emulator) -> None:
    pinned.vendor("jiandaoyun").options.feature_purchased = False
    for endpoint in ("member_metrics", "app_metrics", "overview"):
        answer = call(pinned, "POST", JDY + endpoint, json={"date": "2026-06-15"})
        assert (answer.status_code, answer.json()) == (403, NOT_PURCHASED), endpoint
    wrong = call(pinned, "POST", JDY + "overview", key="nope", json={})  # a wrong key is still told as one
    assert (wrong.status_code, wrong.json()["code"]) == (400, 8301)


def test_jiandaoyun_ground_truth_types_the_v2_metrics_on_apps_and_overview_only(pinned: Emulator) -> None:
    day = {"start_date": "2026-06-15", "end_date": "2026-06-15"}
    served = call(pinned, "POST", JDY + "app_metrics", json={"date": "2026-06-15", "limit": 100}).json()["items"]
    apps = pinned.ground_truth("jiandaoyun_app_usage", **day)
    assert [{name: record[name] for name in V2} for record in apps] == [{name: item["metrics"][name] for name in V2} for item in served]
    (overview,) = pinned.ground_truth("jiandaoyun_overview_usage", **day)
    assert {name: overview[name] for name in V2} == {name: overview["metrics"][name] for name in V2}
    assert not any(V2 & set(record) for record in pinned.ground_truth("jiandaoyun_member_usage", **day))


@pytest.mark.parametrize(("status", "code"), [(429, 17018), (429, 8301), (502, 8303), (502, 17018)])
def test_jiandaoyun_429_and_502_with_a_body_code_are_the_reply_fault_then_the_real_answer(pinned: Emulator, status: int, code: int) -> None:
    pinned.faults.add("reply", path="member_metrics", times=1, status=status, body={"code": code, "msg": "injected"})
    first = call(pinned, "POST", JDY + "member_metrics", json={"limit": 10})
    second = call(pinned, "POST", JDY + "member_metrics", json={"limit": 10})
    assert (first.status_code, first.json()) == (status, {"code": code, "msg": "injected"})
    assert second.status_code == 200 and len(second.json()["items"]) == 10


@pytest.mark.process  # the emulator's command line
def test_command_line_switches_the_jiandaoyun_variants() -> None:
    flags = ("--rate-limit", "off", "--port", "0", "--jiandaoyun-statistics-enabled", "false", "--jiandaoyun-usage-v2", "false")
    with command_line(*flags) as url:
        metrics = requests.post(url + JDY + "overview", json={}, headers=AUTH, timeout=10).json()["metrics"]
        assert set(metrics.values()) == {0} and not V2 <= set(metrics)
    with command_line("--rate-limit", "off", "--port", "0", "--jiandaoyun-feature-purchased", "false") as url:
        assert requests.post(url + JDY + "overview", json={}, headers=AUTH, timeout=10).status_code == 403
