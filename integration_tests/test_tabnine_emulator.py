"""The Tabnine emulator: it enforces what Tabnine enforces, serves what it documents (an old server
too), and its paging faults break paging as switched. In-process over real HTTP; the connector is
not involved."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import pytest
import requests

from integration_tests.conftest import EmulatorFactory
from integration_tests.emulator import Emulator
from integration_tests.emulator_client import command_line, vendor_request

PINNED = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc)


def call(emulator: Emulator, method: str, path: str, key: Optional[str] = None, **kwargs: Any) -> requests.Response:
    return vendor_request(emulator, "tabnine", method, path, key, **kwargs)


@pytest.fixture
def pinned(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(seed=3, now=PINNED, rate_limits=False)


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


# --------------------------------------------------------------------------- paging faults (Options.paging_fault)


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


def test_command_line_switches_the_tabnine_paging_fault() -> None:
    with command_line("--rate-limit", "off", "--port", "0", "--tabnine-paging-fault", "endless") as url:
        params = {"offset": 10, "limit": 10}
        headers = {"Authorization": "Bearer tabnine-emulator-token"}
        answer = requests.get(url + "/api/v1/organization/teams", params=params, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        teams = answer.json()
        assert teams["data"] == [] and teams["meta"]["next"] == {"limit": 10, "offset": 20}
