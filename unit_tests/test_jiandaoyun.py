"""The Jiandaoyun streams, against in-process HTTP mocks, one test per promised behaviour."""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Mapping, Optional

import pytest
import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.call_rate import CallRateLimitHit
from airbyte_cdk.test.entrypoint_wrapper import discover
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse

from integration_tests.assertions import with_period_note
from source_usage import SourceUsage
from source_usage.vendors.jiandaoyun import METRICS
from unit_tests.conftest import Sleeps
from unit_tests.helpers import VerifiedHttpMocker, all_output_lines, read_streams
from unit_tests.jiandaoyun_helpers import BASE_URL, SECRET, jiandaoyun_config

#: The member stream's period of 2026-06-09 (the unit tests' today is 2026-06-10), Beijing time.
MEMBERS_2026_06_09 = ("jiandaoyun_member_usage", "2026-06-09T00:00:00+08:00", "2026-06-10T00:00:00+08:00")

MEMBERS = BASE_URL + "/api/v1/corp_usage/member_metrics"
APPS = BASE_URL + "/api/v1/corp_usage/app_metrics"
OVERVIEW = BASE_URL + "/api/v1/corp_usage/overview"


def member_item(member_id: str, **metrics: int) -> Dict[str, Any]:
    return {"member": {"member_id": member_id, "name": f"name-{member_id}"}, "metrics": {"app": 1, "dash": 2, **metrics}}


def page(date: str, items: List[Dict[str, Any]], has_next: bool = False) -> HttpResponse:
    return HttpResponse(json.dumps({"date": date, "has_next": has_next, "items": items}))


def member_request(date: str, skip: int = 0, ids: Optional[List[str]] = None) -> HttpRequest:
    body: Dict[str, Any] = {"date": date, "skip": skip, "limit": 100}
    if ids is not None:
        body["member_ids"] = ids
    return HttpRequest(MEMBERS, body=body)


def error(status: int, code: int, msg: str = "error", headers: Optional[Mapping[str, str]] = None) -> HttpResponse:
    return HttpResponse(json.dumps({"code": code, "msg": msg}), status_code=status, headers=dict(headers or {}))


def one_day(**overrides: Any) -> Dict[str, Any]:
    return jiandaoyun_config(start_date="2026-06-09", end_date="2026-06-09", **overrides)


def states(output: Any) -> List[Dict[str, Any]]:
    return [dict(message.state.stream.stream_state.__dict__) for message in output.state_messages]


# --- discover -------------------------------------------------------------------------------


def test_discover_lists_the_three_jiandaoyun_streams_with_keys_cursor_and_both_modes() -> None:
    catalog = discover(SourceUsage(), jiandaoyun_config()).catalog.catalog
    streams = {stream.name: stream for stream in catalog.streams}
    assert set(streams) == {"jiandaoyun_member_usage", "jiandaoyun_app_usage", "jiandaoyun_overview_usage"}
    assert streams["jiandaoyun_member_usage"].source_defined_primary_key == [["date"], ["member_id"]]
    assert streams["jiandaoyun_app_usage"].source_defined_primary_key == [["date"], ["app_id"]]
    assert streams["jiandaoyun_overview_usage"].source_defined_primary_key == [["date"]]
    for stream in streams.values():
        assert stream.default_cursor_field == ["date"]
        assert set(stream.supported_sync_modes) == {SyncMode.full_refresh, SyncMode.incremental}


# --- paging, chunking, records --------------------------------------------------------------


def test_pages_follow_skip_and_stop_on_has_next_false_without_an_extra_request(clock: Sleeps) -> None:
    pages = {0: range(0, 100), 100: range(100, 200), 200: range(200, 201)}
    with VerifiedHttpMocker() as http:
        sent = {}
        for skip, members in pages.items():
            sent[skip] = member_request("2026-06-09", skip)
            http.post(sent[skip], page("2026-06-09", [member_item(f"m{i}") for i in members], has_next=skip < 200))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"])
        for request in sent.values():
            http.assert_number_of_calls(request, 1)
    ids = [record.record.data["member_id"] for record in output.records]
    assert ids == [f"m{i}" for i in range(201)]
    assert not output.errors


def test_member_ids_are_sent_ten_per_request_so_25_ids_make_3_requests_per_page_position(clock: Sleeps) -> None:
    ids = [f"id{i:02d}" for i in range(25)]
    chunks = [ids[0:10], ids[10:20], ids[20:25]]
    with VerifiedHttpMocker() as http:
        sent = []
        for chunk in chunks:
            first, second = member_request("2026-06-09", 0, chunk), member_request("2026-06-09", 5, chunk)
            http.post(first, page("2026-06-09", [member_item(i) for i in chunk[:5]], True))
            http.post(second, page("2026-06-09", [member_item(i) for i in chunk[5:]], False))
            sent += [first, second]
        output = read_streams(one_day(jiandaoyun={"member_ids": ids}), ["jiandaoyun_member_usage"])
        for request in sent:
            http.assert_number_of_calls(request, 1)
    assert sorted(record.record.data["member_id"] for record in output.records) == ids
    # One date, three chunks: one state, after the last chunk, not one per chunk.
    assert states(output) == [{"date": "2026-06-09"}]


def test_member_record_keeps_the_item_whole_and_adds_date_member_id_and_typed_metrics(clock: Sleeps) -> None:
    item = {"member": {"member_id": "m1", "name": "Tom"}, "metrics": {"app": 2, "data": 7.0, "new_metric": 5, "dash": "3"}}
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), page("2026-06-09", [item]))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"])
    data = output.records[0].record.data
    assert data["date"] == "2026-06-09" and data["member_id"] == "m1"
    assert data["member"] == {"member_id": "m1", "name": "Tom"}
    assert data["metrics"] == {"app": 2, "data": 7.0, "new_metric": 5, "dash": "3"}  # raw, new keys kept
    assert data["app"] == 2 and data["data"] == 7
    assert data.get("dash") is None and data.get("etl") is None  # not an integer / absent: null


def test_app_records_carry_app_id_and_the_overview_one_record_per_date(clock: Sleeps) -> None:
    app = {"app_id": "a1", "app_name": "CRM", "creator": {"member_id": "m1", "name": "Tom"},
           "created_at": "2026-01-01T00:00:00+08:00", "metrics": {"form_coop": 20}}  # fmt: skip
    with VerifiedHttpMocker() as http:
        http.post(HttpRequest(APPS, body={"date": "2026-06-09", "skip": 0, "limit": 100}), page("2026-06-09", [app]))
        http.post(HttpRequest(OVERVIEW, body={"date": "2026-06-09"}),
                  HttpResponse(json.dumps({"date": "2026-06-09", "metrics": {"app": 40, "data": 1200}})))  # fmt: skip
        output = read_streams(one_day(), ["jiandaoyun_app_usage", "jiandaoyun_overview_usage"])
    by_stream = {record.record.stream: record.record.data for record in output.records}
    assert by_stream["jiandaoyun_app_usage"]["app_id"] == "a1"
    assert by_stream["jiandaoyun_app_usage"]["creator"] == {"member_id": "m1", "name": "Tom"}
    assert by_stream["jiandaoyun_app_usage"]["form_coop"] == 20
    assert by_stream["jiandaoyun_overview_usage"] == {"date": "2026-06-09", "metrics": {"app": 40, "data": 1200}, "app": 40, "data": 1200}


def test_every_record_validates_against_its_stream_schema(clock: Sleeps) -> None:
    import jsonschema

    from source_usage.core.schemas import load_schema

    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), page("2026-06-09", [member_item("m1", data=3)]))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"])
    schema = load_schema("jiandaoyun_member_usage")
    for record in output.records:
        jsonschema.validate(record.record.data, schema)
    assert set(METRICS) <= set(schema["properties"])


# --- dates ------------------------------------------------------------------------------------




def dates_read(output: Any) -> List[str]:
    return [state["date"] for state in states(output)]


def overview_for(dates: List[str], http: VerifiedHttpMocker) -> None:
    for date in dates:
        http.post(HttpRequest(OVERVIEW, body={"date": date}), HttpResponse(json.dumps({"date": date, "metrics": {}})))


def test_latest_date_is_yesterday_in_utc8_not_in_utc() -> None:
    import freezegun

    # 23:30 UTC on 06-01 is 07:30 on 06-02 in UTC+8: the latest finished day there is 06-01.
    # The UTC date minus one would be 05-31.
    with freezegun.freeze_time("2026-06-01T23:30:00Z"), VerifiedHttpMocker() as http:
        overview_for(["2026-05-31", "2026-06-01"], http)
        output = read_streams(
            jiandaoyun_config(start_date="2026-05-31", end_date=None),
            ["jiandaoyun_overview_usage"],
        )
    assert dates_read(output) == ["2026-05-31", "2026-06-01"]


def test_a_future_end_date_is_clamped_to_t_minus_1(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        overview_for(["2026-06-08", "2026-06-09"], http)
        output = read_streams(jiandaoyun_config(start_date="2026-06-08", end_date="2026-12-31"), ["jiandaoyun_overview_usage"])
    assert dates_read(output) == ["2026-06-08", "2026-06-09"]
    assert not output.errors


def test_a_start_older_than_t_minus_180_is_moved_up_with_a_warning(clock: Sleeps) -> None:
    # T = 2026-06-10 in UTC+8, so T-180 is 2025-12-12.
    with VerifiedHttpMocker() as http:
        overview_for(["2025-12-12", "2025-12-13"], http)
        output = read_streams(jiandaoyun_config(start_date="2025-01-01", end_date="2025-12-13"), ["jiandaoyun_overview_usage"])
    assert dates_read(output) == ["2025-12-12", "2025-12-13"]
    assert output.is_in_logs("start_date 2025-01-01 is moved up to 2025-12-12")


def test_incremental_resumes_the_day_after_the_cursor(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        overview_for(["2026-06-08", "2026-06-09"], http)
        output = read_streams(
            jiandaoyun_config(start_date="2026-06-01", end_date="2026-06-09", lookback_days=0),
            ["jiandaoyun_overview_usage"],
            state={"jiandaoyun_overview_usage": {"date": "2026-06-07"}},
        )
    assert dates_read(output) == ["2026-06-08", "2026-06-09"]


def test_lookback_re_reads_that_many_synced_days_and_never_moves_state_back(clock: Sleeps) -> None:
    # first day = max(start, cursor + 1 - lookback) = 06-09 + 1 - 2 = 06-08
    with VerifiedHttpMocker() as http:
        overview_for(["2026-06-08", "2026-06-09"], http)
        output = read_streams(
            jiandaoyun_config(start_date="2026-06-01", end_date="2026-06-09", lookback_days=2),
            ["jiandaoyun_overview_usage"],
            state={"jiandaoyun_overview_usage": {"date": "2026-06-09"}},
        )
    assert [record.record.data["date"] for record in output.records] == ["2026-06-08", "2026-06-09"]
    assert dates_read(output) == ["2026-06-09", "2026-06-09"]


def test_full_refresh_ignores_state_and_reads_every_day(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        overview_for(["2026-06-08", "2026-06-09"], http)
        output = read_streams(
            jiandaoyun_config(), ["jiandaoyun_overview_usage"],
            state={"jiandaoyun_overview_usage": {"date": "2026-06-09"}}, sync_mode=SyncMode.full_refresh,
        )  # fmt: skip
    assert [record.record.data["date"] for record in output.records] == ["2026-06-08", "2026-06-09"]


def test_state_is_emitted_after_each_fully_read_date(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        for date in ("2026-06-08", "2026-06-09"):
            http.post(member_request(date, 0), page(date, [member_item("m1")], True))
            http.post(member_request(date, 1), page(date, [member_item("m2")], False))
        output = read_streams(jiandaoyun_config(), ["jiandaoyun_member_usage"])
    messages = [m for m in output.records_and_state_messages]
    kinds = [(m.type.value, m.record.data["date"] if m.record else m.state.stream.stream_state.date) for m in messages]
    assert kinds == [
        ("RECORD", "2026-06-08"), ("RECORD", "2026-06-08"), ("STATE", "2026-06-08"),
        ("RECORD", "2026-06-09"), ("RECORD", "2026-06-09"), ("STATE", "2026-06-09"),
    ]  # fmt: skip


def test_a_failure_mid_date_leaves_state_at_the_last_complete_date(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-08", 0), page("2026-06-08", [member_item("m1")]))
        http.post(member_request("2026-06-09", 0), page("2026-06-09", [member_item("m1")], True))
        http.post(member_request("2026-06-09", 1), error(400, 17017, "invalid parameter"))
        output = read_streams(jiandaoyun_config(), ["jiandaoyun_member_usage"], expecting_exception=True)
    assert dates_read(output) == ["2026-06-08"]
    assert output.errors


def test_an_unreadable_cursor_in_state_is_a_config_error_naming_the_stream(clock: Sleeps) -> None:
    output = read_streams(
        jiandaoyun_config(), ["jiandaoyun_overview_usage"],
        state={"jiandaoyun_overview_usage": {"date": "yesterday"}}, expecting_exception=True,
    )  # fmt: skip
    trace = output.errors[0].trace.error
    assert trace.failure_type == FailureType.config_error
    assert "jiandaoyun_overview_usage" in trace.message


# --- errors -----------------------------------------------------------------------------------


#: The CDK's HttpClient sleeps one second more than the backoff strategy asks for.
CDK = 1.0


def frequency_limit(code: int = 8303) -> HttpResponse:
    return error(400, code, "frequency limit")  # Jiandaoyun sends no Retry-After


def limited_by_429(retry_after: str) -> HttpResponse:
    return HttpResponse("{}", status_code=429, headers={"Retry-After": retry_after})


def read_one_member_after(answers: List[HttpResponse]) -> Any:
    """Read 06-09 where the member request gets ``answers`` and then one member."""
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), [*answers, page("2026-06-09", [member_item("m1")])])
        output = read_streams(one_day(), ["jiandaoyun_member_usage"])
    assert len(output.records) == 1 and not output.errors
    return output


@pytest.mark.parametrize("code", [8303, 8304])
def test_a_rate_limit_code_without_retry_after_waits_1_second_then_retries(clock: Sleeps, code: int) -> None:
    read_one_member_after([frequency_limit(code)])
    assert clock.waits == [1 + CDK]


def test_rate_limit_codes_in_a_row_wait_1_2_4_8_seconds(clock: Sleeps) -> None:
    read_one_member_after([frequency_limit()] * 4)
    assert clock.waits == [1 + CDK, 2 + CDK, 4 + CDK, 8 + CDK]


def test_http_429_waits_exactly_retry_after_seconds(clock: Sleeps) -> None:
    read_one_member_after([limited_by_429("7")])
    assert clock.waits == [7 + CDK]


def test_a_retry_after_http_date_waits_until_that_moment(clock: Sleeps) -> None:
    # The clock is frozen at 2026-06-10 12:00:00 UTC: 12:00:30 GMT is 30 seconds away.
    read_one_member_after([limited_by_429("Wed, 10 Jun 2026 12:00:30 GMT")])
    assert clock.waits == [30 + CDK]


def test_a_retry_after_over_300_seconds_waits_300_in_all(clock: Sleeps) -> None:
    # A request waits at most 300 s between its attempts, the CDK's extra second included.
    read_one_member_after([limited_by_429("3600")])
    assert clock.waits == [299 + CDK]


def test_the_300_seconds_are_for_all_the_waits_of_one_request(clock: Sleeps) -> None:
    read_one_member_after([limited_by_429("200"), limited_by_429("200")])
    assert clock.waits == [200 + CDK, 98 + CDK]
    assert sum(clock.waits) == 300


def test_retry_after_0_on_a_429_waits_the_shortest_rate_limit_wait(clock: Sleeps) -> None:
    read_one_member_after([limited_by_429("0")])
    assert clock.waits == [1 + CDK]


def test_rate_limiting_that_never_ends_gives_up_after_5_retries_with_a_transient_error_naming_vendor_and_endpoint(
    clock: Sleeps,
) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), frequency_limit(), calls=6)
        output = read_streams(one_day(), ["jiandaoyun_member_usage"], expecting_exception=True)
    trace = output.errors[0].trace.error
    assert trace.failure_type == FailureType.transient_error
    assert "Jiandaoyun" in trace.message and "member_metrics" in trace.message
    assert clock.waits == [1 + CDK, 2 + CDK, 4 + CDK, 8 + CDK, 16 + CDK]


def summary_line(output: Any) -> str:
    [line] = [log.log.message for log in output.logs if log.log.message.startswith("Sync summary")]
    return line


def test_the_summary_counts_each_rate_limit_wait_and_its_seconds_with_the_cdks_extra_second(clock: Sleeps) -> None:
    output = read_one_member_after([frequency_limit(), limited_by_429("7")])
    assert clock.waits == [1 + CDK, 7 + CDK]
    assert summary_line(output) == (
        "Sync summary: jiandaoyun_member_usage: 3 requests, 2 retries, 2 rate-limit waits (10.0 s), 1 records."
        " Timing: wall time 10.0 s, 0.0 s of it waiting for the request budget."
    )


def test_the_summary_of_a_sync_that_gave_up_counts_only_the_waits_that_happened(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), frequency_limit(), calls=6)
        output = read_streams(one_day(), ["jiandaoyun_member_usage"], expecting_exception=True)
    # The sixth answer is not retried: five retries, and 2 + 3 + 5 + 9 + 17 = 36 s of waiting.
    assert clock.waits == [1 + CDK, 2 + CDK, 4 + CDK, 8 + CDK, 16 + CDK]
    assert summary_line(output) == (
        "Sync summary: jiandaoyun_member_usage: 6 requests, 5 retries, 5 rate-limit waits (36.0 s), 0 records."
        " Timing: wall time 36.0 s, 0.0 s of it waiting for the request budget."
    )


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_backoff(clock: Sleeps, status: int) -> None:
    read_one_member_after([HttpResponse("bad gateway", status_code=status)])
    assert clock.waits == [1]  # the CDK's exponential backoff, without Retry-After


def test_server_errors_in_a_row_back_off_1_2_4_seconds_and_are_no_rate_limit_waits(clock: Sleeps) -> None:
    output = read_one_member_after([HttpResponse("bad gateway", status_code=503)] * 3)
    assert clock.waits == [1, 2, 4]
    assert summary_line(output) == (
        "Sync summary: jiandaoyun_member_usage: 4 requests, 3 retries, 0 rate-limit waits (0.0 s), 1 records."
        " Timing: wall time 7.0 s, 0.0 s of it waiting for the request budget."
    )


def test_a_server_error_with_retry_after_waits_that_long(clock: Sleeps) -> None:
    read_one_member_after([HttpResponse("busy", status_code=503, headers={"Retry-After": "12"})])
    assert clock.waits == [12 + CDK]


def test_connection_errors_are_retried_with_backoff(clock: Sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), page("2026-06-09", [member_item("m1")]))
        mocked_send = requests.Session.send  # requests-mock's, installed by HttpMocker
        calls = {"count": 0}

        def flaky_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            calls["count"] += 1
            if calls["count"] == 1:
                raise requests.ConnectionError("connection reset")
            return mocked_send(self, request, **kwargs)

        # Undone before HttpMocker exits, so requests-mock restores the real send afterwards.
        with monkeypatch.context() as patch:
            patch.setattr(requests.Session, "send", flaky_send)
            output = read_streams(one_day(), ["jiandaoyun_member_usage"])
    assert len(output.records) == 1 and calls["count"] == 2
    assert clock.waits == [1]


@pytest.mark.parametrize("code", [8301, 8302, 17018])
def test_credential_codes_are_config_errors_naming_jiandaoyun(clock: Sleeps, code: int) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), error(400, code, "api key invalid"))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"], expecting_exception=True)
    trace = output.errors[0].trace.error
    assert trace.failure_type == FailureType.config_error
    assert "Jiandaoyun" in trace.message and "jiandaoyun.api_key" in trace.message


@pytest.mark.parametrize("status", [401, 403])
def test_http_401_and_403_are_config_errors_naming_jiandaoyun(clock: Sleeps, status: int) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), HttpResponse("{}", status_code=status))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"], expecting_exception=True)
    trace = output.errors[0].trace.error
    assert trace.failure_type == FailureType.config_error and "Jiandaoyun" in trace.message


def test_any_other_code_fails_carrying_the_vendor_code_and_msg(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), error(400, 17017, "date out of range"))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"], expecting_exception=True)
    message = output.errors[0].trace.error.message
    assert "17017" in message and "date out of range" in message


def test_a_body_that_is_not_json_is_retried_then_fails_naming_the_endpoint(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), [HttpResponse("<html>oops"), page("2026-06-09", [member_item("m1")])])
        recovered = read_streams(one_day(), ["jiandaoyun_member_usage"])
    assert len(recovered.records) == 1
    assert clock.waits == [1]
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), HttpResponse("<html>oops"), calls=6)  # the request and 5 retries
        failed = read_streams(one_day(), ["jiandaoyun_member_usage"], expecting_exception=True)
    assert clock.waits == [1, 1, 2, 4, 8, 16]  # the recovered read's wait, then five backoffs
    message = failed.errors[0].trace.error.message
    assert "member_metrics" in message and "not JSON" in message


def test_a_body_without_items_is_an_error_naming_the_endpoint_never_silently_empty(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), HttpResponse(json.dumps({"date": "2026-06-09", "has_next": False})))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"], expecting_exception=True)
    message = output.errors[0].trace.error.message
    assert "member_metrics" in message and "items" in message
    assert not output.records and not output.state_messages


def test_has_next_on_an_empty_page_fails_instead_of_looping(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), page("2026-06-09", [], True))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"], expecting_exception=True)
    assert output.errors[0].trace.error.message == with_period_note(
        "Jiandaoyun api/v1/corp_usage/member_metrics: paging does not end: an empty page says there is more (has_next) "
        "(page at skip 0, limit 100). The vendor's answers are inconsistent; retry later or report it to the vendor.",
        *MEMBERS_2026_06_09,
    )
    assert not output.state_messages


def test_no_secret_reaches_any_output_line_on_success_or_error(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), page("2026-06-09", [member_item("m1")]))
        apps_request = HttpRequest(APPS, body={"date": "2026-06-09", "skip": 0, "limit": 100})
        http.post(apps_request, HttpResponse(f"not json {SECRET}", status_code=500), calls=6)  # the request and 5 retries
        output = read_streams(one_day(), ["jiandaoyun_member_usage", "jiandaoyun_app_usage"], expecting_exception=True)
    # A rejected key stops every request of the vendor after it: read apart, so both paths run whole.
    with VerifiedHttpMocker() as http:
        http.post(HttpRequest(OVERVIEW, body={"date": "2026-06-09"}), error(400, 8301, f"bad key {SECRET}"))
        rejected = read_streams(one_day(), ["jiandaoyun_overview_usage"], expecting_exception=True)
    assert len(output.records) == 1 and len(output.errors) >= 1 and len(rejected.errors) >= 1  # the error paths did run
    assert SECRET not in all_output_lines(output) + all_output_lines(rejected)


# --- budget -----------------------------------------------------------------------------------


def test_each_endpoint_has_its_own_budget_of_requests_per_second() -> None:
    config = jiandaoyun_config(jiandaoyun={"requests_per_second": 1})
    streams = {stream.name: stream for stream in SourceUsage().streams(config)}
    budget = streams["jiandaoyun_member_usage"].connection.budget  # type: ignore[attr-defined]
    assert budget is not None
    assert all(stream.connection.budget is budget for stream in streams.values())  # type: ignore[attr-defined]
    member = requests.Request("POST", MEMBERS).prepare()
    app = requests.Request("POST", APPS).prepare()
    budget.acquire_call(member, block=False)
    budget.acquire_call(app, block=False)  # another endpoint: its own window
    with pytest.raises(CallRateLimitHit) as hit:
        budget.acquire_call(member, block=False)  # the same endpoint within one second
    assert 0.9 <= hit.value.time_to_wait.total_seconds() <= 1.1


def test_check_succeeds_with_one_overview_request_for_t_minus_1(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        request = HttpRequest(OVERVIEW, body={"date": "2026-06-09"})
        http.post(request, HttpResponse(json.dumps({"date": "2026-06-09", "metrics": {}})))
        succeeded, message = SourceUsage().check_connection(logging.getLogger("test"), jiandaoyun_config())
        http.assert_number_of_calls(request, 1)
    assert succeeded and message is None


def test_check_with_a_rejected_key_fails_naming_jiandaoyun_and_the_field(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(HttpRequest(OVERVIEW, body={"date": "2026-06-09"}), error(400, 8301, "API key verification failed"))
        status = SourceUsage().check(logging.getLogger("test"), jiandaoyun_config())
    assert status.status.value == "FAILED"
    assert "Jiandaoyun" in status.message and "jiandaoyun.api_key" in status.message and SECRET not in status.message


# --- the HTTP status decides first (issue 13, point 7) ------------------------------------------


@pytest.mark.parametrize("code", [17018, 8301, 8302, 17017, 8303])
def test_a_429_with_any_body_code_waits_as_a_rate_limit_and_retries(clock: Sleeps, code: int) -> None:
    read_one_member_after([error(429, code, "concurrency limit")])
    assert clock.waits == [1 + CDK]  # the rate-limit wait, not a config error or a failure


@pytest.mark.parametrize(("status", "code"), [(502, 8301), (502, 8303), (500, 17018), (503, 17017)])
def test_a_5xx_with_any_body_code_is_retried_with_backoff_not_a_rate_limit_wait(clock: Sleeps, status: int, code: int) -> None:
    output = read_one_member_after([error(status, code, "Bad Gateway")])
    assert clock.waits == [1]  # the CDK's exponential backoff
    assert summary_line(output) == (
        "Sync summary: jiandaoyun_member_usage: 2 requests, 1 retries, 0 rate-limit waits (0.0 s), 1 records."
        " Timing: wall time 1.0 s, 0.0 s of it waiting for the request budget."
    )


@pytest.mark.parametrize("code", [8303, 17017, 0])
def test_a_403_is_a_config_error_saying_the_key_must_be_a_super_admins_and_the_feature_purchased(clock: Sleeps, code: int) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), error(403, code, "no permission"))  # asked once: never retried
        output = read_streams(one_day(), ["jiandaoyun_member_usage"], expecting_exception=True)
    trace = output.errors[0].trace.error
    assert trace.failure_type == FailureType.config_error
    assert trace.message == (
        "Jiandaoyun api/v1/corp_usage/member_metrics refused the key (HTTP 403: no permission). The key must be a super admin's, "
        "and the usage-statistics feature purchased and enabled (Admin Console > Management Tools > Usage Statistics). "
        "Check jiandaoyun.api_key."
    )
    assert clock.waits == [] and not output.records


def test_a_2xx_body_with_a_rate_limit_code_waits_and_retries(clock: Sleeps) -> None:
    read_one_member_after([error(200, 8303, "frequency limit")])
    assert clock.waits == [1 + CDK]


def test_a_2xx_body_with_a_credentials_code_is_a_config_error(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), error(200, 17018, "invalid api key"))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"], expecting_exception=True)
    trace = output.errors[0].trace.error
    assert trace.failure_type == FailureType.config_error
    assert trace.message == "Jiandaoyun rejected the credentials (code 17018: invalid api key). Check jiandaoyun.api_key."


def test_a_2xx_body_with_another_non_zero_code_fails_with_its_code_and_msg(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), error(200, 17017, "invalid parameter"))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"], expecting_exception=True)
    assert output.errors[0].trace.error.message == with_period_note(
        "Jiandaoyun api/v1/corp_usage/member_metrics answered code 17017: invalid parameter", *MEMBERS_2026_06_09
    )
    assert not output.records and not output.state_messages


def test_a_2xx_body_with_code_0_is_read_as_the_answer(clock: Sleeps) -> None:
    body = {"code": 0, "date": "2026-06-09", "has_next": False, "items": [member_item("m1")]}
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), HttpResponse(json.dumps(body)))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"])
    assert [record.record.data["member_id"] for record in output.records] == ["m1"] and not output.errors


# --- the "v2" metrics (point 8) -------------------------------------------------------------------

V2_METRICS = ("daily_automation_exec", "daily_attachment_upload")


def test_app_and_overview_records_type_the_v2_metrics_and_keep_them_raw_in_metrics(clock: Sleeps) -> None:
    metrics = {"app": 3, "daily_automation_exec": 41, "daily_attachment_upload": 5_368_709_120.0}  # 5 GiB, sent as a float
    with VerifiedHttpMocker() as http:
        http.post(HttpRequest(APPS, body={"date": "2026-06-09", "skip": 0, "limit": 100}),
                  page("2026-06-09", [{"app_id": "a1", "metrics": metrics}]))  # fmt: skip
        http.post(HttpRequest(OVERVIEW, body={"date": "2026-06-09"}), HttpResponse(json.dumps({"date": "2026-06-09", "metrics": metrics})))
        output = read_streams(one_day(), ["jiandaoyun_app_usage", "jiandaoyun_overview_usage"])
    by_stream = {record.record.stream: record.record.data for record in output.records}
    for data in by_stream.values():
        assert (data["daily_automation_exec"], data["daily_attachment_upload"]) == (41, 5_368_709_120)
        assert data["metrics"] == metrics


def test_a_server_without_the_v2_metrics_leaves_their_columns_null(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        v1_body = {"date": "2026-06-09", "metrics": {"app": 4}}
        http.post(HttpRequest(OVERVIEW, body={"date": "2026-06-09"}), HttpResponse(json.dumps(v1_body)))
        output = read_streams(one_day(), ["jiandaoyun_overview_usage"])
    data = output.records[0].record.data
    assert [data.get(name) for name in V2_METRICS] == [None, None] and data["app"] == 4


def test_member_records_get_no_v2_columns_even_when_an_item_carries_one(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), page("2026-06-09", [member_item("m1", daily_automation_exec=9)]))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"])
    data = output.records[0].record.data
    assert not set(V2_METRICS) & set(data)
    assert data["metrics"]["daily_automation_exec"] == 9  # kept raw, as any metric the endpoint does not document


def test_the_v2_columns_are_in_the_app_and_overview_schemas_only() -> None:
    from source_usage.core.schemas import load_schema
    from source_usage.vendors.jiandaoyun import APP_METRICS

    assert APP_METRICS == METRICS + V2_METRICS
    for stream in ("jiandaoyun_app_usage", "jiandaoyun_overview_usage"):
        properties = load_schema(stream)["properties"]
        assert [properties[name]["type"] for name in APP_METRICS] == [["null", "integer"]] * len(APP_METRICS), stream
    assert not set(V2_METRICS) & set(load_schema("jiandaoyun_member_usage")["properties"])


# --- every metric 0 (point 9) ------------------------------------------------------------------------

ENABLE_THEM = (
    "Usage statistics may not be enabled: without them Jiandaoyun answers 0, not an error. Enable them in "
    "Admin Console > Management Tools > Usage Statistics."
)


def zero_member(member_id: str) -> Dict[str, Any]:
    return {"member": {"member_id": member_id, "name": member_id}, "metrics": {name: 0 for name in METRICS if name != "data"}}


def statistics_warnings(output: Any) -> List[str]:
    return [log.log.message for log in output.logs if "may not be enabled" in log.log.message]


def test_a_date_whose_every_metric_is_0_warns_once_for_the_stream_however_many_pages_and_chunks(clock: Sleeps) -> None:
    ids = [f"m{i:02d}" for i in range(12)]  # two chunks of ids, the first one on two pages
    with VerifiedHttpMocker() as http:
        for date in ("2026-06-08", "2026-06-09"):
            http.post(member_request(date, 0, ids[:10]), page(date, [zero_member(i) for i in ids[:5]], True))
            http.post(member_request(date, 5, ids[:10]), page(date, [zero_member(i) for i in ids[5:10]]))
            http.post(member_request(date, 0, ids[10:]), page(date, [zero_member(i) for i in ids[10:]]))
        output = read_streams(jiandaoyun_config(jiandaoyun={"member_ids": ids}), ["jiandaoyun_member_usage"])
    assert len(output.records) == 24 and not output.errors
    assert statistics_warnings(output) == [
        f"Jiandaoyun api/v1/corp_usage/member_metrics: every metric of every item of {date} is 0. {ENABLE_THEM}"
        for date in ("2026-06-08", "2026-06-09")
    ]


def test_one_non_zero_metric_on_any_page_of_a_date_means_no_warning(clock: Sleeps) -> None:
    late = {"member": {"member_id": "m9"}, "metrics": {"app": 0, "some_new_metric": 2}}  # a metric the connector does not know
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09", 0), page("2026-06-09", [zero_member("m1")], True))
        http.post(member_request("2026-06-09", 1), page("2026-06-09", [late]))
        output = read_streams(one_day(), ["jiandaoyun_member_usage"])
    assert len(output.records) == 2 and statistics_warnings(output) == []


def test_a_date_without_items_or_metrics_is_no_sign_of_disabled_statistics(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(member_request("2026-06-09"), page("2026-06-09", []))
        http.post(HttpRequest(OVERVIEW, body={"date": "2026-06-09"}), HttpResponse(json.dumps({"date": "2026-06-09", "metrics": {}})))
        output = read_streams(one_day(), ["jiandaoyun_member_usage", "jiandaoyun_overview_usage"])
    assert statistics_warnings(output) == []


def test_an_overview_whose_every_metric_is_0_warns_once_per_date(clock: Sleeps) -> None:
    zeros = {name: 0 for name in METRICS}
    with VerifiedHttpMocker() as http:
        for date in ("2026-06-08", "2026-06-09"):
            http.post(HttpRequest(OVERVIEW, body={"date": date}), HttpResponse(json.dumps({"date": date, "metrics": zeros})))
        output = read_streams(jiandaoyun_config(), ["jiandaoyun_overview_usage"])
    assert statistics_warnings(output) == [
        f"Jiandaoyun api/v1/corp_usage/overview: every metric of {date} is 0. {ENABLE_THEM}" for date in ("2026-06-08", "2026-06-09")
    ]


def test_check_with_every_overview_metric_0_succeeds_and_logs_the_warning(clock: Sleeps, caplog: pytest.LogCaptureFixture) -> None:
    with VerifiedHttpMocker() as http:
        body = {"date": "2026-06-09", "metrics": {name: 0 for name in METRICS}}
        http.post(HttpRequest(OVERVIEW, body={"date": "2026-06-09"}), HttpResponse(json.dumps(body)))
        with caplog.at_level(logging.WARNING, logger="airbyte"):
            status = SourceUsage().check(logging.getLogger("test"), jiandaoyun_config())
    assert status.status.value == "SUCCEEDED" and status.message is None
    assert [r.getMessage() for r in caplog.records if "may not be enabled" in r.getMessage()] == [
        f"Jiandaoyun api/v1/corp_usage/overview: every metric of 2026-06-09 is 0. {ENABLE_THEM}"
    ]
