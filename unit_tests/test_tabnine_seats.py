"""Issue 15's Tabnine streams against in-process HTTP mocks: who holds a role
(``tabnine_permissions``), agent tokens and cost (``tabnine_agent_usage``), and usage per user and
per team (``tabnine_user_usage``, ``tabnine_team_usage``), one test per promised behaviour.

The clock is frozen at 2026-06-10 12:00 UTC (``unit_tests.conftest``); the configs read
2026-06-08 and 2026-06-09.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import pytest
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse

from integration_tests.assertions import with_period_note
from source_usage import SourceUsage
from source_usage.vendors.tabnine import Tabnine
from unit_tests.conftest import Sleeps
from unit_tests.helpers import VerifiedHttpMocker, all_output_lines, read_streams
from unit_tests.test_tabnine import (
    BASE_URL,
    LICENSE,
    ORG_ID,
    ORGANIZATION,
    SECRET,
    TEAMS,
    assert_records_match_their_schemas,
    json_response,
    list_page,
    mock_users,
    organization_response,
    stream_states,
    tabnine_config,
)

PERMISSIONS = BASE_URL + "/api/v1/instance/permissions"
AGENT = BASE_URL + "/api/v1/organization/agent-usage"
USER_USAGE = BASE_URL + "/api/v2/user/usage"
TEAM_USAGE = BASE_URL + "/api/v2/team/usage"
DAY_1 = ("2026-06-08T00:00:00Z", "2026-06-09T00:00:00Z")
DAY_2 = ("2026-06-09T00:00:00Z", "2026-06-10T00:00:00Z")
STATE_1, STATE_2 = {"period_start": "2026-06-08T00:00:00+00:00"}, {"period_start": "2026-06-09T00:00:00+00:00"}


def daily(**section: Any) -> Dict[str, Any]:
    return tabnine_config(tabnine={"user_usage_granularity": "daily", **section})


def warnings(output: EntrypointOutput) -> List[str]:
    return [log.log.message for log in output.logs if log.log.level.value == "WARN"]


# --- spec -----------------------------------------------------------------------------------


def test_the_per_user_window_is_its_own_setting_monthly_by_default_and_states_the_request_count() -> None:
    properties = SourceUsage().spec(logging.getLogger("test")).connectionSpecification["properties"]["tabnine"]["properties"]
    setting = properties["user_usage_granularity"]
    assert setting["enum"] == ["daily", "weekly", "monthly"] and setting["default"] == "monthly"
    assert "one request per user (and one per team) per window" in setting["description"]
    assert "500 users over 90 days are 1,500 requests monthly" in setting["description"]


def test_an_unknown_user_usage_granularity_is_a_config_error_naming_the_field() -> None:
    status = SourceUsage().check(logging.getLogger("test"), tabnine_config(tabnine={"user_usage_granularity": "hourly"}))
    assert status.status.value == "FAILED"
    assert "tabnine.user_usage_granularity" in status.message


# --- tabnine_permissions --------------------------------------------------------------------


def permissions_request(role: str) -> HttpRequest:
    return HttpRequest(PERMISSIONS, query_params={"role": role})


def test_permissions_ask_for_admin_manager_and_teamlead_and_each_record_is_one_user_with_its_role(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(permissions_request("Admin"), json_response([{"username": "ada@acme.test", "organizationId": ORG_ID}]))
        # An enveloped list reads the same; a user holding two roles is two records.
        manager = {
            "data": [{"username": "bob@acme.test", "organizationId": ORG_ID}, {"username": "ada@acme.test", "organizationId": ORG_ID}]
        }
        http.get(permissions_request("Manager"), json_response(manager))
        http.get(permissions_request("TeamLead"), json_response([]))
        output = read_streams(tabnine_config(), ["tabnine_permissions"], sync_mode=SyncMode.full_refresh)
    assert not output.errors
    assert [(m.record.data["role"], m.record.data["username"]) for m in output.records] == [
        ("Admin", "ada@acme.test"),
        ("Manager", "bob@acme.test"),
        ("Manager", "ada@acme.test"),
    ]
    assert output.records[0].record.data == {"username": "ada@acme.test", "organizationId": ORG_ID, "role": "Admin"}
    assert_records_match_their_schemas(output)


def test_a_permission_without_username_fails_naming_the_field(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(permissions_request("Admin"), json_response([{"email": "ada@acme.test"}]))
        output = read_streams(tabnine_config(), ["tabnine_permissions"], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    assert output.records == []
    message = output.errors[0].trace.error.message
    assert "api/v1/instance/permissions" in message and "'username'" in message and "email" in message, message


def test_a_permissions_answer_that_is_not_a_list_is_malformed_naming_the_endpoint(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(permissions_request("Admin"), json_response({"users": []}))
        output = read_streams(tabnine_config(), ["tabnine_permissions"], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    assert output.errors[0].trace.error.message == ("Tabnine api/v1/instance/permissions answered with a malformed body: no 'data' list.")


# --- tabnine_agent_usage --------------------------------------------------------------------


def agent_request(start: str, end: str) -> HttpRequest:
    return HttpRequest(AGENT, query_params={"organizationId": ORG_ID, "from": start, "to": end, "granularity": "all"})


def agent_point(start: str, end: str, cost: float = 1.25) -> Dict[str, Any]:
    models = [
        {"model": "claude-sonnet-4", "tokensConsumed": 1200, "inputTokens": 1000, "outputTokens": 200, "cost": cost},
        {"model": "gpt-4.1", "tokensConsumed": 300, "inputTokens": 250, "outputTokens": 50, "cost": 0.0},
    ]
    by_type = [
        {"agentType": "cli", "activeUsers": 1, "tokensConsumed": 1500, "cost": cost, "userInitiatedMessages": 4, "modelBreakdown": models}
    ]
    return {
        "from": start,
        "to": end,
        "activeUsers": 2,
        "totalTokensConsumed": 1500,
        "totalInputTokens": 1250,
        "totalOutputTokens": 250,
        "totalCost": cost,
        "modelBreakdown": models,
        "agentTypeBreakdown": by_type,
    }


def agent_response(start: str, end: str, cost: float = 1.25) -> HttpResponse:
    body = {"organizationId": ORG_ID, "from": start, "to": end, "usage": {"granularity": "all", "data": [agent_point(start, end, cost)]}}
    return json_response(body)


def test_agent_usage_is_one_record_per_window_asked_without_milliseconds_keeping_the_breakdowns_whole(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(agent_request(*DAY_1), agent_response(*DAY_1, cost=1.25))
        http.get(agent_request(*DAY_2), agent_response(*DAY_2, cost=0.5))
        output = read_streams(tabnine_config(), ["tabnine_agent_usage"])
    assert not output.errors
    records = [m.record.data for m in output.records]
    assert [(r["period_start"], r["granularity"], r["totalCost"]) for r in records] == [
        ("2026-06-08T00:00:00+00:00", "daily", 1.25),
        ("2026-06-09T00:00:00+00:00", "daily", 0.5),
    ]
    assert records[0] == {
        "organizationId": ORG_ID,
        **agent_point(*DAY_1, cost=1.25),
        "period_start": "2026-06-08T00:00:00+00:00",
        "period_end": "2026-06-09T00:00:00+00:00",
        "granularity": "daily",
    }
    assert stream_states(output) == [STATE_1, STATE_2]
    assert_records_match_their_schemas(output)


def feature_not_available() -> HttpResponse:
    body = {"error": "FEATURE_NOT_AVAILABLE", "message": "The Agent feature is not included in your account's license."}
    return json_response(body, status=403)


def test_feature_not_available_is_one_warning_naming_the_stream_an_empty_stream_and_no_further_request(clock: Sleeps) -> None:
    license_object = {"iat": 1735689600, "exp": 1893456000, "seats": 5, "features": ["chat"]}
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(agent_request(*DAY_1), feature_not_available())  # DAY_2 is not mocked: asking for it fails the test
        http.get(HttpRequest(LICENSE), json_response({"license": license_object}))
        saved = {"period_start": "2026-06-07T00:00:00+00:00"}  # the sync reads 06-08 and 06-09 after it
        config = tabnine_config(start_date="2026-06-07")
        output = read_streams(config, ["tabnine_agent_usage", "tabnine_license"], state={"tabnine_agent_usage": saved})
    assert not output.errors
    assert [m.record.stream for m in output.records] == ["tabnine_license"], "the sync goes on"
    assert warnings(output) == [
        "Stream 'tabnine_agent_usage' is empty: Tabnine api/v1/organization/agent-usage answered HTTP 403 FEATURE_NOT_AVAILABLE "
        "(The Agent feature is not included in your account's license.), so the organisation's Tabnine license does not include "
        "Agent. No further window is asked for and the stream's state stays where it was; the sync goes on."
    ]
    agent_states = [
        dict(m.state.stream.stream_state.__dict__)
        for m in output.state_messages
        if m.state.stream.stream_descriptor.name == "tabnine_agent_usage"
    ]
    assert agent_states and all(state == {"period_start": "2026-06-07T00:00:00+00:00"} for state in agent_states), agent_states


def test_a_nested_feature_not_available_code_is_read_the_same(clock: Sleeps) -> None:
    body = {"error": {"code": "FEATURE_NOT_AVAILABLE", "message": "Agent is not licensed"}, "status": 403}
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(agent_request(*DAY_1), json_response(body, status=403))
        output = read_streams(tabnine_config(), ["tabnine_agent_usage"])
    assert not output.errors and output.records == []
    assert len(warnings(output)) == 1 and "(Agent is not licensed)" in warnings(output)[0]


def test_any_other_403_of_agent_usage_stays_a_config_error_naming_the_token(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(agent_request(*DAY_1), json_response({"error": "Forbidden", "message": "Insufficient permissions"}, status=403))
        output = read_streams(tabnine_config(), ["tabnine_agent_usage"], expecting_exception=True)
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.config_error
    assert "Tabnine rejected the credentials (HTTP 403: Insufficient permissions)" in error.message
    assert "tabnine.api_token" in error.message
    assert not warnings(output)


# --- tabnine_user_usage and tabnine_team_usage ----------------------------------------------


def user(user_id: str) -> Dict[str, Any]:
    return {"id": user_id, "username": user_id, "email": f"{user_id}@acme.test", "role": "Member", "verified": True}


def entity_request(url: str, id_field: str, entity_id: str, start: str, end: str) -> HttpRequest:
    query = {"organizationId": ORG_ID, id_field: entity_id, "from": start, "to": end, "granularity": "all"}
    return HttpRequest(url, query_params=query)


def v2_bucket(start: str, end: str, completions: int, ides: Optional[str] = "vscode") -> Dict[str, Any]:
    bucket: Dict[str, Any] = {
        "from": start,
        "to": end,
        "activeUsers": 1 if completions else 0,
        "codeCompletions": {"activeUsers": 1, "completions": completions, "charsCompleted": 10 * completions, "keystrokes": 3, "lines": 2},
        "chat": {"activeUsers": 0, "messages": 0, "linesAdded": 0},
        "agent": {"activeUsers": 1, "messages": 2, "linesAdded": 9, "linesAddedAccepted": 4, "linesRemoved": 1, "linesRemovedAccepted": 0},
    }
    if ides is not None:
        bucket.update(ides=ides, languages="python,go")
    return bucket


def entity_response(id_field: str, entity_id: str, start: str, end: str, completions: int, ides: Optional[str] = "vscode") -> HttpResponse:
    usage = {"granularity": "all", "data": [v2_bucket(start, end, completions, ides)]}
    return json_response({"organizationId": ORG_ID, id_field: entity_id, "from": start, "to": end, "usage": usage})


ORGANIZATION_USAGE = BASE_URL + "/api/v2/organization/usage"


def organization_totals(http: VerifiedHttpMocker, start: str, end: str, *completions: int) -> None:
    """The organisation's usage of one window: the sum of the buckets of users with ``completions``
    (what ``tabnine_user_usage`` compares its users' sums with after the window)."""
    buckets = [v2_bucket(start, end, count) for count in completions]
    total: Dict[str, Any] = {"from": start, "to": end, "activeUsers": sum(bucket["activeUsers"] for bucket in buckets)}
    for group in ("codeCompletions", "chat", "agent"):
        total[group] = {name: sum(bucket[group][name] for bucket in buckets) for name in buckets[0][group]}
    request = HttpRequest(ORGANIZATION_USAGE, query_params={"organizationId": ORG_ID, "from": start, "to": end, "granularity": "all"})
    usage = {"granularity": "all", "data": [total]}
    http.get(request, json_response({"organizationId": ORG_ID, "from": start, "to": end, "usage": usage}))


def user_not_found() -> HttpResponse:
    return json_response({"error": "Not Found", "message": "User not found", "status": 404}, status=404)


def test_user_usage_is_one_request_per_listed_user_per_window_and_the_listing_is_read_once(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        # Both listed users, active (in a team) and deactivated (no team): every user's usage is read.
        mock_users(http, {("true", "true"): list_page([user("u1")], None), ("false", "false"): list_page([user("u2")], None)})
        for start, end in (DAY_1, DAY_2):
            http.get(entity_request(USER_USAGE, "userId", "u1", start, end), entity_response("userId", "u1", start, end, 7))
            http.get(entity_request(USER_USAGE, "userId", "u2", start, end), entity_response("userId", "u2", start, end, 0, ides=None))
            organization_totals(http, start, end, 7, 0)
        output = read_streams(daily(), ["tabnine_users", "tabnine_user_usage"])
    assert not output.errors  # each listing mocked once: tabnine_users and the usage share one listing
    usage = [m.record.data for m in output.records if m.record.stream == "tabnine_user_usage"]
    assert [(r["period_start"], r["userId"], r["codeCompletions"]["completions"]) for r in usage] == [
        ("2026-06-08T00:00:00+00:00", "u1", 7),
        ("2026-06-08T00:00:00+00:00", "u2", 0),
        ("2026-06-09T00:00:00+00:00", "u1", 7),
        ("2026-06-09T00:00:00+00:00", "u2", 0),
    ]
    assert usage[0] == {
        "organizationId": ORG_ID,
        **v2_bucket(*DAY_1, 7),
        "userId": "u1",
        "period_start": "2026-06-08T00:00:00+00:00",
        "period_end": "2026-06-09T00:00:00+00:00",
        "granularity": "daily",
    }
    assert (usage[0]["ides"], usage[0]["languages"]) == ("vscode", "python,go") and "ides" not in usage[1]
    assert [m.record.data["id"] for m in output.records if m.record.stream == "tabnine_users"] == ["u1", "u2"]
    assert [s for s in stream_states(output) if "period_start" in s] == [STATE_1, STATE_2]
    assert_records_match_their_schemas(output)


def test_a_user_answering_404_is_skipped_with_one_warning_and_the_others_are_read(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        mock_users(http, {("true", "true"): list_page([user("u1"), user("gone")], None)})
        for start, end in (DAY_1, DAY_2):
            http.get(entity_request(USER_USAGE, "userId", "u1", start, end), entity_response("userId", "u1", start, end, 3))
            http.get(entity_request(USER_USAGE, "userId", "gone", start, end), user_not_found())
            organization_totals(http, start, end, 3)
        output = read_streams(daily(), ["tabnine_user_usage"])
    assert not output.errors
    assert [(m.record.data["period_start"], m.record.data["userId"]) for m in output.records] == [
        ("2026-06-08T00:00:00+00:00", "u1"),
        ("2026-06-09T00:00:00+00:00", "u1"),
    ]
    assert warnings(output) == [
        "Stream 'tabnine_user_usage' skips user 'gone': Tabnine api/v2/user/usage answered HTTP 404 (User not found), so the "
        "user was probably deleted after the users were listed. Its usage is not read in this sync. (If every user is "
        "skipped, the server may predate /api/v2/user/usage, Tabnine 6.2.)"
    ]
    assert stream_states(output) == [STATE_1, STATE_2], "the cursor still moves"


def test_an_answer_for_another_user_than_asked_fails_naming_the_field(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        mock_users(http, {("true", "true"): list_page([user("u1")], None)})
        http.get(entity_request(USER_USAGE, "userId", "u1", *DAY_1), entity_response("userId", "u9", *DAY_1, 3))
        output = read_streams(daily(), ["tabnine_user_usage"], expecting_exception=True)
    assert output.records == []
    assert output.errors[0].trace.error.message == with_period_note(
        "Tabnine api/v2/user/usage answered for userId 'u9' when asked for 'u1': its numbers cannot be told to be the "
        "user's. Report it to Tabnine.",
        "tabnine_user_usage", "2026-06-08T00:00:00+00:00", "2026-06-09T00:00:00+00:00",
    )  # fmt: skip


def test_team_usage_is_one_request_per_listed_team_per_window_with_team_id(clock: Sleeps) -> None:
    teams = list_page([{"id": "t1", "name": "Core"}, {"id": "t2", "name": "Web"}], None)
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(HttpRequest(TEAMS, query_params={"offset": "0", "limit": "100"}), teams)
        for start, end in (DAY_1, DAY_2):
            http.get(entity_request(TEAM_USAGE, "teamId", "t1", start, end), entity_response("teamId", "t1", start, end, 11, ides=None))
        for start, end in (DAY_1, DAY_2):
            http.get(
                entity_request(TEAM_USAGE, "teamId", "t2", start, end),
                user_not_found() if start == DAY_2[0] else entity_response("teamId", "t2", start, end, 5, ides=None),
            )
        output = read_streams(daily(), ["tabnine_teams", "tabnine_team_usage"])
    assert not output.errors
    usage = [m.record.data for m in output.records if m.record.stream == "tabnine_team_usage"]
    assert [(r["period_start"][:10], r["teamId"], r["codeCompletions"]["completions"]) for r in usage] == [
        ("2026-06-08", "t1", 11),
        ("2026-06-08", "t2", 5),
        ("2026-06-09", "t1", 11),
    ]
    assert [w.split(":")[0] for w in warnings(output)] == ["Stream 'tabnine_team_usage' skips team 't2'"]
    assert_records_match_their_schemas(output)


def test_monthly_is_the_default_window_of_user_usage(clock: Sleeps) -> None:
    # From May 2026 on, the clock in June: one whole month, May, one request per user.
    may = ("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z")
    with VerifiedHttpMocker() as http:
        mock_users(http, {("true", "true"): list_page([user("u1")], None)})
        http.get(entity_request(USER_USAGE, "userId", "u1", *may), entity_response("userId", "u1", *may, 40))
        organization_totals(http, *may, 40)
        output = read_streams(tabnine_config(start_date="2026-05-01"), ["tabnine_user_usage"])
    assert not output.errors
    ((period, granularity),) = [(m.record.data["period_start"], m.record.data["granularity"]) for m in output.records]
    assert (period, granularity) == ("2026-05-01T00:00:00+00:00", "monthly")


def test_users_whose_usage_does_not_add_up_to_the_organisations_are_one_warning_naming_the_window_both_sums_and_the_cause(
    clock: Sleeps,
) -> None:
    with VerifiedHttpMocker() as http:
        mock_users(http, {("true", "true"): list_page([user("u1")], None)})
        for start, end in (DAY_1, DAY_2):
            http.get(entity_request(USER_USAGE, "userId", "u1", start, end), entity_response("userId", "u1", start, end, 5))
        # The organisation counts a user the listing no longer has (5 + 2 completions); only the
        # first window is compared: after a difference, no more requests for it.
        organization_totals(http, *DAY_1, 5, 2)
        output = read_streams(daily(), ["tabnine_user_usage"])
    assert not output.errors
    assert [m.record.data["codeCompletions"]["completions"] for m in output.records] == [5, 5]  # the records stand as read
    assert warnings(output) == [
        "Stream 'tabnine_user_usage': in the window from 2026-06-08T00:00:00+00:00 to 2026-06-09T00:00:00+00:00 its users' "
        "codeCompletions.charsCompleted adds up to 50 where the organisation's is 70 (8 of 11 counts differ). The likely cause: users "
        "deleted before this sync listed them, whose usage is in the organisation's totals (tabnine_organization_usage) but "
        "in no record of this stream, so per-user and per-team sums will not match the organisation's."
    ]
    assert stream_states(output) == [STATE_1, STATE_2]


def test_an_organisation_usage_that_cannot_be_read_is_one_warning_and_the_user_usage_stands(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        mock_users(http, {("true", "true"): list_page([user("u1")], None)})
        for start, end in (DAY_1, DAY_2):
            http.get(entity_request(USER_USAGE, "userId", "u1", start, end), entity_response("userId", "u1", start, end, 5))
        query = {"organizationId": ORG_ID, "from": DAY_1[0], "to": DAY_1[1], "granularity": "all"}
        request = HttpRequest(ORGANIZATION_USAGE, query_params=query)
        http.get(request, json_response({"error": "Bad Request", "message": "no", "status": 400}, status=400))
        output = read_streams(daily(), ["tabnine_user_usage"])
    assert not output.errors
    assert len(output.records) == 2 and stream_states(output) == [STATE_1, STATE_2]
    assert warnings(output) == [
        "Stream 'tabnine_user_usage': its users' usage could not be compared with the organisation's: Tabnine "
        "api/v2/organization/usage rejected the request (HTTP 400): no"
    ]


FIRST_REQUEST = {
    "tabnine_user_usage": HttpRequest(ORGANIZATION),  # the users are listed with the organisation's id
    "tabnine_team_usage": HttpRequest(TEAMS, query_params={"offset": "0", "limit": "100"}),
    "tabnine_agent_usage": HttpRequest(ORGANIZATION),
    "tabnine_permissions": permissions_request("Admin"),
}


@pytest.mark.parametrize("stream", list(FIRST_REQUEST))
def test_a_rejected_token_is_a_config_error_and_no_secret_reaches_any_output_line(clock: Sleeps, stream: str) -> None:
    with VerifiedHttpMocker() as http:
        http.get(FIRST_REQUEST[stream], json_response({"error": "Unauthorized", "message": "bad token"}, status=401))
        output = read_streams(daily(), [stream], expecting_exception=True)
    assert output.errors[0].trace.error.failure_type == FailureType.config_error
    assert SECRET not in all_output_lines(output)


class ConcurrentTabnine(Tabnine):
    """Tabnine with several requests in flight: the request slices of a window read side by side."""

    requests_in_flight = 4


def test_with_requests_in_flight_the_records_warnings_and_states_are_those_of_a_serial_read(clock: Sleeps) -> None:
    users = [user(f"u{n}") for n in range(6)] + [user("gone")]

    def sync(source: SourceUsage) -> EntrypointOutput:
        with VerifiedHttpMocker() as http:
            mock_users(http, {("true", "true"): list_page(users, None)})
            for start, end in (DAY_1, DAY_2):
                for n in range(6):
                    response = entity_response("userId", f"u{n}", start, end, n + 1)
                    http.get(entity_request(USER_USAGE, "userId", f"u{n}", start, end), response)
                http.get(entity_request(USER_USAGE, "userId", "gone", start, end), user_not_found())
                organization_totals(http, start, end, *range(1, 7))
            return read_streams(daily(), ["tabnine_user_usage"], source=source)

    serial, concurrent = sync(SourceUsage(vendors=[Tabnine()])), sync(SourceUsage(vendors=[ConcurrentTabnine()]))
    assert not serial.errors and not concurrent.errors
    records = [(m.record.data["period_start"], m.record.data["userId"]) for m in concurrent.records]
    assert records == [(m.record.data["period_start"], m.record.data["userId"]) for m in serial.records]
    assert len(records) == 12 and records[:2] == [("2026-06-08T00:00:00+00:00", "u0"), ("2026-06-08T00:00:00+00:00", "u1")]
    assert warnings(concurrent) == warnings(serial) and len(warnings(concurrent)) == 1, "one warning for the id, whatever thread met it"
    assert stream_states(concurrent) == stream_states(serial) == [STATE_1, STATE_2]
