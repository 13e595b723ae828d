"""End to end, issue 15's Tabnine streams: who holds a role, agent tokens and cost, usage per user
and per team. The installed ``source-usage`` command against the emulated Tabnine API; every
sync is compared with the emulator's ground truth and its exact record and request counts.

Usage dates end two days before today in UTC (finished days whatever the minute the test runs).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any, Dict, List, Tuple

import jsonschema
import pytest

from emulator import Emulator, LoggedRequest
from integration_tests.assertions import assert_matches, assert_succeeded
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.runner import SCHEMAS, Run, configured_catalog

TOKEN = 'tn-seats-"secret\\9d2e41b7c0'
PERMISSIONS = "tabnine_permissions"
AGENT = "tabnine_agent_usage"
USER_USAGE = "tabnine_user_usage"
TEAM_USAGE = "tabnine_team_usage"
USERS = "tabnine_users"
TEAMS = "tabnine_teams"
LICENSE = "tabnine_license"
PERMISSIONS_PATH = "/api/v1/instance/permissions"
AGENT_PATH = "/api/v1/organization/agent-usage"
USER_USAGE_PATH = "/api/v2/user/usage"
TEAM_USAGE_PATH = "/api/v2/team/usage"
USERS_PATH = "/api/v1/organization/users"
TEAMS_PATH = "/api/v1/organization/teams"
USER_COUNT, TEAM_COUNT = 20, 3


@pytest.fixture
def tabnine(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(seed=41, tabnine={"api_token": TOKEN, "teams": TEAM_COUNT, "users": USER_COUNT})


def dates(count: int) -> Tuple[date, date]:
    """The last ``count`` days ending two days before today in UTC."""
    end = datetime.now(UTC).date() - timedelta(days=2)
    return end - timedelta(days=count - 1), end


def config(emulator: Emulator, start: date, end: date, lookback_days: int = 0, **section: Any) -> Dict[str, Any]:
    return {
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "lookback_days": lookback_days,
        "tabnine": {"api_token": TOKEN, "base_url": emulator.url, "granularity": "daily", **section},
    }


def answered(emulator: Emulator, path: str) -> List[LoggedRequest]:
    return [e for e in emulator.log.entries(path) if e.path == path and e.status == 200]


def warnings(run: Run) -> List[str]:
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]


def assert_valid(stream: str, records: List[Dict[str, Any]]) -> None:
    validator = jsonschema.Draft7Validator(json.loads((SCHEMAS / f"{stream}.json").read_text()))
    assert not [error.message for record in records for error in validator.iter_errors(record)]


#: Issue 15's six streams, as discover must list them: (primary key, cursor field); no cursor is
#: full refresh only.
ISSUE_15_STREAMS = {
    LICENSE: ([["iat"]], None),
    PERMISSIONS: ([["role"], ["username"]], None),
    AGENT: ([["period_start"], ["granularity"]], ["period_start"]),
    USER_USAGE: ([["period_start"], ["granularity"], ["userId"]], ["period_start"]),
    TEAM_USAGE: ([["period_start"], ["granularity"], ["teamId"]], ["period_start"]),
    "workato_customer_workspaces": ([["id"]], None),
}


def test_discover_with_the_tabnine_and_workato_sections_lists_the_six_streams_with_their_keys_and_cursors(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = emulator_factory(seed=41, tabnine={"api_token": TOKEN}, workato={})
    start, end = dates(1)
    both = {**config(emulator, start, end), "workato": emulator.vendors["workato"].connector_section(emulator.url)}

    run = connector.discover(both)

    (catalog,) = [m["catalog"] for m in run.of_type("CATALOG")]
    streams = {stream["name"]: stream for stream in catalog["streams"]}
    assert {name for name in streams if not name.startswith(("tabnine_", "workato_"))} == set()
    for name, (key, cursor) in ISSUE_15_STREAMS.items():
        stream = streams[name]
        assert stream["source_defined_primary_key"] == key, name
        if cursor:
            assert stream["default_cursor_field"] == cursor, name
            assert stream["source_defined_cursor"] is True, name
            assert sorted(stream["supported_sync_modes"]) == ["full_refresh", "incremental"], name
        else:
            assert not stream.get("default_cursor_field"), name
            assert stream["supported_sync_modes"] == ["full_refresh"], name
    assert not emulator.log.entries(), "discover sends no request"


@pytest.mark.reads_today
def test_a_full_sync_of_the_four_streams_equals_the_ground_truth_with_one_request_per_user_and_team_per_window(
    connector: CheckedConnector, tabnine: Emulator
) -> None:
    start, end = dates(3)
    streams = [PERMISSIONS, AGENT, USER_USAGE, TEAM_USAGE, USERS, TEAMS]

    run = connector.read(config(tabnine, start, end, user_usage_granularity="daily"), configured_catalog(streams, "full_refresh"))

    assert_succeeded(run)
    filters = {"start_date": start, "end_date": end, "granularity": "daily", "user_usage_granularity": "daily"}
    for stream in streams:
        assert_matches(stream, run.records(stream), tabnine.ground_truth(stream, **filters))
        assert_valid(stream, run.records(stream))
    # Exact counts: 3 windows of 20 users and of 3 teams; one agent record a day.
    assert len(run.records(USER_USAGE)) == 3 * USER_COUNT == 60
    assert len(run.records(TEAM_USAGE)) == 3 * TEAM_COUNT == 9
    assert len(run.records(AGENT)) == 3
    assert Counter(r["role"] for r in run.records(PERMISSIONS))["Admin"] == 1
    # One request per user (team) per window, with the ids the listing gave, once each.
    users = tabnine.vendor("tabnine")
    user_requests = answered(tabnine, USER_USAGE_PATH)
    assert len(user_requests) == 60
    asked = Counter((e.query["userId"][0], e.query["from"][0]) for e in user_requests)
    assert set(asked) == {(users.user_id(u), f"{start + timedelta(days=d)}T00:00:00Z") for u in range(USER_COUNT) for d in range(3)}
    assert set(asked.values()) == {1}
    assert all(e.query["granularity"] == ["all"] and e.query["organizationId"] == [users.organization_id()] for e in user_requests)
    assert len(answered(tabnine, TEAM_USAGE_PATH)) == 9
    # The listings the usage streams need are the ones tabnine_users and tabnine_teams read: once.
    assert len(answered(tabnine, USERS_PATH)) == 4 and len(answered(tabnine, TEAMS_PATH)) == 1
    assert [e.query["role"] for e in answered(tabnine, PERMISSIONS_PATH)] == [["Admin"], ["Manager"], ["TeamLead"]]
    # Agent usage: from/to without milliseconds, one window each, the model breakdown whole.
    agent = answered(tabnine, AGENT_PATH)
    assert sorted(e.query["from"][0] for e in agent) == [f"{start + timedelta(days=d)}T00:00:00Z" for d in range(3)]  # read concurrently
    (first, *_) = sorted(run.records(AGENT), key=lambda r: r["period_start"])
    assert [m["model"] for m in first["modelBreakdown"]] == ["claude-sonnet-4", "gpt-4.1", "tabnine-protected"]
    assert first["totalCost"] == round(sum(m["cost"] for m in first["modelBreakdown"]), 6)


def test_idle_seats_are_users_whose_usage_is_zero_in_every_window(connector: CheckedConnector, tabnine: Emulator) -> None:
    # Every fifth user never uses the seat, and deactivated ones use nothing: the demo's question.
    start, end = dates(3)

    run = connector.read(config(tabnine, start, end, user_usage_granularity="daily"), configured_catalog([USER_USAGE]))

    assert_succeeded(run)
    active_days: Counter[str] = Counter()
    for record in run.records(USER_USAGE):
        active_days[record["userId"]] += record["activeUsers"]
    vendor = tabnine.vendor("tabnine")
    idle = {vendor.user_id(u) for u in range(USER_COUNT) if u % 5 == 4 or u % 11 == 5}
    assert {user for user, count in active_days.items() if count == 0} >= idle
    assert all("ides" not in r for r in run.records(USER_USAGE) if r["userId"] in idle)


@pytest.mark.reads_today
def test_user_and_team_usage_default_to_monthly_windows_one_request_per_user_per_month(
    connector: CheckedConnector, tabnine: Emulator
) -> None:
    # The two whole months before the current one (and part of the one before: not a whole month).
    this_month = datetime.now(UTC).date().replace(day=1)
    first_month = (this_month - timedelta(days=1)).replace(day=1) - timedelta(days=1)
    first_month = first_month.replace(day=1)
    start, end = first_month, this_month - timedelta(days=1)

    run = connector.read(config(tabnine, start, end), configured_catalog([USER_USAGE, TEAM_USAGE]))

    assert_succeeded(run)
    filters = {"start_date": start, "end_date": end}
    assert_matches(USER_USAGE, run.records(USER_USAGE), tabnine.ground_truth(USER_USAGE, **filters))
    assert_matches(TEAM_USAGE, run.records(TEAM_USAGE), tabnine.ground_truth(TEAM_USAGE, **filters))
    assert len(run.records(USER_USAGE)) == 2 * USER_COUNT and len(run.records(TEAM_USAGE)) == 2 * TEAM_COUNT
    assert {r["granularity"] for r in run.records(USER_USAGE)} == {"monthly"}
    assert sorted({e.query["from"][0] for e in answered(tabnine, USER_USAGE_PATH)}) == [
        f"{first_month}T00:00:00Z",
        f"{(first_month + timedelta(days=32)).replace(day=1)}T00:00:00Z",
    ]
    assert len(answered(tabnine, USER_USAGE_PATH)) == 2 * USER_COUNT
    assert datetime.fromisoformat(run.states(USER_USAGE)[-1]["period_start"]).date() == (first_month + timedelta(days=32)).replace(day=1)


def test_a_user_and_a_team_deleted_after_the_listing_are_skipped_with_a_warning_and_the_sync_succeeds(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    gone = emulator_factory(
        seed=42, tabnine={"api_token": TOKEN, "teams": TEAM_COUNT, "users": USER_COUNT, "deleted_users": 1, "deleted_teams": 1}
    )
    start, end = dates(2)

    run = connector.read(config(gone, start, end, user_usage_granularity="daily"), configured_catalog([USER_USAGE, TEAM_USAGE, USERS]))

    assert_succeeded(run)
    vendor = gone.vendor("tabnine")
    deleted_user, deleted_team = vendor.user_id(USER_COUNT - 1), vendor.team_id(TEAM_COUNT - 1)
    filters = {"start_date": start, "end_date": end, "user_usage_granularity": "daily"}
    assert_matches(USER_USAGE, run.records(USER_USAGE), vendor.ground_truth(USER_USAGE, **filters))
    assert_matches(TEAM_USAGE, run.records(TEAM_USAGE), vendor.ground_truth(TEAM_USAGE, **filters))
    assert len(run.records(USER_USAGE)) == 2 * (USER_COUNT - 1) and len(run.records(TEAM_USAGE)) == 2 * (TEAM_COUNT - 1)
    assert deleted_user in {r["id"] for r in run.records(USERS)}, "still listed"
    assert [e.status for e in gone.log.entries(USER_USAGE_PATH) if e.query["userId"] == [deleted_user]] == [404, 404]
    skipped = [line for line in warnings(run) if "skips" in line]
    assert sum(f"user '{deleted_user}'" in line and USER_USAGE in line for line in skipped) == 1, "one warning per id"
    assert sum(f"team '{deleted_team}'" in line and TEAM_USAGE in line for line in skipped) == 1
    assert len(skipped) == 2
    assert run.states(USER_USAGE) and run.states(TEAM_USAGE), "the cursors still move"


def test_agent_usage_without_agent_licensed_is_a_warning_and_an_empty_stream_and_the_sync_succeeds(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    unlicensed = emulator_factory(
        seed=43, tabnine={"api_token": TOKEN, "teams": TEAM_COUNT, "users": USER_COUNT, "agent_usage": "not_licensed"}
    )
    start, end = dates(3)

    run = connector.read(config(unlicensed, start, end), configured_catalog([AGENT, LICENSE]))

    assert_succeeded(run)
    assert run.records(AGENT) == [] == unlicensed.ground_truth(AGENT, start_date=start, end_date=end)
    assert "agent" not in run.records(LICENSE)[0]["features"]
    # The first window's 403 ends the stream: no other window is asked for, its state does not move.
    assert [e.status for e in unlicensed.log.entries(AGENT_PATH)] == [403]
    assert all(state == {} for state in run.states(AGENT)), run.states(AGENT)
    (warning,) = [line for line in warnings(run) if "FEATURE_NOT_AVAILABLE" in line]
    assert AGENT in warning and "license does not include Agent" in warning


def test_agent_usage_answering_another_403_is_a_config_error_naming_the_token(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    forbidden = emulator_factory(seed=44, tabnine={"api_token": TOKEN, "agent_usage": "forbidden"})
    start, end = dates(2)

    run = connector.read(config(forbidden, start, end), configured_catalog([AGENT]))

    assert run.returncode != 0 and not run.records(AGENT)
    assert any(
        e["failure_type"] == "config_error" and "Tabnine" in e["message"] and "tabnine.api_token" in e["message"] and "403" in e["message"]
        for e in run.errors()
    ), run.describe()


@pytest.mark.reads_today
def test_an_incremental_user_usage_sync_resumes_after_its_cursor(connector: CheckedConnector, tabnine: Emulator) -> None:
    start, end = dates(4)
    settings = config(tabnine, start, end - timedelta(days=2), user_usage_granularity="daily")
    catalog = configured_catalog([USER_USAGE, AGENT])
    first = connector.read(settings, catalog)
    assert_succeeded(first)
    assert datetime.fromisoformat(first.states(USER_USAGE)[-1]["period_start"]).date() == end - timedelta(days=2)
    tabnine.log.clear()

    second = connector.read({**settings, "end_date": end.isoformat()}, catalog, state=first.last_states())

    assert_succeeded(second)
    filters = {"start_date": end - timedelta(days=1), "end_date": end, "user_usage_granularity": "daily", "granularity": "daily"}
    assert_matches(USER_USAGE, second.records(USER_USAGE), tabnine.ground_truth(USER_USAGE, **filters))
    assert_matches(AGENT, second.records(AGENT), tabnine.ground_truth(AGENT, **filters))
    assert len(answered(tabnine, USER_USAGE_PATH)) == 2 * USER_COUNT
    assert datetime.fromisoformat(second.states(USER_USAGE)[-1]["period_start"]).date() == end
