"""The Tabnine streams, against in-process HTTP mocks, one test per promised behaviour.

The clock is frozen at 2026-06-10 12:00 UTC (``unit_tests.conftest``): June 2026 is the current,
unfinished month; the latest finished day is 2026-06-09, week 2026-06-01, month May 2026.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import parse_qsl

import pytest
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse
from jsonschema import Draft7Validator

from integration_tests.assertions import with_period_note
from source_usage import SourceUsage
from source_usage.core.schemas import load_schema
from unit_tests.conftest import Sleeps
from unit_tests.helpers import VerifiedHttpMocker, all_output_lines, read_streams

SECRET = "tab-SECRET-token-0123456789"
BASE_URL = "https://tabnine.example.test"
ORGANIZATION = BASE_URL + "/api/v1/organization"
TEAMS = BASE_URL + "/api/v1/organization/teams"
USERS = BASE_URL + "/api/v1/organization/users"
UTILIZATIONS = BASE_URL + "/api/v1/organization/account-utilizations"
LICENSE = BASE_URL + "/api/v1/license"
USAGE_V2 = BASE_URL + "/api/v2/organization/usage"
USAGE_V1 = BASE_URL + "/api/v1/organization/usage"
ORG_ID = "org-42"

FULL_REFRESH_STREAMS = ("tabnine_organization", "tabnine_teams", "tabnine_users")
#: Issue 15's streams (their tests: test_tabnine_seats.py), with their keys and cursors.
SEATS_STREAMS = {
    "tabnine_permissions": ([["role"], ["username"]], None),
    "tabnine_agent_usage": ([["period_start"], ["granularity"]], ["period_start"]),
    "tabnine_user_usage": ([["period_start"], ["granularity"], ["userId"]], ["period_start"]),
    "tabnine_team_usage": ([["period_start"], ["granularity"], ["teamId"]], ["period_start"]),
}
#: Issue 25's streams (their tests: test_tabnine_people_agent_and_invitations.py), with their keys and cursors.
FINOPS_STREAMS = {
    "tabnine_user_agent_usage": ([["period_start"], ["granularity"], ["userId"]], ["period_start"]),
    "tabnine_team_agent_usage": ([["period_start"], ["granularity"], ["teamId"]], ["period_start"]),
    "tabnine_invitations": ([["id"]], None),
}
UTILIZATION_STREAM = "tabnine_account_utilizations"
USAGE_STREAM = "tabnine_organization_usage"
LICENSE_STREAM = "tabnine_license"


def tabnine_config(**overrides: Any) -> Dict[str, Any]:
    section = {"api_token": SECRET, "base_url": BASE_URL, "granularity": "daily"}
    section.update(overrides.pop("tabnine", {}))
    config = {"start_date": "2026-06-08", "end_date": "2026-06-09", "lookback_days": 0, "tabnine": section, **overrides}
    return {key: value for key, value in config.items() if value is not None}


def json_response(body: Any, status: int = 200, headers: Optional[Mapping[str, str]] = None) -> HttpResponse:
    return HttpResponse(json.dumps(body), status_code=status, headers=dict(headers or {}))


def organization_response() -> HttpResponse:
    return json_response({"id": ORG_ID, "name": "Acme", "domains": ["acme.test"], "planType": "enterprise"})


def list_page(items: List[Dict[str, Any]], following: Optional[Dict[str, int]]) -> HttpResponse:
    return json_response({"data": items, "meta": {"count": len(items), "total": 250, "next": following}})


#: The four listings every user sync reads, in order: in a team or not, active or deactivated.
LISTINGS = [("true", "true"), ("true", "false"), ("false", "true"), ("false", "false")]


def users_request(team_member: str, active: str, offset: int = 0) -> HttpRequest:
    """One page of one listing of users, with the organisation's id."""
    query = {"offset": str(offset), "limit": "100", "organizationId": ORG_ID, "teamMember": team_member, "active": active}
    return HttpRequest(USERS, query_params=query)


def mock_users(http: VerifiedHttpMocker, pages: Mapping[Any, HttpResponse]) -> None:
    """The organisation, and the first page of each listing: ``pages[listing]``, else no user."""
    http.get(HttpRequest(ORGANIZATION), organization_response())
    for listing in LISTINGS:
        http.get(users_request(*listing), pages.get(listing, list_page([], None)))


def utilization(year: int, month: int, active: int = 5) -> Dict[str, Any]:
    return {"year": year, "month": month, "registered": 10, "deactivated": 1, "active": active, "pending": 2}


def utilizations_request(start_month: str) -> HttpRequest:
    return HttpRequest(UTILIZATIONS, query_params={"startDate": start_month})


def usage_request(url: str, start: str, end: str) -> HttpRequest:
    """One window, asked for as one bucket: ``granularity=all`` whatever the configured length."""
    return HttpRequest(url, query_params={"organizationId": ORG_ID, "from": start, "to": end, "granularity": "all"})


def usage_response(start: str, end: str, granularity: str = "all", active_users: int = 3) -> HttpResponse:
    bucket = {
        "from": start,
        "to": end,
        "activeUsers": active_users,
        "codeCompletions": {"accepted": 10, "shown": 40},
        "chat": {"conversations": 2},
        "agent": {"sessions": 1},
    }
    return json_response({"organizationId": ORG_ID, "from": start, "to": end, "usage": {"granularity": granularity, "data": [bucket]}})


def not_found() -> HttpResponse:
    return json_response({"error": "Not Found", "message": "Cannot GET", "status": 404}, status=404)


def stream_states(output: EntrypointOutput) -> List[Dict[str, Any]]:
    return [dict(message.state.stream.stream_state.__dict__) for message in output.state_messages]


def assert_records_match_their_schemas(output: EntrypointOutput) -> None:
    for message in output.records:
        record = message.record
        errors = list(Draft7Validator(load_schema(record.stream)).iter_errors(record.data))
        assert not errors, (record.stream, record.data, errors)


# --- discover -------------------------------------------------------------------------------


def test_discover_with_only_a_tabnine_section_lists_exactly_the_thirteen_streams_with_keys_and_modes() -> None:
    catalog = discover(SourceUsage(), tabnine_config()).catalog.catalog
    streams = {stream.name: stream for stream in catalog.streams}
    assert set(streams) == {*FULL_REFRESH_STREAMS, LICENSE_STREAM, UTILIZATION_STREAM, USAGE_STREAM, *SEATS_STREAMS, *FINOPS_STREAMS}
    for name, (key, cursor) in {**SEATS_STREAMS, **FINOPS_STREAMS}.items():
        assert streams[name].source_defined_primary_key == key
        assert streams[name].default_cursor_field == cursor
        modes = {SyncMode.full_refresh, SyncMode.incremental} if cursor else {SyncMode.full_refresh}
        assert set(streams[name].supported_sync_modes) == modes
    assert streams[LICENSE_STREAM].source_defined_primary_key == [["iat"]]
    assert streams[LICENSE_STREAM].supported_sync_modes == [SyncMode.full_refresh]
    assert not streams[LICENSE_STREAM].default_cursor_field
    assert streams[LICENSE_STREAM].is_resumable is False
    for name in FULL_REFRESH_STREAMS:
        assert streams[name].source_defined_primary_key == [["id"]]
        assert streams[name].supported_sync_modes == [SyncMode.full_refresh]
        assert not streams[name].default_cursor_field
    assert streams[UTILIZATION_STREAM].source_defined_primary_key == [["month_start"]]
    assert streams[UTILIZATION_STREAM].default_cursor_field == ["month_start"]
    assert streams[USAGE_STREAM].source_defined_primary_key == [["period_start"], ["granularity"]]
    assert streams[USAGE_STREAM].default_cursor_field == ["period_start"]
    for name in (UTILIZATION_STREAM, USAGE_STREAM):
        assert set(streams[name].supported_sync_modes) == {SyncMode.full_refresh, SyncMode.incremental}


def test_the_spec_section_has_a_secret_token_a_default_host_and_three_granularities() -> None:
    spec = SourceUsage().spec(logging.getLogger("test")).connectionSpecification["properties"]["tabnine"]
    properties = spec["properties"]
    assert spec["required"] == ["api_token"]
    assert properties["api_token"]["airbyte_secret"] is True
    assert properties["base_url"]["default"] == "https://console.tabnine.com"
    assert properties["granularity"]["enum"] == ["daily", "weekly", "monthly"]
    assert properties["granularity"]["default"] == "daily"


def test_an_unknown_granularity_is_a_config_error_naming_the_field() -> None:
    status = SourceUsage().check(logging.getLogger("test"), tabnine_config(tabnine={"granularity": "hourly"}))
    assert status.status.value == "FAILED"
    assert "tabnine.granularity" in status.message


# --- organisation, teams, users -------------------------------------------------------------


def test_the_organization_is_one_record_kept_whole(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        output = read_streams(tabnine_config(), ["tabnine_organization"], sync_mode=SyncMode.full_refresh)
    assert [message.record.data for message in output.records] == [
        {"id": ORG_ID, "name": "Acme", "domains": ["acme.test"], "planType": "enterprise"}
    ]
    assert_records_match_their_schemas(output)


PAGES = [
    (0, range(0, 100), {"limit": 100, "offset": 100}),
    (100, range(100, 200), {"limit": 100, "offset": 200}),
    (200, range(200, 250), None),
]


def test_team_pages_follow_meta_next_and_stop_when_it_is_null(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        requests_sent = []
        for offset, ids, following in PAGES:
            request = HttpRequest(TEAMS, query_params={"offset": str(offset), "limit": "100"})
            requests_sent.append(request)
            teams = [{"id": f"id-{i}", "name": f"n{i}", "seatCap": 5, "pendingInvitationsCount": 1} for i in ids]
            http.get(request, list_page(teams, following))
        output = read_streams(tabnine_config(), ["tabnine_teams"], sync_mode=SyncMode.full_refresh)
        for request in requests_sent:
            http.assert_number_of_calls(request, 1)
    assert [message.record.data["id"] for message in output.records] == [f"id-{i}" for i in range(250)]
    assert output.records[0].record.data == {"id": "id-0", "name": "n0", "seatCap": 5, "pendingInvitationsCount": 1}
    assert_records_match_their_schemas(output)


def test_users_are_read_through_the_four_listings_with_the_organization_id_each_paged_by_meta_next(clock: Sleeps) -> None:
    # The first listing (in a team, active) takes three pages; each other listing one.
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        for offset, ids, following in PAGES:
            http.get(users_request("true", "true", offset), list_page([{"id": f"id-{i}", "active": True} for i in ids], following))
        http.get(users_request("true", "false"), list_page([{"id": "gone-1", "active": False}], None))
        http.get(users_request("false", "true"), list_page([{"id": "alone-1", "active": True}], None))
        http.get(users_request("false", "false"), list_page([], None))
        output = read_streams(tabnine_config(), ["tabnine_users"], sync_mode=SyncMode.full_refresh)
    sent = [(r.url.split("?")[0], dict(sorted(parse_qsl(r.url.split("?")[1])))) for r in http.sent if "/users" in r.url]
    assert [(q["teamMember"], q["active"], q["offset"]) for _, q in sent] == [
        ("true", "true", "0"), ("true", "true", "100"), ("true", "true", "200"),
        ("true", "false", "0"), ("false", "true", "0"), ("false", "false", "0"),
    ]  # fmt: skip
    assert all(q["organizationId"] == ORG_ID and q["limit"] == "100" for _, q in sent)
    assert [message.record.data["id"] for message in output.records] == [*(f"id-{i}" for i in range(250)), "gone-1", "alone-1"]
    assert_records_match_their_schemas(output)


def test_a_user_keeps_active_and_team_as_sent_and_gets_them_from_its_listing_only_where_it_lacks_them(clock: Sleeps) -> None:
    newer = {"id": "u-new", "role": "TeamLead", "team": {"id": "t1", "name": "A"}, "allowedTeams": [{"id": "t1", "name": "A"}]}
    stated = {"id": "u-old", "role": "member", "active": True, "teamMember": True}  # contradicts its listing: kept
    with VerifiedHttpMocker() as http:
        mock_users(http, {("true", "false"): list_page([newer], None), ("false", "false"): list_page([stated], None)})
        output = read_streams(tabnine_config(), ["tabnine_users"], sync_mode=SyncMode.full_refresh)
    assert [message.record.data for message in output.records] == [
        {"teamMember": True, "active": False, **newer},
        {"id": "u-old", "role": "member", "active": True, "teamMember": True},
    ]
    assert_records_match_their_schemas(output)


def test_a_user_served_by_two_listings_fails_the_stream_naming_the_user_and_both_listings(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        # The listing is read whole (its ids stand, for tabnine_user_usage); the stream then fails.
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(users_request("true", "true"), list_page([{"id": "u1"}], None))
        http.get(users_request("true", "false"), list_page([{"id": "u1"}], None))
        http.get(users_request("false", "true"), list_page([], None))
        http.get(users_request("false", "false"), list_page([], None))
        output = read_streams(tabnine_config(), ["tabnine_users"], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    assert output.records == []
    assert output.errors[0].trace.error.message == (
        "Tabnine api/v1/organization/users listed user 'u1' under teamMember=true&active=true and again under "
        "teamMember=true&active=false: the server does not filter users by teamMember and active as documented (or the "
        "user changed during the sync), so whether each user is active and in a team cannot be told. Retry the sync; if "
        "it fails again, report it to Tabnine. The streams that need only the user ids (tabnine_user_usage, "
        "tabnine_user_agent_usage) are not affected."
    )


@pytest.mark.parametrize("previous_state", [{"__ab_full_refresh_sync_complete": True}, {"__ab_no_cursor_state_message": True}])
def test_full_refresh_streams_are_read_whole_again_whatever_state_the_last_sync_left(clock: Sleeps, previous_state: Dict[str, Any]) -> None:
    # PyAirbyte hands every stream's last state to the next sync; a full-refresh stream must
    # still read everything, or seats and teams would silently go stale.
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(TEAMS, query_params={"offset": "0", "limit": "100"}), list_page([{"id": "t1", "name": "a"}], None))
        output = read_streams(tabnine_config(), ["tabnine_teams"], state={"tabnine_teams": previous_state}, sync_mode=SyncMode.full_refresh)
    assert [message.record.data["id"] for message in output.records] == ["t1"]


def test_a_meta_next_that_does_not_move_forward_fails_instead_of_looping(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        request = HttpRequest(TEAMS, query_params={"offset": "0", "limit": "100"})
        http.get(request, list_page([{"id": "t1"}], {"limit": 100, "offset": 0}))
        output = read_streams(tabnine_config(), ["tabnine_teams"], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    assert output.errors[0].trace.error.message == (
        "Tabnine api/v1/organization/teams: paging does not end: meta.next does not move forward (offset 0) "
        "(page at offset 0, limit 100). The vendor's answers are inconsistent; retry later or report it to the vendor."
    )


def test_an_empty_page_whose_meta_next_still_says_more_fails_instead_of_looping(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(TEAMS, query_params={"offset": "0", "limit": "100"}), list_page([{"id": "t1"}], {"limit": 100, "offset": 100}))
        http.get(HttpRequest(TEAMS, query_params={"offset": "100", "limit": "100"}), list_page([], {"limit": 100, "offset": 200}))
        output = read_streams(tabnine_config(), ["tabnine_teams"], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    assert output.records == [], "the listing is read whole (once a sync, shared with tabnine_team_usage) before any record"
    assert output.errors[0].trace.error.message == (
        "Tabnine api/v1/organization/teams: paging does not end: an empty page says there is more (meta.next) "
        "(page at offset 100, limit 100). The vendor's answers are inconsistent; retry later or report it to the vendor."
    )


def test_a_page_without_data_is_an_error_naming_the_endpoint_never_silently_empty(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(users_request("true", "true"), json_response({"users": []}))
        output = read_streams(tabnine_config(), ["tabnine_users"], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    message = output.errors[0].trace.error.message
    assert "Tabnine" in message and "api/v1/organization/users" in message and "'data'" in message


# --- license ---------------------------------------------------------------------------------

#: 2025-01-01T00:00:00Z and 2030-01-01T00:00:00Z, in epoch seconds.
LICENSE_OBJECT: Dict[str, Any] = {
    "exp": 1893456000,
    "iat": 1735689600,
    "seats": 50,
    "seatsCap": 60,
    "audience": ORG_ID,
    "features": ["chat", "agent"],
    "settings": {"sso": True},
}


def test_the_license_is_one_record_kept_whole_with_issued_at_and_expires_at_in_utc(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(LICENSE), json_response({"license": LICENSE_OBJECT}))
        output = read_streams(tabnine_config(), [LICENSE_STREAM], sync_mode=SyncMode.full_refresh)
    assert not output.errors
    assert [message.record.data for message in output.records] == [
        {**LICENSE_OBJECT, "issued_at": "2025-01-01T00:00:00+00:00", "expires_at": "2030-01-01T00:00:00+00:00"}
    ]
    assert_records_match_their_schemas(output)


def test_a_license_without_exp_has_a_null_expires_at(clock: Sleeps) -> None:
    served = {key: value for key, value in LICENSE_OBJECT.items() if key != "exp"}
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(LICENSE), json_response({"license": served}))
        output = read_streams(tabnine_config(), [LICENSE_STREAM], sync_mode=SyncMode.full_refresh)
    (record,) = [message.record.data for message in output.records]
    assert (record["issued_at"], record.get("expires_at")) == ("2025-01-01T00:00:00+00:00", None)
    assert_records_match_their_schemas(output)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"license": {key: value for key, value in LICENSE_OBJECT.items() if key != "iat"}}, "no 'license.iat'"),
        ({"license": {**LICENSE_OBJECT, "iat": "2025-01-01"}}, "no 'license.iat'"),
        ({"seats": 50}, "no 'license' object"),
    ],
    ids=["no-iat", "iat-not-epoch-seconds", "no-license-object"],
)
def test_a_license_without_iat_is_a_malformed_body_naming_the_field(clock: Sleeps, body: Dict[str, Any], problem: str) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(LICENSE), json_response(body))
        output = read_streams(tabnine_config(), [LICENSE_STREAM], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    assert not output.records
    message = output.errors[0].trace.error.message
    assert "Tabnine" in message and "api/v1/license" in message and "malformed" in message and problem in message, message


def test_the_license_is_read_again_whatever_state_the_last_sync_left(clock: Sleeps) -> None:
    state = {LICENSE_STREAM: {"__ab_full_refresh_sync_complete": True}}
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(LICENSE), json_response({"license": LICENSE_OBJECT}))
        output = read_streams(tabnine_config(), [LICENSE_STREAM], state=state, sync_mode=SyncMode.full_refresh)
    assert [message.record.data["iat"] for message in output.records] == [LICENSE_OBJECT["iat"]]


# --- account utilizations -------------------------------------------------------------------


def test_zero_based_month_0_is_january_and_11_is_december(clock: Sleeps) -> None:
    config = tabnine_config(start_date="2025-11-01", end_date="2026-02-28")
    with VerifiedHttpMocker() as http:
        http.get(
            utilizations_request("2025-11"),
            json_response([utilization(2025, 10), utilization(2025, 11), utilization(2026, 0), utilization(2026, 1)]),
        )
        output = read_streams(config, [UTILIZATION_STREAM])
    records = [message.record.data for message in output.records]
    assert [(r["year"], r["month"], r["month_start"]) for r in records] == [
        (2025, 10, "2025-11-01"),
        (2025, 11, "2025-12-01"),
        (2026, 0, "2026-01-01"),
        (2026, 1, "2026-02-01"),
    ]
    assert records[1] == {**utilization(2025, 11), "month_start": "2025-12-01"}  # the item kept whole
    assert_records_match_their_schemas(output)


def test_the_current_month_is_emitted_but_state_never_passes_it(clock: Sleeps) -> None:
    config = tabnine_config(start_date="2026-04-01", end_date=None)
    with VerifiedHttpMocker() as http:
        http.get(
            utilizations_request("2026-04"),
            json_response([utilization(2026, 3), utilization(2026, 4), utilization(2026, 5, active=7)]),
        )
        output = read_streams(config, [UTILIZATION_STREAM])
    assert [message.record.data["month_start"] for message in output.records] == ["2026-04-01", "2026-05-01", "2026-06-01"]
    # June 2026 is not over: the state stops at May, once, after the whole answer.
    assert stream_states(output) == [{"month_start": "2026-05-01"}]


@pytest.mark.parametrize(("lookback_days", "first_month"), [(0, "2026-06"), (1, "2026-05"), (40, "2026-04")])
def test_the_next_sync_re_reads_the_current_month_and_the_lookback(clock: Sleeps, lookback_days: int, first_month: str) -> None:
    config = tabnine_config(start_date="2026-01-01", end_date=None, lookback_days=lookback_days)
    months = {"2026-04": [utilization(2026, 3)], "2026-05": [utilization(2026, 4)], "2026-06": []}
    served = [item for start, items in months.items() if start >= first_month for item in items]
    with VerifiedHttpMocker() as http:
        request = utilizations_request(first_month)
        http.get(request, json_response([*served, utilization(2026, 5)]))
        output = read_streams(config, [UTILIZATION_STREAM], state={UTILIZATION_STREAM: {"month_start": "2026-05-01"}})
        http.assert_number_of_calls(request, 1)
    assert output.records[-1].record.data["month_start"] == "2026-06-01"
    assert output.records[0].record.data["month_start"] == f"{first_month}-01"
    # A lookback re-read never moves the state back.
    assert output.most_recent_state.stream_state.__dict__ == {"month_start": "2026-05-01"}


def test_months_after_end_date_are_not_emitted(clock: Sleeps) -> None:
    config = tabnine_config(start_date="2026-03-10", end_date="2026-04-15")
    with VerifiedHttpMocker() as http:
        http.get(
            utilizations_request("2026-03"),
            json_response([utilization(2026, 2), utilization(2026, 3), utilization(2026, 4), utilization(2026, 5)]),
        )
        output = read_streams(config, [UTILIZATION_STREAM])
    assert [message.record.data["month_start"] for message in output.records] == ["2026-03-01", "2026-04-01"]
    assert stream_states(output) == [{"month_start": "2026-04-01"}]


def test_a_month_outside_0_to_11_is_refused_naming_the_endpoint(clock: Sleeps) -> None:
    config = tabnine_config(start_date="2026-05-01", end_date=None)
    with VerifiedHttpMocker() as http:
        http.get(utilizations_request("2026-05"), json_response([utilization(2026, 12)]))
        output = read_streams(config, [UTILIZATION_STREAM], expecting_exception=True)
    message = output.errors[0].trace.error.message
    assert "account-utilizations" in message and "zero-based" in message
    assert not output.records


# --- organisation usage ---------------------------------------------------------------------

WINDOWS = {
    # start_date, end_date -> the windows asked for: the whole finished periods in UTC.
    "daily": (
        "2026-06-08",
        "2026-06-09",
        [("2026-06-08T00:00:00Z", "2026-06-09T00:00:00Z"), ("2026-06-09T00:00:00Z", "2026-06-10T00:00:00Z")],
    ),
    # 2026-05-20 is a Wednesday: its week starts on Monday 05-18; the week of 06-08 has not ended.
    "weekly": (
        "2026-05-20",
        None,
        [
            ("2026-05-18T00:00:00Z", "2026-05-25T00:00:00Z"),
            ("2026-05-25T00:00:00Z", "2026-06-01T00:00:00Z"),
            ("2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z"),
        ],
    ),
    "monthly": (
        "2026-03-15",
        None,
        [
            ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"),
            ("2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"),
            ("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z"),
        ],
    ),
}


@pytest.mark.parametrize("granularity", list(WINDOWS))
def test_usage_windows_align_to_the_granularity_in_utc_from_inclusive_to_exclusive(clock: Sleeps, granularity: str) -> None:
    start_date, end_date, windows = WINDOWS[granularity]
    config = tabnine_config(start_date=start_date, end_date=end_date, tabnine={"granularity": granularity})
    with VerifiedHttpMocker() as http:
        organization = HttpRequest(ORGANIZATION)
        http.get(organization, organization_response())
        sent = []
        for start, end in windows:
            request = usage_request(USAGE_V2, start, end)
            sent.append(request)
            http.get(request, usage_response(start, end))
        output = read_streams(config, [USAGE_STREAM])
        for request in sent:
            http.assert_number_of_calls(request, 1)
        http.assert_number_of_calls(organization, 1)  # the id is fetched once
    records = [message.record.data for message in output.records]
    as_offsets = [(start.replace("Z", "+00:00"), end.replace("Z", "+00:00")) for start, end in windows]
    assert [(r["period_start"], r["period_end"]) for r in records] == as_offsets
    assert all(r["granularity"] == granularity and r["organizationId"] == ORG_ID for r in records)
    assert records[0]["codeCompletions"] == {"accepted": 10, "shown": 40}  # nested objects kept
    # State after each finished window.
    assert stream_states(output) == [{"period_start": start} for start, _ in as_offsets]
    assert_records_match_their_schemas(output)


def test_v2_answering_404_falls_back_to_v1_once_and_says_so_in_the_log(clock: Sleeps) -> None:
    day_1 = ("2026-06-08T00:00:00Z", "2026-06-09T00:00:00Z")
    day_2 = ("2026-06-09T00:00:00Z", "2026-06-10T00:00:00Z")
    v2_day_1, v1_day_1, v1_day_2 = usage_request(USAGE_V2, *day_1), usage_request(USAGE_V1, *day_1), usage_request(USAGE_V1, *day_2)
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(v2_day_1, not_found())
        http.get(v1_day_1, usage_response(*day_1, active_users=1))
        http.get(v1_day_2, usage_response(*day_2, active_users=2))
        output = read_streams(tabnine_config(), [USAGE_STREAM])
        # v2 once: the second window goes straight to v1 (an unmocked v2 request would fail the read).
        http.assert_number_of_calls(v2_day_1, 1)
        http.assert_number_of_calls(v1_day_1, 1)
        http.assert_number_of_calls(v1_day_2, 1)
    assert not output.errors
    assert [message.record.data["activeUsers"] for message in output.records] == [1, 2]
    fallback_line = (
        "Tabnine server has no /api/v2/organization/usage (HTTP 404: a server older than 6.2); "
        "falling back to /api/v1/organization/usage for the rest of this sync."
    )
    assert [log.log.level.value for log in output.logs if log.log.message == fallback_line] == ["WARN"]
    assert stream_states(output) == [{"period_start": "2026-06-08T00:00:00+00:00"}, {"period_start": "2026-06-09T00:00:00+00:00"}]


def test_v1_answering_404_after_the_fallback_is_a_config_error_about_the_host(clock: Sleeps) -> None:
    day = ("2026-06-09T00:00:00Z", "2026-06-10T00:00:00Z")
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(usage_request(USAGE_V2, *day), not_found())
        http.get(usage_request(USAGE_V1, *day), not_found())
        output = read_streams(tabnine_config(start_date="2026-06-09"), [USAGE_STREAM], expecting_exception=True)
    trace = output.errors[0].trace.error
    assert trace.failure_type == FailureType.config_error
    assert "api/v1/organization/usage" in trace.message and "tabnine.base_url may be wrong" in trace.message


@pytest.mark.parametrize(
    ("granularity", "lookback_days", "state", "windows"),
    [
        # daily, lookback 1 day: the cursor day is read again, then the days after it.
        (
            "daily",
            1,
            "2026-06-07T00:00:00+00:00",
            [
                ("2026-06-07T00:00:00Z", "2026-06-08T00:00:00Z"),
                ("2026-06-08T00:00:00Z", "2026-06-09T00:00:00Z"),
                ("2026-06-09T00:00:00Z", "2026-06-10T00:00:00Z"),
            ],
        ),
        # daily, no lookback: the day after the cursor.
        ("daily", 0, "2026-06-08T00:00:00+00:00", [("2026-06-09T00:00:00Z", "2026-06-10T00:00:00Z")]),
        # weekly, lookback 1 day rounds up to one whole week: the cursor week again.
        ("weekly", 1, "2026-06-01T00:00:00+00:00", [("2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z")]),
    ],
)
def test_usage_resumes_from_state_minus_the_lookback(
    clock: Sleeps, granularity: str, lookback_days: int, state: str, windows: List[Any]
) -> None:
    config = tabnine_config(start_date="2026-05-01", end_date=None, lookback_days=lookback_days, tabnine={"granularity": granularity})
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        for start, end in windows:
            http.get(usage_request(USAGE_V2, start, end), usage_response(start, end))
        # Any earlier window would find no mock and fail the read.
        output = read_streams(config, [USAGE_STREAM], state={USAGE_STREAM: {"period_start": state}})
    assert not output.errors
    assert [message.record.data["period_start"] for message in output.records] == [start.replace("Z", "+00:00") for start, _ in windows]


def test_a_usage_body_without_usage_data_is_an_error_naming_the_endpoint(clock: Sleeps) -> None:
    day = ("2026-06-09T00:00:00Z", "2026-06-10T00:00:00Z")
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(usage_request(USAGE_V2, *day), json_response({"organizationId": ORG_ID}))
        output = read_streams(tabnine_config(start_date="2026-06-09"), [USAGE_STREAM], expecting_exception=True)
    message = output.errors[0].trace.error.message
    assert "api/v2/organization/usage" in message and "usage.data" in message
    assert not output.state_messages


WEEK = ("2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z")
MODEL = {"model": "7f1c9a52-0d3e-4b8e-9a11-2c5d6e7f8091", "messages": 12, "uniqueUsers": 4, "inputTokens": 9000, "outputTokens": 2100}


def usage_body(*buckets: Dict[str, Any]) -> HttpResponse:
    return json_response({"organizationId": ORG_ID, "from": WEEK[0], "to": WEEK[1], "usage": {"granularity": "all", "data": list(buckets)}})


def read_week(*buckets: Dict[str, Any], expecting_exception: bool = False) -> EntrypointOutput:
    """The week of 2026-06-01 (granularity weekly), answered with ``buckets``."""
    config = tabnine_config(start_date="2026-06-01", end_date="2026-06-07", tabnine={"granularity": "weekly"})
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(usage_request(USAGE_V2, *WEEK), usage_body(*buckets))
        return read_streams(config, [USAGE_STREAM], expecting_exception=expecting_exception)


def day_bucket(day: int, **fields: Any) -> Dict[str, Any]:
    return {"from": f"2026-06-{day:02d}T00:00:00.000Z", "to": f"2026-06-{day + 1:02d}T00:00:00.000Z", "activeUsers": day, **fields}


def test_one_bucket_answering_a_window_asked_with_granularity_all_has_the_window_as_its_period_and_keeps_its_models(
    clock: Sleeps,
) -> None:
    # The server's own from/to (milliseconds, or clipped to the first day with data) change no key.
    bucket = {**day_bucket(2), "chat": {"messages": 12, "models": [MODEL]}, "agent": {"messages": 3, "models": [MODEL]}}
    output = read_week(bucket)
    assert [message.record.data for message in output.records] == [
        {
            "organizationId": ORG_ID,
            **bucket,
            "period_start": "2026-06-01T00:00:00+00:00",
            "period_end": "2026-06-08T00:00:00+00:00",
            "granularity": "weekly",
        }
    ]
    assert stream_states(output) == [{"period_start": "2026-06-01T00:00:00+00:00"}]
    assert_records_match_their_schemas(output)


def test_several_buckets_answering_one_window_are_each_emitted_with_their_own_from_and_to_as_the_period(clock: Sleeps) -> None:
    output = read_week(day_bucket(1), day_bucket(2), day_bucket(5))
    records = [message.record.data for message in output.records]
    assert [(r["period_start"], r["period_end"], r["granularity"], r["activeUsers"]) for r in records] == [
        ("2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", "weekly", 1),
        ("2026-06-02T00:00:00+00:00", "2026-06-03T00:00:00+00:00", "weekly", 2),
        ("2026-06-05T00:00:00+00:00", "2026-06-06T00:00:00+00:00", "weekly", 5),
    ]
    assert stream_states(output) == [{"period_start": "2026-06-01T00:00:00+00:00"}]  # the window's, once it is read
    assert [log.log.message for log in output.logs if "buckets for the window" in log.log.message] == [
        "Tabnine api/v2/organization/usage answered 3 buckets for the window from 2026-06-01T00:00:00+00:00 asked with "
        "granularity=all; each is emitted with its own from/to as its period."
    ]
    assert_records_match_their_schemas(output)


def test_several_buckets_when_one_lacks_from_fail_naming_the_field_and_emit_nothing(clock: Sleeps) -> None:
    output = read_week(day_bucket(1), {"to": "2026-06-03T00:00:00Z", "activeUsers": 2}, expecting_exception=True)
    assert not output.records and not output.state_messages
    assert output.errors[0].trace.error.message == with_period_note(
        "Tabnine api/v2/organization/usage answered 2 buckets for one window, and bucket 1 has no date-time 'from' "
        "(it has: activeUsers, to); with several buckets each one's from/to is its period. No bucket is emitted under a "
        "period that could collide with another; report it to Tabnine.",
        "tabnine_organization_usage", "2026-06-01T00:00:00+00:00", "2026-06-08T00:00:00+00:00",
    )  # fmt: skip


@pytest.mark.parametrize(
    "buckets",
    [
        [day_bucket(1), day_bucket(1, activeUsers=9)],  # two under one key
        [day_bucket(1), {"from": "2026-06-01T12:00:00Z", "to": "2026-06-03T00:00:00Z"}],  # overlapping
        [day_bucket(1), day_bucket(7, to="2026-06-09T00:00:00Z")],  # past the window
    ],
    ids=["same-from", "overlapping", "outside-the-window"],
)
def test_several_buckets_that_overlap_or_leave_the_window_fail_instead_of_counting_twice(
    clock: Sleeps, buckets: List[Dict[str, Any]]
) -> None:
    output = read_week(*buckets, expecting_exception=True)
    assert not output.records and not output.state_messages
    message = output.errors[0].trace.error.message
    assert message.startswith(
        "Tabnine api/v2/organization/usage answered 2 buckets for the window from 2026-06-01T00:00:00+00:00 to "
        "2026-06-08T00:00:00+00:00, and the one from "
    ), message
    assert "overlaps another or lies outside the window" in message


def test_v1_buckets_keep_productivity_factor_instruct_and_agent_chat_and_agent_fields_typed_by_the_schema(clock: Sleeps) -> None:
    v1 = {
        **day_bucket(3),
        "productivityFactor": 0.4375,
        "instruct": {"acceptedCount": 7},
        "agentChat": {"interactions": 5},
        "agentAgent": {"interactions": 2},
    }
    config = tabnine_config(start_date="2026-06-01", end_date="2026-06-07", tabnine={"granularity": "weekly"})
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(usage_request(USAGE_V2, *WEEK), not_found())
        http.get(usage_request(USAGE_V1, *WEEK), usage_body(v1))
        output = read_streams(config, [USAGE_STREAM])
    (record,) = [message.record.data for message in output.records]
    assert {key: record[key] for key in ("productivityFactor", "instruct", "agentChat", "agentAgent", "period_start")} == {
        "productivityFactor": 0.4375,
        "instruct": {"acceptedCount": 7},
        "agentChat": {"interactions": 5},
        "agentAgent": {"interactions": 2},
        "period_start": "2026-06-01T00:00:00+00:00",
    }
    schema = load_schema(USAGE_STREAM)["properties"]
    assert schema["productivityFactor"]["type"] == ["null", "number"]
    assert [(schema[field]["type"], schema[field]["format"]) for field in ("from", "to")] == [(["null", "string"], "date-time")] * 2
    assert_records_match_their_schemas(output)


# --- errors, retries, secrets, check --------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_config_errors_naming_tabnine_and_the_token(clock: Sleeps, status: int) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), json_response({"error": "Unauthorized", "status": status}, status=status))
        output = read_streams(tabnine_config(), ["tabnine_organization"], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    trace = output.errors[0].trace.error
    assert trace.failure_type == FailureType.config_error
    assert "Tabnine" in trace.message and "tabnine.api_token" in trace.message


def test_a_404_from_a_private_install_host_says_the_host_may_be_wrong(clock: Sleeps) -> None:
    config = tabnine_config(tabnine={"base_url": "https://tabnine.corp.test"})
    with VerifiedHttpMocker() as http:
        http.get(
            HttpRequest("https://tabnine.corp.test/api/v1/organization/teams", query_params={"offset": "0", "limit": "100"}),
            not_found(),
        )
        output = read_streams(config, ["tabnine_teams"], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    trace = output.errors[0].trace.error
    assert trace.failure_type == FailureType.config_error
    assert trace.message.startswith("Tabnine answered 404 for api/v1/organization/teams: the host in tabnine.base_url")


def test_429_waits_for_retry_after_and_retries(clock: Sleeps) -> None:
    limited = json_response({"error": "Too Many Requests"}, status=429, headers={"Retry-After": "9"})
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), [limited, organization_response()])
        output = read_streams(tabnine_config(), ["tabnine_organization"], sync_mode=SyncMode.full_refresh)
    assert len(output.records) == 1 and not output.errors
    assert clock.waits == [9 + 1]  # Retry-After, and the CDK's extra second


def test_the_token_is_sent_as_bearer_and_no_secret_reaches_any_output_line(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION, headers={"Authorization": f"Bearer {SECRET}"}), organization_response())
        http.get(
            HttpRequest(TEAMS, query_params={"offset": "0", "limit": "100"}),
            json_response({"error": f"token {SECRET} is not valid"}, status=401),
        )
        http.get(users_request("true", "true"), HttpResponse(f"<html>{SECRET}</html>", status_code=404))
        output = read_streams(
            tabnine_config(), ["tabnine_organization", "tabnine_teams", "tabnine_users"], sync_mode=SyncMode.full_refresh,
            expecting_exception=True,
        )  # fmt: skip
    assert len(output.records) == 1 and output.errors  # the success and the error paths ran
    assert SECRET not in all_output_lines(output)


def test_check_reads_the_organization_once(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        organization = HttpRequest(ORGANIZATION)
        http.get(organization, organization_response())
        succeeded, message = SourceUsage().check_connection(logging.getLogger("test"), tabnine_config())
        http.assert_number_of_calls(organization, 1)
    assert succeeded and message is None


def test_check_with_a_rejected_token_fails_naming_tabnine_and_the_field(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), json_response({"error": "Unauthorized"}, status=401))
        status = SourceUsage().check(logging.getLogger("test"), tabnine_config())
    assert status.status.value == "FAILED"
    assert "Tabnine" in status.message and "tabnine.api_token" in status.message and SECRET not in status.message


def test_all_six_streams_read_side_by_side_in_one_sync(clock: Sleeps) -> None:
    day = ("2026-06-09T00:00:00Z", "2026-06-10T00:00:00Z")
    config = tabnine_config(start_date="2026-06-09")
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(ORGANIZATION), organization_response())
        http.get(HttpRequest(TEAMS, query_params={"offset": "0", "limit": "100"}), list_page([{"id": "t1"}], None))
        for listing in LISTINGS:
            http.get(users_request(*listing), list_page([{"id": f"u-{'-'.join(listing)}"}], None))
        http.get(HttpRequest(LICENSE), json_response({"license": LICENSE_OBJECT}))
        http.get(utilizations_request("2026-06"), json_response([utilization(2026, 5)]))
        http.get(usage_request(USAGE_V2, *day), usage_response(*day))
        output = read_streams(config, [*FULL_REFRESH_STREAMS, LICENSE_STREAM, UTILIZATION_STREAM, USAGE_STREAM])
    assert not output.errors
    assert sorted(message.record.stream for message in output.records) == sorted(
        [*FULL_REFRESH_STREAMS, LICENSE_STREAM, UTILIZATION_STREAM, USAGE_STREAM, *["tabnine_users"] * 3]  # a user per listing
    )
    assert_records_match_their_schemas(output)
