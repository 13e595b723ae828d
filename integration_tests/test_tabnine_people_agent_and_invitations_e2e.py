"""End to end, issue 25's Tabnine streams: agent tokens and cost per user and per team
(``tabnine_user_agent_usage``, ``tabnine_team_agent_usage``) and pending invitations
(``tabnine_invitations``). The installed ``source-usage`` command against the emulated Tabnine
API; every sync is compared with the emulator's ground truth and its exact request counts.

Usage dates end two days before today in UTC (finished days whatever the minute the test runs).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any, Dict, List

import pytest

from emulator import Emulator
from integration_tests.assertions import assert_matches, assert_succeeded, keyed
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.runner import Run, configured_catalog
from integration_tests.test_tabnine_seats_e2e import TOKEN, answered, assert_valid, config, dates, warnings

USER_AGENT = "tabnine_user_agent_usage"
TEAM_AGENT = "tabnine_team_agent_usage"
INVITATIONS = "tabnine_invitations"
AGENT = "tabnine_agent_usage"
USER_USAGE = "tabnine_user_usage"
TEAMS = "tabnine_teams"
USERS = "tabnine_users"
USER_AGENT_PATH = "/api/v1/user/agent-usage"
TEAM_AGENT_PATH = "/api/v1/team/agent-usage"
INVITATIONS_PATH = "/api/invitation/v1"
USERS_PATH = "/api/v1/organization/users"
TEAMS_PATH = "/api/v1/organization/teams"
USER_COUNT, TEAM_COUNT = 20, 3
DAILY = {"user_usage_granularity": "daily"}


def tabnine(emulator_factory: EmulatorFactory, seed: int = 51, **options: Any) -> Emulator:
    return emulator_factory(seed=seed, tabnine={"api_token": TOKEN, "teams": TEAM_COUNT, "users": USER_COUNT, **options})


def failed(run: Run) -> Dict[str, str]:
    """The streams that failed, and their messages."""
    return {e["stream_descriptor"]["name"]: e["message"] for e in run.errors() if e.get("stream_descriptor")}


@pytest.mark.reads_today
def test_a_full_sync_of_the_three_streams_equals_the_ground_truth_with_one_request_per_user_and_team_per_window(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = tabnine(emulator_factory)
    start, end = dates(3)
    streams = [USER_AGENT, TEAM_AGENT, INVITATIONS, USERS, TEAMS]

    run = connector.read(config(emulator, start, end, **DAILY), configured_catalog(streams, "full_refresh"))

    assert_succeeded(run)
    filters = {"start_date": start, "end_date": end, "user_usage_granularity": "daily"}
    for stream in streams:
        assert_matches(stream, run.records(stream), emulator.ground_truth(stream, **filters))
        assert_valid(stream, run.records(stream))
    # Exact counts: 3 windows of 20 users and of 3 teams; each team's pending invitations.
    vendor = emulator.vendor("tabnine")
    assert len(run.records(USER_AGENT)) == 3 * USER_COUNT and len(run.records(TEAM_AGENT)) == 3 * TEAM_COUNT
    assert len(run.records(INVITATIONS)) == sum(vendor.pending_invitations(team) for team in range(TEAM_COUNT)) > 0
    # One request per user (team) per window, with the ids the listing gave, each once.
    user_requests = answered(emulator, USER_AGENT_PATH)
    asked = Counter((e.query["userId"][0], e.query["from"][0]) for e in user_requests)
    assert set(asked) == {(vendor.user_id(u), f"{start + timedelta(days=d)}T00:00:00Z") for u in range(USER_COUNT) for d in range(3)}
    assert set(asked.values()) == {1}
    assert all(e.query["granularity"] == ["all"] and e.query["organizationId"] == [vendor.organization_id()] for e in user_requests)
    assert len(answered(emulator, TEAM_AGENT_PATH)) == 3 * TEAM_COUNT
    # The listings the agent streams need are the ones tabnine_users and tabnine_teams read: once.
    assert len(answered(emulator, USERS_PATH)) == 4 and len(answered(emulator, TEAMS_PATH)) == 1
    assert [e.query["offset"] for e in answered(emulator, INVITATIONS_PATH)] == [["0"]]
    # A team's agent cost is its members' (the emulator sums them; the connector changes no number).
    by_user = keyed(USER_AGENT, run.records(USER_AGENT))
    for record in run.records(TEAM_AGENT):
        team = next(t for t in range(TEAM_COUNT) if vendor.team_id(t) == record["teamId"])
        members = [by_user[(record["period_start"], "daily", vendor.user_id(u))] for u in vendor.team_members(team)]
        assert record["totalTokensConsumed"] == sum(m["totalTokensConsumed"] for m in members)
        # Each cost is rounded to a millionth, the team's from its summed tokens per model: off
        # by at most half a millionth per member and model.
        rounding = 0.5e-6 * (len(members) + 1) * max(1, len(record.get("modelBreakdown") or []))
        assert record["totalCost"] == pytest.approx(sum(m["totalCost"] for m in members), abs=rounding + 1e-9)


@pytest.mark.reads_today
def test_an_incremental_sync_resumes_after_each_streams_cursor(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    emulator = tabnine(emulator_factory)
    start, end = dates(4)
    settings = config(emulator, start, end - timedelta(days=2), **DAILY)
    catalog = configured_catalog([USER_AGENT, TEAM_AGENT])
    first = connector.read(settings, catalog)
    assert_succeeded(first)
    for stream in (USER_AGENT, TEAM_AGENT):
        assert first.states(stream)[-1] == {"period_start": f"{end - timedelta(days=2)}T00:00:00+00:00"}
    emulator.log.clear()

    second = connector.read({**settings, "end_date": end.isoformat()}, catalog, state=first.last_states())

    assert_succeeded(second)
    filters = {"start_date": end - timedelta(days=1), "end_date": end, "user_usage_granularity": "daily"}
    for stream in (USER_AGENT, TEAM_AGENT):
        assert_matches(stream, second.records(stream), emulator.ground_truth(stream, **filters))
        assert second.states(stream)[-1] == {"period_start": f"{end}T00:00:00+00:00"}
    assert len(answered(emulator, USER_AGENT_PATH)) == 2 * USER_COUNT and len(answered(emulator, TEAM_AGENT_PATH)) == 2 * TEAM_COUNT
    assert {e.query["from"][0][:10] for e in answered(emulator, USER_AGENT_PATH)} == {str(end - timedelta(days=1)), str(end)}


def test_without_agent_licensed_both_streams_are_empty_with_one_warning_each_and_the_sync_succeeds(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = tabnine(emulator_factory, agent_usage="not_licensed")
    start, end = dates(3)

    run = connector.read(config(emulator, start, end, **DAILY), configured_catalog([USER_AGENT, TEAM_AGENT, USER_USAGE]))

    assert_succeeded(run)
    assert run.records(USER_AGENT) == run.records(TEAM_AGENT) == []
    filters = {"start_date": start, "end_date": end, "user_usage_granularity": "daily"}
    assert_matches(USER_USAGE, run.records(USER_USAGE), emulator.ground_truth(USER_USAGE, **filters))
    # The first request's 403 ends each stream: nothing more is asked, no state moves.
    assert [e.status for e in emulator.log.entries(USER_AGENT_PATH)] == [403]
    assert [e.status for e in emulator.log.entries(TEAM_AGENT_PATH)] == [403]
    for stream in (USER_AGENT, TEAM_AGENT):
        assert all(state == {} for state in run.states(stream)), run.states(stream)
        (warning,) = [line for line in warnings(run) if f"Stream '{stream}' is empty" in line]
        assert "FEATURE_NOT_AVAILABLE" in warning and "license does not include Agent" in warning


def test_a_cost_total_under_another_name_fails_both_agent_streams_naming_it_and_nothing_else(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = tabnine(emulator_factory, people_agent_cost_field="cost")
    start, end = dates(2)
    streams = [USER_AGENT, TEAM_AGENT, AGENT, USER_USAGE]

    run = connector.run("read", timeout=90, config=config(emulator, start, end, **DAILY), catalog=configured_catalog(streams))

    assert run.returncode != 0
    assert set(failed(run)) == {USER_AGENT, TEAM_AGENT}, run.describe()
    for stream, path in ((USER_AGENT, "api/v1/user/agent-usage"), (TEAM_AGENT, "api/v1/team/agent-usage")):
        message = failed(run)[stream]
        window = f"{start}T00:00:00+00:00"
        assert message.startswith(f"Tabnine {path} answered a bucket for the window from {window} without a number in 'totalCost'")
        assert "cost" in message.split("(the bucket has: ")[1].split(")")[0].split(", "), message
        assert run.records(stream) == [] and not run.states(stream)
    # The organisation's agent usage and the per-user usage depend on nothing in doubt: exact.
    filters = {"start_date": start, "end_date": end, "user_usage_granularity": "daily", "granularity": "daily"}
    assert_matches(AGENT, run.records(AGENT), emulator.ground_truth(AGENT, **filters))
    assert_matches(USER_USAGE, run.records(USER_USAGE), emulator.ground_truth(USER_USAGE, **filters))


def test_invitations_page_by_the_next_offset(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    emulator = tabnine(emulator_factory, invitations_per_team=90)  # 270: three pages of 100
    start, end = dates(1)

    run = connector.read(config(emulator, start, end), configured_catalog([INVITATIONS], "full_refresh"))

    assert_succeeded(run)
    assert_matches(INVITATIONS, run.records(INVITATIONS), emulator.ground_truth(INVITATIONS))
    assert len(run.records(INVITATIONS)) == 270
    assert [(e.query["offset"], e.query["limit"]) for e in answered(emulator, INVITATIONS_PATH)] == [
        (["0"], ["100"]),
        (["100"], ["100"]),
        (["200"], ["100"]),
    ]
    assert_valid(INVITATIONS, run.records(INVITATIONS))


def test_invitations_paged_as_the_teams_fail_the_stream_naming_meta_next_and_the_teams_sync(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = tabnine(emulator_factory, invitations_per_team=40, invitation_next="object")
    start, end = dates(1)

    run = connector.run("read", timeout=60, config=config(emulator, start, end), catalog=configured_catalog([INVITATIONS, TEAMS]))

    assert run.returncode != 0
    assert failed(run) == {
        INVITATIONS: "Tabnine api/invitation/v1 answered with a malformed body: 'meta.next' is neither null nor an integer offset "
        "(it is {'limit': 100, 'offset': 100})."
    }, run.describe()
    assert run.records(INVITATIONS) == []
    assert_matches(TEAMS, run.records(TEAMS), emulator.ground_truth(TEAMS))


def test_a_server_older_than_the_invitations_api_fails_that_stream_saying_to_deselect_it(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = tabnine(emulator_factory, v2_available=False)
    start, end = dates(1)

    run = connector.run("read", timeout=60, config=config(emulator, start, end), catalog=configured_catalog([INVITATIONS, TEAMS]))

    assert run.returncode != 0
    errors: List[Dict[str, Any]] = [e for e in run.errors() if e.get("stream_descriptor", {}).get("name") == INVITATIONS]
    assert errors and errors[0]["failure_type"] == "config_error", run.describe()
    assert "the server may predate the invitations API (Tabnine 6.2): deselect tabnine_invitations" in errors[0]["message"]
    assert set(failed(run)) == {INVITATIONS}
    assert_matches(TEAMS, run.records(TEAMS), emulator.ground_truth(TEAMS))
