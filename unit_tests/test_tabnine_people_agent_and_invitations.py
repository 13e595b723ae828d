"""Issue 25's Tabnine streams against in-process HTTP mocks: agent tokens and cost per user and per
team (``tabnine_user_agent_usage``, ``tabnine_team_agent_usage``) and pending invitations
(``tabnine_invitations``), one test per promised behaviour.

The clock is frozen at 2026-06-10 12:00 UTC (``unit_tests.conftest``); the configs read
2026-06-08 and 2026-06-09, one window a day (``user_usage_granularity: daily``).
"""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse

from source_usage import SourceUsage
from unit_tests.conftest import Sleeps
from unit_tests.helpers import VerifiedHttpMocker, all_output_lines, read_streams
from unit_tests.test_tabnine import (
    BASE_URL,
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
from unit_tests.test_tabnine_seats import (
    DAY_1,
    DAY_2,
    STATE_1,
    STATE_2,
    USER_USAGE,
    agent_point,
    daily,
    entity_request,
    entity_response,
    feature_not_available,
    organization_totals,
    user,
    user_not_found,
    warnings,
)

USER_AGENT = BASE_URL + "/api/v1/user/agent-usage"
TEAM_AGENT = BASE_URL + "/api/v1/team/agent-usage"
INVITATIONS = BASE_URL + "/api/invitation/v1"
USER_AGENT_STREAM = "tabnine_user_agent_usage"
TEAM_AGENT_STREAM = "tabnine_team_agent_usage"
INVITATIONS_STREAM = "tabnine_invitations"
TEAMS_REQUEST = HttpRequest(TEAMS, query_params={"offset": "0", "limit": "100"})


def agent_response(id_field: str, entity_id: str, start: str, end: str, cost: float = 1.25, **changed: Any) -> HttpResponse:
    """One user's (team's) agent usage of one window: one data point, ``changed`` replacing its fields
    (a value of ``None`` removes the field)."""
    point = {**agent_point(start, end, cost), **changed}
    point = {name: value for name, value in point.items() if value is not None}
    usage = {"granularity": "all", "data": [point]}
    return json_response({"organizationId": ORG_ID, id_field: entity_id, "from": start, "to": end, "usage": usage})


def stream_errors(output: EntrypointOutput) -> Dict[str, str]:
    """The failed streams and their messages."""
    failed = [error.trace.error for error in output.errors if error.trace.error.stream_descriptor]
    return {error.stream_descriptor.name: error.message for error in failed}


def states_of(output: EntrypointOutput, stream: str) -> List[Dict[str, Any]]:
    return [
        dict(message.state.stream.stream_state.__dict__)
        for message in output.state_messages
        if message.state.stream.stream_descriptor.name == stream
    ]


# --- discover --------------------------------------------------------------------------------


def test_discover_declares_the_keys_cursors_and_modes_of_the_three_streams() -> None:
    streams = {stream.name: stream for stream in discover(SourceUsage(), tabnine_config()).catalog.catalog.streams}
    for name, id_field in ((USER_AGENT_STREAM, "userId"), (TEAM_AGENT_STREAM, "teamId")):
        assert streams[name].source_defined_primary_key == [["period_start"], ["granularity"], [id_field]]
        assert streams[name].default_cursor_field == ["period_start"] and streams[name].source_defined_cursor
        assert set(streams[name].supported_sync_modes) == {SyncMode.full_refresh, SyncMode.incremental}
    invitations = streams[INVITATIONS_STREAM]
    assert invitations.source_defined_primary_key == [["id"]]
    assert invitations.supported_sync_modes == [SyncMode.full_refresh] and not invitations.default_cursor_field
    assert invitations.is_resumable is False


# --- tabnine_user_agent_usage and tabnine_team_agent_usage ------------------------------------


def test_user_agent_usage_is_one_request_per_listed_user_per_window_keeping_the_data_point_whole(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        # Both listed users, active (in a team) and deactivated (no team): every user's agent usage is read.
        mock_users(http, {("true", "true"): list_page([user("u1")], None), ("false", "false"): list_page([user("u2")], None)})
        for start, end in (DAY_1, DAY_2):
            http.get(entity_request(USER_AGENT, "userId", "u1", start, end), agent_response("userId", "u1", start, end, cost=1.25))
            http.get(entity_request(USER_AGENT, "userId", "u2", start, end), agent_response("userId", "u2", start, end, cost=0.0))
        output = read_streams(daily(), ["tabnine_users", USER_AGENT_STREAM])
    assert not output.errors  # each listing mocked once: tabnine_users and the agent usage share one listing
    records = [m.record.data for m in output.records if m.record.stream == USER_AGENT_STREAM]
    assert [(r["period_start"], r["userId"], r["totalCost"]) for r in records] == [
        ("2026-06-08T00:00:00+00:00", "u1", 1.25),
        ("2026-06-08T00:00:00+00:00", "u2", 0.0),
        ("2026-06-09T00:00:00+00:00", "u1", 1.25),
        ("2026-06-09T00:00:00+00:00", "u2", 0.0),
    ]
    assert records[0] == {
        "organizationId": ORG_ID,
        **agent_point(*DAY_1, cost=1.25),
        "userId": "u1",
        "period_start": "2026-06-08T00:00:00+00:00",
        "period_end": "2026-06-09T00:00:00+00:00",
        "granularity": "daily",
    }
    assert states_of(output, USER_AGENT_STREAM) == [STATE_1, STATE_2]
    assert_records_match_their_schemas(output)


def test_team_agent_usage_is_one_request_per_listed_team_per_window_and_a_deleted_team_is_skipped_with_one_warning(
    clock: Sleeps,
) -> None:
    teams = list_page([{"id": "t1", "name": "Core"}, {"id": "gone", "name": "Web"}], None)
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(TEAMS_REQUEST, teams)
        for start, end in (DAY_1, DAY_2):
            http.get(entity_request(TEAM_AGENT, "teamId", "t1", start, end), agent_response("teamId", "t1", start, end, cost=2.5))
            http.get(entity_request(TEAM_AGENT, "teamId", "gone", start, end), user_not_found())
        output = read_streams(daily(), ["tabnine_teams", TEAM_AGENT_STREAM])
    assert not output.errors
    records = [m.record.data for m in output.records if m.record.stream == TEAM_AGENT_STREAM]
    assert [(r["period_start"][:10], r["teamId"], r["totalCost"], r["granularity"]) for r in records] == [
        ("2026-06-08", "t1", 2.5, "daily"),
        ("2026-06-09", "t1", 2.5, "daily"),
    ]
    assert warnings(output) == [
        "Stream 'tabnine_team_agent_usage' skips team 'gone': Tabnine api/v1/team/agent-usage answered HTTP 404 (User not "
        "found), so the team was probably deleted after the teams were listed. Its usage is not read in this sync. (If every "
        "team is skipped, the server may predate /api/v1/team/agent-usage, Tabnine 6.2.)"
    ]
    assert states_of(output, TEAM_AGENT_STREAM) == [STATE_1, STATE_2], "the cursor still moves"
    assert_records_match_their_schemas(output)


def test_agent_usage_per_user_resumes_after_its_cursor_less_the_lookback(clock: Sleeps) -> None:
    state = {USER_AGENT_STREAM: STATE_1}
    with VerifiedHttpMocker() as http:
        mock_users(http, {("true", "true"): list_page([user("u1")], None)})
        # Only the day after the cursor: 06-08 asked for again would find no mock.
        http.get(entity_request(USER_AGENT, "userId", "u1", *DAY_2), agent_response("userId", "u1", *DAY_2))
        output = read_streams(daily(), [USER_AGENT_STREAM], state=state)
    assert not output.errors
    assert [m.record.data["period_start"] for m in output.records] == ["2026-06-09T00:00:00+00:00"]
    assert stream_states(output) == [STATE_2]
    with VerifiedHttpMocker() as http:
        mock_users(http, {("true", "true"): list_page([user("u1")], None)})
        for start, end in (DAY_1, DAY_2):  # a lookback of 2 days reads the cursor's day and the one before again
            http.get(entity_request(USER_AGENT, "userId", "u1", start, end), agent_response("userId", "u1", start, end))
        config = tabnine_config(lookback_days=2, tabnine={"user_usage_granularity": "daily"})
        again = read_streams(config, [USER_AGENT_STREAM], state={USER_AGENT_STREAM: STATE_2})
    assert [m.record.data["period_start"][:10] for m in again.records] == ["2026-06-08", "2026-06-09"]
    assert stream_states(again) == [STATE_2, STATE_2], "a lookback re-read never moves the state back"


def test_feature_not_available_empties_the_per_user_agent_stream_with_one_warning_one_request_and_the_state_unchanged(
    clock: Sleeps,
) -> None:
    saved = {"period_start": "2026-06-07T00:00:00+00:00"}
    with VerifiedHttpMocker() as http:
        mock_users(http, {("true", "true"): list_page([user("u1"), user("u2")], None)})
        # u1 on 06-08 answers first; asking for anything else (u2, 06-09) finds no mock and fails the test.
        http.get(entity_request(USER_AGENT, "userId", "u1", *DAY_1), feature_not_available())
        for start, end in (DAY_1, DAY_2):
            for user_id, completions in (("u1", 3), ("u2", 4)):
                response = entity_response("userId", user_id, start, end, completions)
                http.get(entity_request(USER_USAGE, "userId", user_id, start, end), response)
            organization_totals(http, start, end, 3, 4)
        config = tabnine_config(start_date="2026-06-07", tabnine={"user_usage_granularity": "daily"})
        state = {USER_AGENT_STREAM: saved, "tabnine_user_usage": saved}
        output = read_streams(config, [USER_AGENT_STREAM, "tabnine_user_usage"], state=state)
    assert not output.errors
    assert {m.record.stream for m in output.records} == {"tabnine_user_usage"}, "the sync goes on"
    assert warnings(output) == [
        "Stream 'tabnine_user_agent_usage' is empty: Tabnine api/v1/user/agent-usage answered HTTP 403 FEATURE_NOT_AVAILABLE "
        "(The Agent feature is not included in your account's license.), so the organisation's Tabnine license does not "
        "include Agent. No further window is asked for and the stream's state stays where it was; the sync goes on."
    ]
    agent_states = states_of(output, USER_AGENT_STREAM)
    assert agent_states and all(state == saved for state in agent_states), agent_states


def test_any_other_403_of_agent_usage_per_team_is_a_config_error_naming_the_token(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(TEAMS_REQUEST, list_page([{"id": "t1"}], None))
        forbidden = json_response({"error": "Forbidden", "message": "Insufficient permissions"}, status=403)
        http.get(entity_request(TEAM_AGENT, "teamId", "t1", *DAY_1), forbidden)
        output = read_streams(daily(), [TEAM_AGENT_STREAM], expecting_exception=True)
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.config_error
    assert "Tabnine rejected the credentials (HTTP 403: Insufficient permissions)" in error.message and "tabnine.api_token" in error.message
    assert not warnings(output) and SECRET not in all_output_lines(output)


@pytest.mark.parametrize(
    ("changed", "field", "has"),
    [
        ({"totalCost": None, "costTotal": 1.25}, "totalCost", "costTotal"),  # the total under another name
        ({"totalCost": "1.25"}, "totalCost", "totalCost"),  # not a number
        ({"totalCost": None}, "totalCost", "totalInputTokens"),
        ({"totalTokensConsumed": None}, "totalTokensConsumed", "totalCost"),
        ({"totalInputTokens": None}, "totalInputTokens", "totalCost"),
        ({"totalOutputTokens": None}, "totalOutputTokens", "totalCost"),
    ],
    ids=["renamed", "text", "cost-missing", "tokens-missing", "input-missing", "output-missing"],
)
def test_an_agent_data_point_without_a_total_as_a_number_fails_only_its_stream_naming_the_field(
    clock: Sleeps, changed: Dict[str, Any], field: str, has: str
) -> None:
    with VerifiedHttpMocker() as http:
        mock_users(http, {("true", "true"): list_page([user("u1")], None)})
        http.get(entity_request(USER_AGENT, "userId", "u1", *DAY_1), agent_response("userId", "u1", *DAY_1, **changed))
        for start, end in (DAY_1, DAY_2):  # per-user usage depends on nothing in doubt: it syncs whole
            http.get(entity_request(USER_USAGE, "userId", "u1", start, end), entity_response("userId", "u1", start, end, 5))
            organization_totals(http, start, end, 5)
        output = read_streams(daily(), [USER_AGENT_STREAM, "tabnine_user_usage"], expecting_exception=True)
    failed = stream_errors(output)
    assert list(failed) == [USER_AGENT_STREAM]
    message = failed[USER_AGENT_STREAM]
    assert message.startswith(
        f"Tabnine api/v1/user/agent-usage answered a bucket for the window from 2026-06-08T00:00:00+00:00 without a number in "
        f"'{field}' (the bucket has: "
    ), message
    assert has in message.split("(the bucket has: ")[1].split(")")[0].split(", ")
    assert message.endswith(
        f"Rather than emit '{field}' as null, which every sum would read as 0, the stream stops: the answer may have changed "
        "shape; report it to Tabnine. The period 2026-06-08T00:00:00+00:00 to 2026-06-09T00:00:00+00:00 of "
        "tabnine_user_agent_usage was not read whole, so the state stays before it: the next sync reads it again."
    )
    assert not [m for m in output.records if m.record.stream == USER_AGENT_STREAM]
    assert not states_of(output, USER_AGENT_STREAM)
    assert [m.record.data["period_start"][:10] for m in output.records if m.record.stream == "tabnine_user_usage"] == [
        "2026-06-08",
        "2026-06-09",
    ]
    assert states_of(output, "tabnine_user_usage") == [STATE_1, STATE_2]


def test_an_answer_for_another_team_than_asked_fails_naming_the_field(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(TEAMS_REQUEST, list_page([{"id": "t1"}], None))
        http.get(entity_request(TEAM_AGENT, "teamId", "t1", *DAY_1), agent_response("teamId", "t9", *DAY_1))
        output = read_streams(daily(), [TEAM_AGENT_STREAM], expecting_exception=True)
    assert output.records == []
    assert output.errors[0].trace.error.message == (
        "Tabnine api/v1/team/agent-usage answered for teamId 't9' when asked for 't1': its numbers cannot be told to be the "
        "team's. Report it to Tabnine. The period 2026-06-08T00:00:00+00:00 to 2026-06-09T00:00:00+00:00 of "
        "tabnine_team_agent_usage was not read whole, so the state stays before it: the next sync reads it again."
    )


# --- tabnine_invitations --------------------------------------------------------------------


def invitation(number: int, **changed: Any) -> Dict[str, Any]:
    served = {
        "id": f"3f0c{number:04d}-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
        "email": f"new{number}@acme.test",
        "teamId": "t1",
        "role": "Member",
        "createdAt": "2026-06-01T09:30:00.000Z",
        "expiresAt": "2026-07-01T09:30:00.000Z",
        "revokedAt": None,
        **changed,
    }
    return {name: value for name, value in served.items() if value is not None or name == "revokedAt"}


def without_nulls(record: Dict[str, Any]) -> Dict[str, Any]:
    """A record as the protocol carries it: a null field is left out."""
    return {name: value for name, value in record.items() if value is not None}


def invitations_request(offset: int) -> HttpRequest:
    return HttpRequest(INVITATIONS, query_params={"offset": str(offset), "limit": "100"})


def invitations_page(numbers: range, following: Any, total: int = 230) -> HttpResponse:
    items = [invitation(number) for number in numbers]
    return json_response({"data": items, "meta": {"count": len(items), "total": total, "next": following}})


def test_invitations_page_by_meta_next_the_next_offset_until_it_is_null_each_kept_whole(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(invitations_request(0), invitations_page(range(0, 100), 100))
        http.get(invitations_request(100), invitations_page(range(100, 200), 200))
        http.get(invitations_request(200), invitations_page(range(200, 230), None))
        output = read_streams(tabnine_config(), [INVITATIONS_STREAM], sync_mode=SyncMode.full_refresh)
    assert not output.errors
    assert [m.record.data["id"] for m in output.records] == [invitation(n)["id"] for n in range(230)]
    assert output.records[0].record.data == without_nulls(invitation(0))
    assert [r.url.split("?")[1] for r in http.sent] == ["offset=0&limit=100", "offset=100&limit=100", "offset=200&limit=100"]
    assert_records_match_their_schemas(output)


def test_invitations_are_read_whole_again_whatever_state_the_last_sync_left(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(invitations_request(0), invitations_page(range(2), None, total=2))
        output = read_streams(
            tabnine_config(), [INVITATIONS_STREAM], state={INVITATIONS_STREAM: {"__ab_full_refresh_sync_complete": True}},
            sync_mode=SyncMode.full_refresh,
        )  # fmt: skip
    assert len(output.records) == 2


def test_an_invitations_meta_next_shaped_as_the_teams_fails_only_its_stream_naming_meta_next(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(invitations_request(0), invitations_page(range(100), {"limit": 100, "offset": 100}))
        http.get(TEAMS_REQUEST, list_page([{"id": "t1", "name": "Core"}], None))
        streams = [INVITATIONS_STREAM, "tabnine_teams"]
        output = read_streams(tabnine_config(), streams, sync_mode=SyncMode.full_refresh, expecting_exception=True)
    assert stream_errors(output) == {
        INVITATIONS_STREAM: "Tabnine api/invitation/v1 answered with a malformed body: 'meta.next' is neither null nor an "
        "integer offset (it is {'limit': 100, 'offset': 100})."
    }
    assert [m.record.stream for m in output.records] == ["tabnine_teams"]


def test_an_invitations_meta_next_that_does_not_move_forward_fails_instead_of_looping(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(invitations_request(0), invitations_page(range(100), 0))
        output = read_streams(tabnine_config(), [INVITATIONS_STREAM], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    assert output.records == []
    assert output.errors[0].trace.error.message == (
        "Tabnine api/invitation/v1: paging does not end: meta.next does not move forward (offset 0) (page at offset 0, "
        "limit 100). The vendor's answers are inconsistent; retry later or report it to the vendor."
    )


@pytest.mark.parametrize(
    ("served", "field"),
    [({"id": None}, "id"), ({"id": None, "invitationId": "x-1"}, "id")],
    ids=["no-id", "renamed-id"],
)
def test_an_invitation_without_its_id_fails_naming_the_field_and_no_record_is_emitted(
    clock: Sleeps, served: Dict[str, Any], field: str
) -> None:
    body = {"data": [invitation(0), invitation(1, **served)], "meta": {"count": 2, "total": 2, "next": None}}
    with VerifiedHttpMocker() as http:
        http.get(invitations_request(0), json_response(body))
        output = read_streams(tabnine_config(), [INVITATIONS_STREAM], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    assert output.records == []
    message = output.errors[0].trace.error.message
    assert message.startswith(f"Tabnine api/invitation/v1 answered an item without '{field}', a field of the stream's primary key"), message


def test_a_server_without_the_invitations_api_fails_the_stream_with_a_config_error_saying_to_deselect_it(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(invitations_request(0), json_response({"error": "Not Found", "message": "Cannot GET", "status": 404}, status=404))
        http.get(TEAMS_REQUEST, list_page([{"id": "t1"}], None))
        streams = [INVITATIONS_STREAM, "tabnine_teams"]
        output = read_streams(tabnine_config(), streams, sync_mode=SyncMode.full_refresh, expecting_exception=True)
    (error,) = [e.trace.error for e in output.errors if e.trace.error.stream_descriptor]
    assert error.failure_type == FailureType.config_error
    assert error.message == (
        "Tabnine answered 404 for api/invitation/v1: the server may predate the invitations API (Tabnine 6.2): deselect "
        "tabnine_invitations; or the host in tabnine.base_url may be wrong (a private installation serves the console on "
        "its own host)."
    )
    assert [m.record.stream for m in output.records] == ["tabnine_teams"]


def test_a_pending_invitation_keeps_a_null_expiry_and_unknown_fields(clock: Sleeps) -> None:
    served = {**invitation(0, invitedBy="ada@acme.test"), "expiresAt": None}
    with VerifiedHttpMocker() as http:
        http.get(invitations_request(0), json_response({"data": [served], "meta": {"count": 1, "total": 1, "next": None}}))
        output = read_streams(tabnine_config(), [INVITATIONS_STREAM], sync_mode=SyncMode.full_refresh)
    assert [m.record.data for m in output.records] == [without_nulls(served)]
    assert_records_match_their_schemas(output)


FIRST_REQUEST = {
    USER_AGENT_STREAM: HttpRequest(ORGANIZATION),  # the users are listed with the organisation's id
    TEAM_AGENT_STREAM: TEAMS_REQUEST,
    INVITATIONS_STREAM: invitations_request(0),
}


@pytest.mark.parametrize("stream", list(FIRST_REQUEST))
def test_a_rejected_token_is_a_config_error_and_no_secret_reaches_any_output_line(clock: Sleeps, stream: str) -> None:
    with VerifiedHttpMocker() as http:
        http.get(FIRST_REQUEST[stream], json_response({"error": "Unauthorized", "message": f"bad token {SECRET}"}, status=401))
        output = read_streams(daily(), [stream], expecting_exception=True)
    assert output.errors[0].trace.error.failure_type == FailureType.config_error
    assert "tabnine.api_token" in output.errors[0].trace.error.message
    assert SECRET not in all_output_lines(output)
