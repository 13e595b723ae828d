"""The Tabnine emulator: it enforces what Tabnine enforces, serves what it documents (an old server
too), and its paging faults break paging as switched. In-process over real HTTP; the connector is
not involved."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import pytest
import requests

from emulator import Emulator
from integration_tests.conftest import EmulatorFactory
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


@pytest.mark.process  # the emulator's command line
def test_command_line_switches_the_tabnine_paging_fault() -> None:
    with command_line("--rate-limit", "off", "--port", "0", "--tabnine-paging-fault", "endless") as url:
        params = {"offset": 10, "limit": 10}
        headers = {"Authorization": "Bearer tabnine-emulator-token"}
        answer = requests.get(url + "/api/v1/organization/teams", params=params, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        teams = answer.json()
        assert teams["data"] == [] and teams["meta"]["next"] == {"limit": 10, "offset": 20}


# --------------------------------------------------------------------------- usage as one bucket (granularity=all)

WEEK = {"from": "2026-06-01T00:00:00Z", "to": "2026-06-08T00:00:00Z", "granularity": "all"}


def usage_buckets(emulator: Emulator, path: str = "/api/v2/organization/usage", **params: str) -> List[Dict[str, Any]]:
    query = {"organizationId": emulator.vendor("tabnine").organization_id(), **WEEK, **params}
    answer = call(emulator, "GET", path, params=query)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["usage"]["granularity"] == query["granularity"]
    buckets: List[Dict[str, Any]] = body["usage"]["data"]
    return buckets


def test_tabnine_granularity_all_answers_one_bucket_spanning_the_window_with_per_model_breakdowns(pinned: Emulator) -> None:
    (week,) = usage_buckets(pinned)
    daily = usage_buckets(pinned, granularity="daily")
    assert (week["from"], week["to"]) == ("2026-06-01T00:00:00.000Z", "2026-06-08T00:00:00.000Z")
    assert week["codeCompletions"]["suggestions"] == sum(d["codeCompletions"]["suggestions"] for d in daily)
    for group in ("chat", "agent"):
        models = week[group]["models"]
        assert [set(m) for m in models] == [{"model", "messages", "uniqueUsers", "inputTokens", "outputTokens"}] * 3
        assert len({m["model"] for m in models}) == 3 and all(len(m["model"]) == 36 for m in models)  # uuids
        assert all("models" not in d[group] for d in daily), "the 6.3 spec: models[] with granularity=all only"


def test_tabnine_v1_buckets_carry_productivity_factor_instruct_agent_chat_and_agent_agent(pinned: Emulator) -> None:
    pinned.vendor("tabnine").options.v2_available = False
    (week,) = usage_buckets(pinned, "/api/v1/organization/usage")
    assert {"productivityFactor", "instruct", "agentChat", "agentAgent"} <= set(week) and "agent" not in week
    assert isinstance(week["productivityFactor"], float) and set(week["instruct"]) == {"acceptedCount"}
    assert "models" not in week["chat"], "per-model breakdowns are v2's"


@pytest.mark.parametrize("path", ["/api/v2/organization/usage", "/api/v1/organization/usage"])
def test_tabnine_multi_bucket_answers_granularity_all_with_one_bucket_per_utc_day(emulator_factory: EmulatorFactory, path: str) -> None:
    server = emulator_factory(seed=3, now=PINNED, rate_limits=False, tabnine={"multi_bucket": True, "v2_available": "v2" in path})
    buckets = usage_buckets(server, path)
    assert [(b["from"], b["to"]) for b in buckets] == [
        (f"2026-06-0{day}T00:00:00.000Z", f"2026-06-0{day + 1}T00:00:00.000Z") for day in range(1, 8)
    ]
    one = emulator_factory(seed=3, now=PINNED, rate_limits=False, tabnine={"v2_available": "v2" in path})
    (week,) = usage_buckets(one, path)
    assert week["activeUsers"] == max(b["activeUsers"] for b in buckets)
    assert week["chat"]["messages"] == sum(b["chat"]["messages"] for b in buckets)
    truth = server.ground_truth("tabnine_organization_usage", start_date="2026-06-01", end_date="2026-06-07", granularity="weekly")
    assert [(r["period_start"], r["granularity"]) for r in truth] == [(f"2026-06-0{day}T00:00:00+00:00", "weekly") for day in range(1, 8)]


def test_tabnine_ground_truth_of_usage_is_the_window_asked_with_granularity_all(pinned: Emulator) -> None:
    (truth,) = pinned.vendor("tabnine").ground_truth(
        "tabnine_organization_usage", start_date="2026-06-01", end_date="2026-06-07", granularity="weekly"
    )
    (week,) = usage_buckets(pinned)
    assert truth == {
        "organizationId": pinned.vendor("tabnine").organization_id(),
        **week,
        "period_start": "2026-06-01T00:00:00+00:00",
        "period_end": "2026-06-08T00:00:00+00:00",
        "granularity": "weekly",
    }


# --------------------------------------------------------------------------- users: required parameters and shapes

USERS = "/api/v1/organization/users"


def test_tabnine_users_flags_required_answers_400_without_team_member_and_active(emulator_factory: EmulatorFactory) -> None:
    server = emulator_factory(seed=3, now=PINNED, rate_limits=False, tabnine={"users": 60, "users_flags_required": True})
    missing = call(server, "GET", USERS, params={"offset": 0, "limit": 100, "active": "true"})
    assert missing.status_code == 400
    assert missing.json() == {"error": {"message": "Validation Error", "errors": ["teamMember: Required"], "status": 400}}
    both = call(server, "GET", USERS, params={"offset": 0, "limit": 100, "teamMember": "false", "active": "false"})
    assert both.status_code == 200 and both.json()["data"]
    assert all("team" not in user and not user["active"] for user in both.json()["data"])


def test_tabnine_users_organization_required_answers_400_without_it_and_404_for_another(emulator_factory: EmulatorFactory) -> None:
    server = emulator_factory(seed=3, now=PINNED, rate_limits=False, tabnine={"users": 60, "users_organization_required": True})
    missing = call(server, "GET", USERS, params={"offset": 0, "limit": 100})
    assert missing.status_code == 400 and missing.json()["error"]["errors"] == ["organizationId: Required"]
    assert call(server, "GET", USERS, params={"organizationId": "org-other"}).status_code == 404
    right = call(server, "GET", USERS, params={"organizationId": server.vendor("tabnine").organization_id(), "limit": 100})
    assert right.status_code == 200 and len(right.json()["data"]) == 60


def test_tabnine_newer_user_shape_has_no_active_and_roles_and_teams_as_the_newer_spec(emulator_factory: EmulatorFactory) -> None:
    server = emulator_factory(seed=3, now=PINNED, rate_limits=False, tabnine={"teams": 3, "users": 60, "user_shape": "newer"})
    users = call(server, "GET", USERS, params={"offset": 0, "limit": 100}).json()["data"]
    assert len(users) == 60 and not any("active" in user for user in users)
    assert {user["role"] for user in users} <= {"Member", "TeamLead", "Manager", "Admin"} and users[0]["role"] == "Admin"
    in_team = [user for user in users if "team" in user]
    assert in_team and all(user["allowedTeams"] == [user["team"]] and "organizationId" in user["team"] for user in in_team)
    deactivated = call(server, "GET", USERS, params={"active": "false", "limit": 100}).json()["data"]
    assert deactivated and all("deactivatedAt" in user for user in deactivated), "the active filter still applies"
    truth = server.ground_truth("tabnine_users")
    assert [(r["teamMember"], r["active"]) for r in truth[:4]] == [(True, True), (True, True), (True, True), (False, True)]


def test_tabnine_users_filters_ignored_serves_every_user_in_every_listing(emulator_factory: EmulatorFactory) -> None:
    server = emulator_factory(seed=3, now=PINNED, rate_limits=False, tabnine={"users": 60, "users_filters_ignored": True})
    ids = [
        [user["id"] for user in call(server, "GET", USERS, params={"teamMember": t, "active": a, "limit": 100}).json()["data"]]
        for t in ("true", "false")
        for a in ("true", "false")
    ]
    assert all(listing == ids[0] for listing in ids) and len(ids[0]) == 60


def test_tabnine_teams_carry_seat_cap_and_pending_invitations(pinned: Emulator) -> None:
    teams = call(pinned, "GET", "/api/v1/organization/teams", params={"limit": 100}).json()["data"]
    assert all(isinstance(team["pendingInvitationsCount"], int) for team in teams)
    assert {type(team["seatCap"]) for team in teams} == {int, type(None)}, "a team without a cap has none"


def test_an_unknown_tabnine_user_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown user_shape 'older'; one of v1, newer"):
        Emulator(tabnine={"user_shape": "older"})


@pytest.mark.process  # the emulator's command line
def test_command_line_switches_the_tabnine_user_and_usage_variants() -> None:
    flags = ["--rate-limit", "off", "--port", "0", "--users-flags-required", "true", "--multi-bucket", "true", "--user-shape", "newer"]
    with command_line(*flags) as url:
        headers = {"Authorization": "Bearer tabnine-emulator-token"}
        refused = requests.get(url + USERS, params={"limit": 10}, headers=headers, timeout=10)
        assert refused.status_code == 400, refused.text
        served = requests.get(url + USERS, params={"limit": 10, "teamMember": "true", "active": "true"}, headers=headers, timeout=10)
        assert served.status_code == 200 and not any("active" in user for user in served.json()["data"])
        organization = requests.get(url + "/api/v1/organization", headers=headers, timeout=10).json()["id"]
        params = {"organizationId": organization, **WEEK}
        usage = requests.get(url + "/api/v2/organization/usage", params=params, headers=headers, timeout=10)
        assert len(usage.json()["usage"]["data"]) == 7


# --------------------------------------------------------------------------- issue 15's routes


def test_tabnine_permissions_list_the_active_holders_of_the_role_asked_for(pinned: Emulator) -> None:
    vendor = pinned.vendor("tabnine")
    organization = vendor.organization_id()
    admins = call(pinned, "GET", "/api/v1/instance/permissions", params={"role": "Admin"}).json()
    assert admins == [{"username": "dev0", "organizationId": organization}]
    managers = call(pinned, "GET", "/api/v1/instance/permissions", params={"role": "Manager"}).json()
    expected = [f"dev{u}" for u in range(60) if vendor.role(u) == "Manager" and u % 11 != 5]
    assert [holder["username"] for holder in managers] == expected and expected
    assert call(pinned, "GET", "/api/v1/instance/permissions", params={"role": "Owner"}).status_code == 400
    truth = vendor.ground_truth("tabnine_permissions")
    assert [r["role"] for r in truth] == sorted((r["role"] for r in truth), key=["Admin", "Manager", "TeamLead"].index)


def test_tabnine_agent_usage_enforces_organization_id_from_to_without_milliseconds_as_reported(pinned: Emulator) -> None:
    organization = pinned.vendor("tabnine").organization_id()
    window = {"from": "2026-06-01T00:00:00Z", "to": "2026-06-02T00:00:00Z"}
    path = "/api/v1/organization/agent-usage"
    missing = call(pinned, "GET", path, params=window)
    assert (missing.status_code, missing.json()["message"]) == (401, "Unauthorized: Invalid organization.")
    with_ms = {"organizationId": organization, "from": "2026-06-01T00:00:00.000Z", "to": "2026-06-02T00:00:00.000Z"}
    assert call(pinned, "GET", path, params=with_ms).status_code == 400
    spec_names = {"organizationId": organization, "startDate": window["from"], "endDate": window["to"]}
    assert call(pinned, "GET", path, params=spec_names).status_code == 500
    (point,) = call(pinned, "GET", path, params={"organizationId": organization, **window}).json()["usage"]["data"]
    assert point["totalCost"] == round(sum(model["cost"] for model in point["modelBreakdown"]), 6)
    assert point["totalTokensConsumed"] == point["totalInputTokens"] + point["totalOutputTokens"]
    assert [kind["agentType"] for kind in point["agentTypeBreakdown"]] == ["ide", "cli"]
    assert sum(kind["inputTokens"] for kind in point["agentTypeBreakdown"]) == point["totalInputTokens"]


@pytest.mark.parametrize(("variant", "error"), [("not_licensed", "FEATURE_NOT_AVAILABLE"), ("forbidden", "Forbidden")])
def test_tabnine_agent_usage_variants_answer_403(emulator_factory: EmulatorFactory, variant: str, error: str) -> None:
    server = emulator_factory(seed=3, now=PINNED, rate_limits=False, tabnine={"agent_usage": variant})
    params = {"organizationId": server.vendor("tabnine").organization_id(), "from": "2026-06-01T00:00:00Z", "to": "2026-06-02T00:00:00Z"}
    answer = call(server, "GET", "/api/v1/organization/agent-usage", params=params)
    assert (answer.status_code, answer.json()["error"]) == (403, error)
    assert ("agent" in server.vendor("tabnine").license()["license"]["features"]) == (variant == "forbidden")


def test_tabnine_user_usage_is_the_users_own_and_a_team_sums_its_members(pinned: Emulator) -> None:
    vendor = pinned.vendor("tabnine")
    window = {
        "organizationId": vendor.organization_id(),
        "from": "2026-06-01T00:00:00Z",
        "to": "2026-06-08T00:00:00Z",
        "granularity": "all",
    }
    members = vendor.team_members(1)
    users = [call(pinned, "GET", "/api/v2/user/usage", params={**window, "userId": vendor.user_id(u)}).json() for u in members]
    (team,) = call(pinned, "GET", "/api/v2/team/usage", params={**window, "teamId": vendor.team_id(1)}).json()["usage"]["data"]
    buckets = [body["usage"]["data"][0] for body in users]
    assert team["codeCompletions"]["completions"] == sum(b["codeCompletions"]["completions"] for b in buckets) > 0
    assert all(b["activeUsers"] in (0, 1) for b in buckets)
    assert all(("ides" in b) == (b["activeUsers"] == 1) for b in buckets) and "ides" not in team
    idle = call(pinned, "GET", "/api/v2/user/usage", params={**window, "userId": vendor.user_id(4)}).json()["usage"]["data"][0]
    assert idle["activeUsers"] == 0 and idle["codeCompletions"]["completions"] == 0, "every fifth user never uses the seat"
    no_org = {key: value for key, value in window.items() if key != "organizationId"}
    assert call(pinned, "GET", "/api/v2/user/usage", params={**no_org, "userId": vendor.user_id(0)}).status_code == 400


def test_tabnine_deleted_users_and_teams_are_listed_but_their_usage_answers_404(emulator_factory: EmulatorFactory) -> None:
    server = emulator_factory(
        seed=3, now=PINNED, rate_limits=False, tabnine={"users": 10, "teams": 3, "deleted_users": 2, "deleted_teams": 1}
    )
    vendor = server.vendor("tabnine")
    listed = [user["id"] for user in call(server, "GET", USERS, params={"limit": 100}).json()["data"]]
    assert vendor.user_id(9) in listed and vendor.user_id(8) in listed
    window = {
        "organizationId": vendor.organization_id(),
        "from": "2026-06-01T00:00:00Z",
        "to": "2026-06-02T00:00:00Z",
        "granularity": "all",
    }
    statuses = [call(server, "GET", "/api/v2/user/usage", params={**window, "userId": vendor.user_id(u)}).status_code for u in (7, 8, 9)]
    assert statuses == [200, 404, 404]
    assert call(server, "GET", "/api/v2/team/usage", params={**window, "teamId": vendor.team_id(2)}).status_code == 404
    truth = vendor.ground_truth("tabnine_user_usage", start_date="2026-06-01", end_date="2026-06-01", user_usage_granularity="daily")
    assert [r["userId"] for r in truth] == [vendor.user_id(u) for u in range(8)]


def test_an_unknown_tabnine_agent_usage_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown agent_usage 'maybe'; one of licensed, not_licensed, forbidden"):
        Emulator(tabnine={"agent_usage": "maybe"})
