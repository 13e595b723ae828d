"""The Workato Embedded streams, against in-process HTTP mocks, one test per promised behaviour."""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import freezegun
import jsonschema
import pytest
import requests
from airbyte_cdk.models import FailureType, Status, SyncMode
from airbyte_cdk.sources.streams.call_rate import CallRateLimitHit
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse

from integration_tests.assertions import with_period_note
from source_usage import SourceUsage
from source_usage.core.schemas import load_schema
from source_usage.vendors.workato import COUNTS, IDS_PER_REQUEST
from unit_tests.conftest import Sleeps
from unit_tests.helpers import VerifiedHttpMocker, all_output_lines, read_streams

SECRET = "wk-SECRET-token-0123456789"
BASE_URL = "https://workato.test"
USAGE = BASE_URL + "/api/v2/managed_users/statistics/usage"
MANAGED_USERS = BASE_URL + "/api/managed_users"
LA = "America/Los_Angeles"
WORKSPACE = "workato_workspace_usage"
RECIPE = "workato_recipe_usage"
#: The one-day window the tests read (2026-06-09 in the workspaces' Los Angeles time).
JUNE_9_IN_LA = ("2026-06-09T00:00:00-07:00", "2026-06-10T00:00:00-07:00")
BOTH = [WORKSPACE, RECIPE]
CUSTOMERS = "workato_customer_workspaces"
MONTHLY = "workato_customer_monthly_usage"

Ids = Sequence[Union[int, str]]


def workato_config(**overrides: Any) -> Dict[str, Any]:
    """Two days (06-08, 06-09) of two workspaces, by day in Los Angeles; ``workato`` overrides the section."""
    section: Dict[str, Any] = {"api_token": SECRET, "base_url": BASE_URL, "workspace_ids": [1, 2], "timezone": LA}
    section.update(overrides.pop("workato", {}))
    config = {"start_date": "2026-06-08", "end_date": "2026-06-09", "lookback_days": 0, "workato": section, **overrides}
    return {key: value for key, value in config.items() if value is not None}


def la_day(day: str) -> str:
    """Midnight of ``day`` in Los Angeles in June (PDT)."""
    return f"{day}T00:00:00-07:00"


def usage_body(start: str, end: str, ids: Ids = (1, 2), **extra: Any) -> Dict[str, Any]:
    """A usage request's body: one window, asked for as one bucket (``interval: none``) whatever the configured interval."""
    return {"from": start, "to": end, "workspace_ids": list(ids), "interval": "none", **extra}


def usage_request(start: str, end: str, ids: Ids = (1, 2), **kwargs: Any) -> HttpRequest:
    return HttpRequest(USAGE, body=usage_body(start, end, ids, **kwargs))


def usage(rows: Optional[List[Dict[str, Any]]]) -> HttpResponse:
    return HttpResponse(json.dumps({"data": rows}))


def counts(tasks: int) -> Dict[str, int]:
    """The four counts of a row, under the assumed names."""
    return {"task_count": tasks, "recipe_count": 1, "successful_job_count": tasks // 2, "failed_job_count": 1}


def workspace_row(workspace_id: int, **fields: Any) -> Dict[str, Any]:
    return {"workspace_id": workspace_id, "workspace_name": f"ws-{workspace_id}", **counts(10 * workspace_id), **fields}


def recipe_row(workspace_id: int, recipe_id: int, **fields: Any) -> Dict[str, Any]:
    return {"workspace_id": workspace_id, "recipe_id": recipe_id, "recipe_name": f"r-{recipe_id}", **counts(1), **fields}


def managed_users_request(page: int, per_page: int = 100) -> HttpRequest:
    return HttpRequest(MANAGED_USERS, query_params={"page": str(page), "per_page": str(per_page)})


def managed_users(
    ids: Iterable[int], externals: Optional[Dict[int, str]] = None, headers: Optional[Dict[str, str]] = None, **body: Any
) -> HttpResponse:
    """A page of the customer listing: ``ids`` with their external ids (default ``ext-<id>``),
    and ``body`` fields beside ``result`` (a ``next_page``)."""
    externals = externals or {}
    rows = [{"id": i, "external_id": externals.get(i, f"ext-{i}"), "name": f"c{i}"} for i in ids]
    return HttpResponse(json.dumps({"result": rows, **body}), headers=headers or {})


def listing(http: VerifiedHttpMocker, *pages: HttpResponse, per_page: int = 100) -> List[HttpRequest]:
    """Mock the listing's pages 1, 2, ... with ``pages``; returns their requests."""
    requests_ = [managed_users_request(number, per_page) for number in range(1, len(pages) + 1)]
    for request, page in zip(requests_, pages, strict=True):
        http.get(request, page)
    return requests_


def usage_bodies(http: VerifiedHttpMocker) -> List[Dict[str, Any]]:
    """The JSON bodies of every usage request sent, in order."""
    return [json.loads(request.body or b"") for request in http.sent_to(USAGE)]


def states(output: EntrypointOutput, stream: str = WORKSPACE) -> List[str]:
    return [
        message.state.stream.stream_state.period_start
        for message in output.state_messages
        if message.state.stream.stream_descriptor.name == stream
    ]


def records(output: EntrypointOutput, stream: str) -> List[Dict[str, Any]]:
    return [dict(message.record.data) for message in output.records if message.record.stream == stream]


@contextmanager
def frozen_at(moment: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sleeps]:
    """As the ``clock`` fixture, at another instant."""
    with freezegun.freeze_time(moment) as frozen:
        sleeps = Sleeps(frozen)
        monkeypatch.setattr(time, "sleep", sleeps)
        yield sleeps


def windows_sent(config: Dict[str, Any], expected: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """Read the workspace stream answering exactly ``expected`` windows; return the windows sent."""
    with VerifiedHttpMocker() as http:
        for start, end in expected:
            http.post(usage_request(start, end), usage([workspace_row(1)]))
        output = read_streams(config, [WORKSPACE])
        sent = [(body["from"], body["to"]) for body in usage_bodies(http)]
    assert not output.errors, output.errors
    return sent


# --- discover -------------------------------------------------------------------------------


def test_discover_with_only_a_workato_section_lists_exactly_the_four_streams_with_keys_and_cursor() -> None:
    catalog = discover(SourceUsage(), workato_config()).catalog.catalog
    streams = {stream.name: stream for stream in catalog.streams}
    assert set(streams) == {WORKSPACE, RECIPE, CUSTOMERS, MONTHLY}
    for name, key in ((CUSTOMERS, [["id"]]), (MONTHLY, [["workspace_id"], ["month"]])):
        full_refresh = streams.pop(name)
        assert full_refresh.source_defined_primary_key == key
        assert full_refresh.supported_sync_modes == [SyncMode.full_refresh]
        assert not full_refresh.default_cursor_field
        assert full_refresh.is_resumable is False
    assert streams[WORKSPACE].source_defined_primary_key == [["period_start"], ["workspace_id"]]
    assert streams[RECIPE].source_defined_primary_key == [["period_start"], ["workspace_id"], ["recipe_id"]]
    for stream in streams.values():
        assert stream.default_cursor_field == ["period_start"]
        assert stream.source_defined_cursor
        assert set(stream.supported_sync_modes) == {SyncMode.full_refresh, SyncMode.incremental}
        assert set(COUNTS) <= set(stream.json_schema["properties"])


def test_discover_sends_no_request_even_without_ids() -> None:
    with VerifiedHttpMocker() as http:  # any request would find no mock and fail
        output = discover(SourceUsage(), workato_config(workato={"workspace_ids": []}))
        assert http.sent == []
    assert len(output.catalog.catalog.streams) == 4


# --- windows --------------------------------------------------------------------------------

KOLKATA = "Asia/Kolkata"  # +05:30: a wrong zone or a UTC boundary cannot pass for the right one


@pytest.mark.parametrize(
    "interval, now, start_date, end_date, expected",
    [
        (
            "hour", "2026-06-10T00:45:00Z", "2026-06-10", None,  # 06:15 in Kolkata: hours 00..05 are finished
            [(f"2026-06-10T0{h}:00:00+05:30", f"2026-06-10T0{h + 1}:00:00+05:30") for h in range(6)],
        ),
        (
            "day", "2026-06-10T12:00:00Z", "2026-06-08", "2026-06-09",
            [("2026-06-08T00:00:00+05:30", "2026-06-09T00:00:00+05:30"), ("2026-06-09T00:00:00+05:30", "2026-06-10T00:00:00+05:30")],
        ),
        (
            "week", "2026-06-10T12:00:00Z", "2026-05-20", "2026-06-07",  # a Wednesday to a Sunday
            [
                ("2026-05-18T00:00:00+05:30", "2026-05-25T00:00:00+05:30"),
                ("2026-05-25T00:00:00+05:30", "2026-06-01T00:00:00+05:30"),
                ("2026-06-01T00:00:00+05:30", "2026-06-08T00:00:00+05:30"),
            ],
        ),
        (
            "month", "2026-06-10T12:00:00Z", "2026-04-15", None,
            [("2026-04-01T00:00:00+05:30", "2026-05-01T00:00:00+05:30"), ("2026-05-01T00:00:00+05:30", "2026-06-01T00:00:00+05:30")],
        ),
    ],
)  # fmt: skip
def test_windows_align_to_the_intervals_calendar_boundaries_in_the_configured_zone(
    monkeypatch: pytest.MonkeyPatch,
    interval: str,
    now: str,
    start_date: str,
    end_date: Optional[str],
    expected: List[Tuple[str, str]],
) -> None:
    config = workato_config(start_date=start_date, end_date=end_date, workato={"interval": interval, "timezone": KOLKATA})
    with frozen_at(now, monkeypatch):
        assert sorted_windows(windows_sent(config, expected)) == expected
    if interval == "week":
        assert all(datetime.fromisoformat(start).weekday() == 0 for start, _ in expected)  # Mondays


def utc_hours_in_zone(first_utc: datetime, count: int, zone: str) -> List[Tuple[str, str]]:
    """``count`` consecutive one-hour windows, computed in UTC and shown in ``zone`` (an oracle
    that does not use the connector's wall-clock arithmetic)."""
    tz = ZoneInfo(zone)
    starts = [first_utc + timedelta(hours=i) for i in range(count + 1)]
    shown = [moment.astimezone(tz).isoformat() for moment in starts]
    return list(pairwise(shown))


def sorted_windows(sent: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """The windows asked for, earliest first: windows are read concurrently, so the order they
    are sent in is not the order they are emitted in."""
    return sorted(sent, key=lambda window: datetime.fromisoformat(window[0]))


@pytest.mark.parametrize("interval", ["day", "hour"])
def test_a_dst_change_yields_windows_with_no_gap_and_no_overlap(monkeypatch: pytest.MonkeyPatch, interval: str) -> None:
    # Los Angeles springs forward on 2026-03-08 at 02:00 PST (-08:00) to 03:00 PDT (-07:00).
    if interval == "day":
        expected = [
            ("2026-03-07T00:00:00-08:00", "2026-03-08T00:00:00-08:00"),
            ("2026-03-08T00:00:00-08:00", "2026-03-09T00:00:00-07:00"),  # the 23-hour day
            ("2026-03-09T00:00:00-07:00", "2026-03-10T00:00:00-07:00"),
        ]
        start_date, end_date = "2026-03-07", "2026-03-09"
    else:
        expected = utc_hours_in_zone(datetime(2026, 3, 8, 8, tzinfo=ZoneInfo("UTC")), 23, LA)  # 03-08 has 23 hours
        start_date, end_date = "2026-03-08", "2026-03-08"
    config = workato_config(start_date=start_date, end_date=end_date, workato={"interval": interval})
    with frozen_at("2026-03-20T12:00:00Z", monkeypatch):
        sent = sorted_windows(windows_sent(config, expected))
    assert sent == expected
    instants = [(datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in sent]
    for (_, end), (next_start, _) in pairwise(instants):
        assert end == next_start  # consecutive windows touch: no gap, no overlap
    assert instants[0][0] == datetime(2026, int(start_date[5:7]), int(start_date[8:]), tzinfo=ZoneInfo(LA))
    assert instants[-1][1] - instants[0][0] == timedelta(hours=23 if interval == "hour" else 71)
    if interval == "hour":
        assert ("2026-03-08T01:00:00-08:00", "2026-03-08T03:00:00-07:00") in sent  # 02:00 does not exist
        assert all(end - start == timedelta(hours=1) for start, end in instants)


def test_only_finished_periods_in_the_configured_zone_are_read_and_a_future_end_date_is_clamped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 03:00 UTC on 06-10 is 20:00 on 06-09 in Los Angeles: 06-09 is not finished there yet,
    # although it is in UTC.
    config = workato_config(start_date="2026-06-07", end_date="2026-12-31")
    expected = [(la_day("2026-06-07"), la_day("2026-06-08")), (la_day("2026-06-08"), la_day("2026-06-09"))]
    with frozen_at("2026-06-10T03:00:00Z", monkeypatch):
        assert sorted_windows(windows_sent(config, expected)) == expected


def test_a_period_that_ends_after_end_date_is_not_read(clock: Sleeps) -> None:
    # May ends after end_date 05-30: only April is a whole month up to end_date.
    config = workato_config(start_date="2026-04-01", end_date="2026-05-30", workato={"interval": "month"})
    expected = [(la_day("2026-04-01"), la_day("2026-05-01"))]
    assert windows_sent(config, expected) == expected


# --- request bodies -------------------------------------------------------------------------


def test_workspace_body_with_no_filter_holds_only_from_to_ids_and_interval(clock: Sleeps) -> None:
    # Workato counts deleted recipes only for exactly this body.
    with VerifiedHttpMocker() as http:
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10")), usage([workspace_row(1)]))
        output = read_streams(workato_config(start_date="2026-06-09"), [WORKSPACE])
        bodies = usage_bodies(http)
    assert len(output.records) == 1 and not output.errors
    assert bodies == [{"from": la_day("2026-06-09"), "to": la_day("2026-06-10"), "workspace_ids": [1, 2], "interval": "none"}]


@pytest.mark.parametrize(
    "interval, start_date, end_date, window",
    [
        ("hour", "2026-06-10", None, (la_day("2026-06-10"), "2026-06-10T01:00:00-07:00")),  # 01:00 in LA: one hour is over
        ("day", "2026-06-09", "2026-06-09", (la_day("2026-06-09"), la_day("2026-06-10"))),
        ("week", "2026-06-01", "2026-06-07", (la_day("2026-06-01"), la_day("2026-06-08"))),
        ("month", "2026-05-01", "2026-05-31", (la_day("2026-05-01"), la_day("2026-06-01"))),
    ],
)
def test_each_usage_request_covers_exactly_one_window_with_interval_none_whatever_the_configured_interval(
    monkeypatch: pytest.MonkeyPatch, interval: str, start_date: str, end_date: Optional[str], window: Tuple[str, str]
) -> None:
    # With the window's length as interval, Workato would cut the window into buckets of the admin
    # workspace's zone: two rows of one workspace whenever the configured zone is not exactly that one.
    config = workato_config(start_date=start_date, end_date=end_date, workato={"interval": interval})
    row = workspace_row(1, task_count=42, successful_job_count=40, failed_job_count=2, recipe_count=3)
    with frozen_at("2026-06-10T08:00:00Z", monkeypatch), VerifiedHttpMocker() as http:
        http.post(usage_request(*window), usage([row]))
        output = read_streams(config, [WORKSPACE])
        bodies = usage_bodies(http)
    assert [body["interval"] for body in bodies] == ["none"]
    (record,) = records(output, WORKSPACE)
    assert (record["period_start"], record["period_end"], record["interval"]) == (*window, interval)
    assert [record[name] for name in COUNTS] == [42, 3, 40, 2]


# --- customer workspaces --------------------------------------------------------------------

#: A listed customer workspace as the Singer tap for Workato reads one (quota and billing period).
CUSTOMER_ROW: Dict[str, Any] = {
    "id": 5,
    "external_id": "acme",
    "name": "Acme",
    "plan_id": "oem_plan",
    "task_limit": 10000,
    "task_count": 8123,
    "task_limit_adjustment": 500,
    "current_billing_period_start": "2026-06-01T00:00:00.000-07:00",
    "current_billing_period_end": "2026-07-01T00:00:00.000-07:00",
    "active_connection_limit": 50,
    "active_connection_count": 12,
    "active_recipe_count": 7,
    "notification_email": "admin@acme.test",
}
#: The billing period's instants in UTC, which the connector adds beside the bounds.
CUSTOMER_UTC = {
    "current_billing_period_start_utc": "2026-06-01T07:00:00+00:00",
    "current_billing_period_end_utc": "2026-07-01T07:00:00+00:00",
}


def test_customer_workspaces_are_the_listed_rows_whole_each_once(clock: Sleeps) -> None:
    config = workato_config(workato={"workspace_ids": []})
    second = {**CUSTOMER_ROW, "id": 6, "external_id": "globex", "name": "Globex"}
    with VerifiedHttpMocker() as http:
        # A workspace shifted onto the next page while paging comes twice: it is one record.
        first_page, second_page = ({"result": [CUSTOMER_ROW, second]}, {"result": [second]})
        pages = listing(http, HttpResponse(json.dumps(first_page)), HttpResponse(json.dumps(second_page)), managed_users([]))
        output = read_streams(config, [CUSTOMERS], sync_mode=SyncMode.full_refresh)
        for page in pages:
            http.assert_number_of_calls(page, 1)
    assert not output.errors
    assert records(output, CUSTOMERS) == [{**CUSTOMER_ROW, **CUSTOMER_UTC}, {**second, **CUSTOMER_UTC}]
    validator = jsonschema.Draft7Validator(load_schema(CUSTOMERS))
    assert not [error.message for record in records(output, CUSTOMERS) for error in validator.iter_errors(record)]


def test_customer_workspace_values_not_of_their_columns_type_are_null_there_and_kept_as_sent(clock: Sleeps) -> None:
    config = workato_config(workato={"workspace_ids": []})
    row = {**CUSTOMER_ROW, "external_id": 42, "task_limit": "10000", "task_count": 8.5, "current_billing_period_start": "June"}
    with VerifiedHttpMocker() as http:
        listing(http, HttpResponse(json.dumps({"result": [row]})), managed_users([]))
        output = read_streams(config, [CUSTOMERS], sync_mode=SyncMode.full_refresh)
    (record,) = records(output, CUSTOMERS)
    assert (record["external_id"], record["vendor_external_id"]) == ("42", 42)
    assert (record["task_limit"], record["vendor_task_limit"]) == (10000, "10000")
    assert (record.get("task_count"), record["vendor_task_count"]) == (None, 8.5)
    assert (record.get("current_billing_period_start"), record["vendor_current_billing_period_start"]) == (None, "June")
    assert record["current_billing_period_end"] == CUSTOMER_ROW["current_billing_period_end"]
    # The instant in UTC beside each bound: none for the value that is no date-time.
    assert (record.get("current_billing_period_start_utc"), record["current_billing_period_end_utc"]) == (None, "2026-07-01T07:00:00+00:00")
    validator = jsonschema.Draft7Validator(load_schema(CUSTOMERS))
    assert not [error.message for error in validator.iter_errors(record)]


def test_one_listing_serves_both_usage_streams_and_the_customer_workspaces(clock: Sleeps) -> None:
    config = workato_config(start_date="2026-06-09", workato={"workspace_ids": []})
    window = (la_day("2026-06-09"), la_day("2026-06-10"))
    with VerifiedHttpMocker() as http:
        pages = listing(http, HttpResponse(json.dumps({"result": [CUSTOMER_ROW]})), managed_users([]))
        http.post(usage_request(*window, [5]), usage([workspace_row(5)]))
        http.post(usage_request(*window, [5], group_by="recipe"), usage([recipe_row(5, 51)]))
        output = read_streams(config, [*BOTH, CUSTOMERS], sync_mode=SyncMode.full_refresh)
        for page in pages:
            http.assert_number_of_calls(page, 1)
    assert not output.errors
    assert records(output, CUSTOMERS) == [{**CUSTOMER_ROW, **CUSTOMER_UTC}]
    assert [record["workspace_id"] for record in records(output, WORKSPACE)] == [5]
    assert [record["recipe_id"] for record in records(output, RECIPE)] == [51]


def test_customer_workspaces_are_read_whole_again_whatever_state_the_last_sync_left(clock: Sleeps) -> None:
    config = workato_config(workato={"workspace_ids": []})
    state = {CUSTOMERS: {"__ab_full_refresh_sync_complete": True}}
    with VerifiedHttpMocker() as http:
        listing(http, HttpResponse(json.dumps({"result": [CUSTOMER_ROW]})), managed_users([]))
        output = read_streams(config, [CUSTOMERS], state=state, sync_mode=SyncMode.full_refresh)
    assert [record["id"] for record in records(output, CUSTOMERS)] == [5]


def test_a_failed_listing_fails_the_customer_workspaces_naming_the_endpoint(clock: Sleeps) -> None:
    config = workato_config(workato={"workspace_ids": []})
    with VerifiedHttpMocker() as http:
        http.get(managed_users_request(1), HttpResponse(json.dumps({"result": [{"name": "no id"}]})))
        output = read_streams(config, [CUSTOMERS], sync_mode=SyncMode.full_refresh, expecting_exception=True)
    assert not output.records
    message = output.errors[0].trace.error.message
    assert "api/managed_users" in message and "'id'" in message, message


def test_external_ids_are_resolved_through_the_listing_and_asked_for_by_id_in_a_minimal_body(clock: Sleeps) -> None:
    config = workato_config(start_date="2026-06-09", workato={"workspace_ids": [], "external_ids": ["acme", "globex"]})
    with VerifiedHttpMocker() as http:
        listing(http, managed_users([5, 6, 7], {5: "acme", 6: "globex", 7: "initech"}), managed_users([]))
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10"), [5, 6]), usage([workspace_row(5), workspace_row(6)]))
        output = read_streams(config, [WORKSPACE])
        bodies = usage_bodies(http)
    assert not output.errors
    assert bodies == [{"from": la_day("2026-06-09"), "to": la_day("2026-06-10"), "workspace_ids": [5, 6], "interval": "none"}]
    assert [record["workspace_id"] for record in records(output, WORKSPACE)] == [5, 6]


def test_a_workspace_named_by_id_and_by_external_id_is_asked_for_once_by_id(clock: Sleeps) -> None:
    config = workato_config(start_date="2026-06-09", workato={"workspace_ids": [1, 7], "external_ids": ["acme"]})
    window = (la_day("2026-06-09"), la_day("2026-06-10"))
    with VerifiedHttpMocker() as http:
        pages = listing(http, managed_users([7], {7: "acme"}), managed_users([]))  # once for both streams
        http.post(usage_request(*window, [1, 7]), usage([workspace_row(1), workspace_row(7, external_id="acme")]))
        http.post(usage_request(*window, [1, 7], group_by="recipe"), usage([recipe_row(1, 11), recipe_row(7, 71)]))
        output = read_streams(config, BOTH)
        for page in pages:
            http.assert_number_of_calls(page, 1)
    assert not output.errors
    assert [record["workspace_id"] for record in records(output, WORKSPACE)] == [1, 7]
    assert [(record["workspace_id"], record["recipe_id"]) for record in records(output, RECIPE)] == [(1, 11), (7, 71)]


def test_an_external_id_no_workspace_has_is_a_warning_naming_it_once_and_the_others_are_read(clock: Sleeps) -> None:
    config = workato_config(workato={"workspace_ids": [], "external_ids": ["nobody", "acme", "gone"]})
    with VerifiedHttpMocker() as http:
        listing(http, managed_users([5, 6], {5: "acme", 6: "globex"}), managed_users([]))
        for day, next_day in (("2026-06-08", "2026-06-09"), ("2026-06-09", "2026-06-10")):
            http.post(usage_request(la_day(day), la_day(next_day), [5]), usage([workspace_row(5)]))
        output = read_streams(config, [WORKSPACE])
    assert not output.errors
    assert [record["workspace_id"] for record in records(output, WORKSPACE)] == [5, 5]
    warnings = [line for line in all_output_lines(output).splitlines() if "which no customer workspace has" in line]
    assert len(warnings) == 1, warnings
    assert (
        "Workato: 'workato.external_ids' names 'nobody', 'gone', which no customer workspace has; no usage is read for it." in warnings[0]
    )
    assert states(output) == [la_day("2026-06-08"), la_day("2026-06-09")]


def test_only_unknown_external_ids_read_no_usage_rather_than_every_workspace(clock: Sleeps) -> None:
    config = workato_config(start_date="2026-06-09", workato={"workspace_ids": [], "external_ids": ["nobody"]})
    with VerifiedHttpMocker() as http:  # any usage request would match no mock
        listing(http, managed_users([5, 6]), managed_users([]))
        output = read_streams(config, [WORKSPACE])
    assert not output.errors and not output.records
    assert output.is_in_logs("names 'nobody', which no customer workspace has")
    assert states(output) == [la_day("2026-06-09")]


def test_a_listing_without_external_id_fails_naming_the_field_when_external_ids_are_configured(clock: Sleeps) -> None:
    config = workato_config(start_date="2026-06-09", workato={"workspace_ids": [], "external_ids": ["acme"]})
    with VerifiedHttpMocker() as http:
        http.get(managed_users_request(1), HttpResponse(json.dumps({"result": [{"id": 5, "customer_ref": "acme", "name": None}]})))
        http.get(managed_users_request(2), managed_users([]))
        output = read_streams(config, [WORKSPACE], expecting_exception=True)
    assert not output.records and not output.state_messages
    assert output.errors[0].trace.error.message == (
        "Workato api/managed_users answered workspaces without 'external_id', which 'workato.external_ids' is matched against "
        "(a workspace has: customer_ref, id, name: null); the vendor's answer may have changed shape."
    )


def test_name_patterns_are_sent_when_set_and_group_by_only_by_the_recipe_stream(clock: Sleeps) -> None:
    patterns = {"recipe_name_pattern": "[PROD]", "folder_name_pattern": "Billing"}
    config = workato_config(start_date="2026-06-09", workato=patterns)
    window = (la_day("2026-06-09"), la_day("2026-06-10"))
    with VerifiedHttpMocker() as http:
        http.post(usage_request(*window, **patterns), usage([workspace_row(1)]))
        http.post(usage_request(*window, group_by="recipe", **patterns), usage([recipe_row(1, 11)]))
        output = read_streams(config, BOTH)
        bodies = usage_bodies(http)
    assert not output.errors
    assert len(records(output, WORKSPACE)) == 1 and len(records(output, RECIPE)) == 1
    assert sorted("group_by" in body for body in bodies) == [False, True]


def test_the_recipe_stream_always_groups_by_recipe(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        request = usage_request(la_day("2026-06-09"), la_day("2026-06-10"), group_by="recipe")
        http.post(request, usage([recipe_row(1, 11), recipe_row(2, 21)]))
        output = read_streams(workato_config(start_date="2026-06-09"), [RECIPE])
        http.assert_number_of_calls(request, 1)
    assert [(r["workspace_id"], r["recipe_id"]) for r in records(output, RECIPE)] == [(1, 11), (2, 21)]


def test_more_than_100_ids_are_split_and_state_moves_once_per_window_after_every_chunk(clock: Sleeps) -> None:
    ids = list(range(1, 251))
    chunks = [ids[0:100], ids[100:200], ids[200:250]]
    assert IDS_PER_REQUEST == 100
    config = workato_config(workato={"workspace_ids": ids})
    with VerifiedHttpMocker() as http:
        sent = []
        for day, next_day in (("2026-06-08", "2026-06-09"), ("2026-06-09", "2026-06-10")):
            for chunk in chunks:
                request = usage_request(la_day(day), la_day(next_day), chunk)
                http.post(request, usage([workspace_row(chunk[0])]))
                sent.append(request)
        output = read_streams(config, [WORKSPACE])
        for request in sent:
            http.assert_number_of_calls(request, 1)
    assert len(output.records) == 6
    assert states(output) == [la_day("2026-06-08"), la_day("2026-06-09")]
    kinds = [message.type.value for message in output.records_and_state_messages]
    assert kinds == ["RECORD", "RECORD", "RECORD", "STATE", "RECORD", "RECORD", "RECORD", "STATE"]


# --- listing the customer workspaces --------------------------------------------------------


def test_without_ids_every_workspace_is_listed_once_per_sync_paged_and_shared_by_both_streams(clock: Sleeps) -> None:
    listed = list(range(1, 106))  # a full page of 100, then 5, then an empty page: the end
    config = workato_config(workato={"workspace_ids": []})
    with VerifiedHttpMocker() as http:
        first_page, second_page, third_page = listing(http, managed_users(listed[:100]), managed_users(listed[100:]), managed_users([]))
        usage_requests = []
        for day, next_day in (("2026-06-08", "2026-06-09"), ("2026-06-09", "2026-06-10")):
            for chunk in (listed[:100], listed[100:]):
                for extra in ({}, {"group_by": "recipe"}):
                    request = usage_request(la_day(day), la_day(next_day), chunk, **extra)
                    http.post(request, usage([recipe_row(chunk[0], 1)] if extra else [workspace_row(chunk[0])]))
                    usage_requests.append(request)
        output = read_streams(config, BOTH)
        for page in (first_page, second_page, third_page):
            http.assert_number_of_calls(page, 1)
        for request in usage_requests:
            http.assert_number_of_calls(request, 1)
    assert not output.errors
    assert len(records(output, WORKSPACE)) == 4 and len(records(output, RECIPE)) == 4
    assert output.is_in_logs("Workato: 105 customer workspaces listed.")


def test_a_workspace_listed_on_two_pages_is_asked_for_once(clock: Sleeps) -> None:
    # Workspace 100 moved onto page 2 as well, because one was created while paging.
    with VerifiedHttpMocker() as http:
        listing(http, managed_users(list(range(1, 101))), managed_users([100, 101]), managed_users([]))
        request = usage_request(la_day("2026-06-09"), la_day("2026-06-10"), list(range(1, 101)))
        rest = usage_request(la_day("2026-06-09"), la_day("2026-06-10"), [101])
        http.post(request, usage([workspace_row(1)]))
        http.post(rest, usage([workspace_row(101)]))
        output = read_streams(workato_config(start_date="2026-06-09", workato={"workspace_ids": []}), [WORKSPACE])
        http.assert_number_of_calls(request, 1)
        http.assert_number_of_calls(rest, 1)
    assert not output.errors and len(output.records) == 2


def listed_ids(expected: List[int], *pages: HttpResponse) -> Tuple[List[int], EntrypointOutput]:
    """List the workspaces through ``pages`` (pages 1, 2, ...) and read one day of the
    ``expected`` ids (one request: any other ids match no mock); the pages requested, and the output."""
    with VerifiedHttpMocker() as http:
        listing(http, *pages)
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10"), expected), usage([]))
        output = read_streams(workato_config(start_date="2026-06-09", workato={"workspace_ids": []}), [WORKSPACE])
        requested = [int(parse_qs(urlparse(r.url or "").query)["page"][0]) for r in http.sent_to(MANAGED_USERS)]
    return requested, output


def test_a_short_listing_page_is_not_the_last_the_listing_ends_with_an_empty_page(clock: Sleeps) -> None:
    # A server that caps a page at 40 whatever per_page asks: every page is short, none is the last.
    pages = (managed_users(range(1, 41)), managed_users(range(41, 81)), managed_users(range(81, 91)), managed_users([]))
    requested, output = listed_ids(list(range(1, 91)), *pages)
    assert requested == [1, 2, 3, 4]
    assert not output.errors and output.is_in_logs("Workato: 90 customer workspaces listed.")


def test_the_listing_follows_next_page_in_the_body_and_ends_where_it_is_null(clock: Sleeps) -> None:
    pages = (
        managed_users(range(1, 41), next_page=2),
        managed_users(range(41, 81), next_page="3"),
        managed_users(range(81, 91), next_page=None),
    )
    requested, output = listed_ids(list(range(1, 91)), *pages)
    assert requested == [1, 2, 3]  # no empty page: null says page 3 was the last
    assert not output.errors


def test_the_listing_follows_an_x_next_page_header(clock: Sleeps) -> None:
    pages = (managed_users(range(1, 41), headers={"X-Next-Page": "2"}), managed_users(range(41, 51)), managed_users([]))
    requested, output = listed_ids(list(range(1, 51)), *pages)
    # Page 2 names no next page, which says nothing about the end: page 3, empty, is asked for.
    assert requested == [1, 2, 3]
    assert not output.errors


@pytest.mark.parametrize(
    "pages, what",
    [
        ([managed_users([1, 2], next_page=1)], "next_page names page 1, which is not after page 1 (page at page 1, per_page 100)"),
        ([managed_users([1, 2], headers={"X-Next-Page": "1"})],
         "X-Next-Page names page 1, which is not after page 1 (page at page 1, per_page 100)"),
        ([managed_users([1, 2], next_page=2), managed_users([], next_page=3)],
         "an empty page says there is more (next_page or X-Next-Page) (page at page 2, per_page 100)"),
        ([managed_users([1, 2]), managed_users([1, 2])], "the page repeats the previous page (page at page 2, per_page 100)"),
    ],
    ids=["next-page-that-does-not-move", "header-that-does-not-move", "empty-page-that-says-more", "repeated-page"],
)  # fmt: skip
def test_a_listing_whose_paging_would_not_end_fails_naming_the_endpoint(clock: Sleeps, pages: List[HttpResponse], what: str) -> None:
    with VerifiedHttpMocker() as http:
        listing(http, *pages)
        output = read_streams(workato_config(workato={"workspace_ids": []}), [WORKSPACE], expecting_exception=True)
    assert not output.records and not output.state_messages
    assert output.errors[0].trace.error.message == (
        f"Workato api/managed_users: paging does not end: {what}. "
        "The vendor's answers are inconsistent; retry later or report it to the vendor."
    )


def test_a_next_page_that_is_no_page_number_fails_naming_the_signal(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        listing(http, managed_users([1, 2], next_page="/api/managed_users?page=2"))
        output = read_streams(workato_config(workato={"workspace_ids": []}), [WORKSPACE], expecting_exception=True)
    assert output.errors[0].trace.error.message == (
        "Workato api/managed_users: the answer's next_page is '/api/managed_users?page=2', not a page number; "
        "the vendor's paging may have changed."
    )


def test_a_listed_workspace_without_id_fails_naming_the_field_and_the_rows_fields(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(managed_users_request(1), HttpResponse(json.dumps({"result": [{"customer_id": 5, "external_id": "acme", "name": None}]})))
        output = read_streams(workato_config(workato={"workspace_ids": []}), [WORKSPACE], expecting_exception=True)
    assert not output.records
    message = output.errors[0].trace.error.message
    assert message.startswith(
        "Workato api/managed_users answered with a malformed body: "
        "workspace 0 of 'result' has no 'id' (it has: customer_id, external_id, name: null)."
    ), message


def test_a_rejected_token_while_listing_is_a_config_error_naming_workato(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        listing = managed_users_request(1)
        http.get(listing, HttpResponse(json.dumps({"message": "Unauthorized"}), status_code=401))
        output = read_streams(workato_config(workato={"workspace_ids": []}), BOTH, expecting_exception=True)
        http.assert_number_of_calls(listing, 1)  # the second stream reuses the failure
    assert not output.records
    for error in output.errors:
        assert error.trace.error.failure_type == FailureType.config_error
    assert any("Workato" in e.trace.error.message and "workato.api_token" in e.trace.error.message for e in output.errors)


def test_the_listing_waits_for_retry_after_on_429(clock: Sleeps) -> None:
    limited = HttpResponse("{}", status_code=429, headers={"Retry-After": "30"})
    with VerifiedHttpMocker() as http:
        http.get(managed_users_request(1), [limited, managed_users([1])])
        http.get(managed_users_request(2), managed_users([]))
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10"), [1]), usage([workspace_row(1)]))
        output = read_streams(workato_config(start_date="2026-06-09", workato={"workspace_ids": []}), [WORKSPACE])
    assert len(output.records) == 1 and not output.errors
    assert clock.waits == [30 + 1]  # Retry-After, and the CDK's extra second


# --- records --------------------------------------------------------------------------------


def test_a_record_keeps_the_row_whole_and_adds_period_interval_keys_and_typed_counts(clock: Sleeps) -> None:
    row = {
        "workspace_id": 1, "external_id": "acme", "workspace_name": "Acme", "task_count": 120,
        "recipe_count": 4.0, "successful_job_count": "30", "failed_job_count": "--3", "new_metric": {"x": 1},
    }  # fmt: skip
    with VerifiedHttpMocker() as http:
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10")), usage([row]))
        output = read_streams(workato_config(start_date="2026-06-09"), [WORKSPACE])
    record = records(output, WORKSPACE)[0]
    # failed_job_count ("--3" is no integer) is null, and the CDK's serialiser leaves nulls out of the line
    assert "failed_job_count" not in record
    assert record == {
        **{key: value for key, value in row.items() if key != "failed_job_count"},
        "period_start": la_day("2026-06-09"), "period_end": la_day("2026-06-10"), "interval": "day",
        "period_start_utc": "2026-06-09T07:00:00+00:00", "period_end_utc": "2026-06-10T07:00:00+00:00",
        "task_count": 120, "recipe_count": 4, "successful_job_count": 30,
        # the raw value a typed column replaced is kept, so nothing the API sent is lost
        "vendor_successful_job_count": "30", "vendor_failed_job_count": "--3",
    }  # fmt: skip
    assert isinstance(record["recipe_count"], int)
    jsonschema.validate(record, load_schema(WORKSPACE))


def read_one_day(rows: List[Dict[str, Any]], stream: str = WORKSPACE, expecting_exception: bool = False) -> EntrypointOutput:
    """Read 06-09 of ``stream`` answered with ``rows``."""
    extra = {"group_by": "recipe"} if stream == RECIPE else {}
    with VerifiedHttpMocker() as http:
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10"), **extra), usage(rows))
        return read_streams(workato_config(start_date="2026-06-09"), [stream], expecting_exception=expecting_exception)


def test_a_row_without_workspace_id_fails_naming_the_field_and_listing_the_rows_own_fields(clock: Sleeps) -> None:
    # As if Workato named the field otherwise: asked for by id, every row would otherwise share the key (None,).
    renamed = {"managed_user_id": 1, "workspace_name": "ws-1", **counts(10)}
    output = read_one_day([renamed, {**renamed, "managed_user_id": 2}], expecting_exception=True)
    assert not output.records and not output.state_messages
    assert output.errors[0].trace.error.message == with_period_note(
        "Workato api/v2/managed_users/statistics/usage answered an item without 'workspace_id', a field of the stream's primary key "
        "(the item has: failed_job_count, managed_user_id, recipe_count, successful_job_count, task_count, workspace_name). "
        "No record is emitted without its key; the vendor's answer may have changed shape.",
        WORKSPACE, *JUNE_9_IN_LA,
    )  # fmt: skip


def test_a_recipe_row_without_recipe_id_fails_naming_the_field(clock: Sleeps) -> None:
    row = {"workspace_id": 1, "id": 11, "recipe_id": None, **counts(1)}
    output = read_one_day([row], RECIPE, expecting_exception=True)
    assert not output.records
    assert output.errors[0].trace.error.message == with_period_note(
        "Workato api/v2/managed_users/statistics/usage answered an item without 'recipe_id', a field of the stream's primary key "
        "(the item has: failed_job_count, id, recipe_count, recipe_id: null, successful_job_count, task_count, workspace_id). "
        "No record is emitted without its key; the vendor's answer may have changed shape.",
        RECIPE, *JUNE_9_IN_LA,
    )  # fmt: skip


def test_job_counts_named_as_other_workato_endpoints_name_them_give_the_exact_counts(clock: Sleeps) -> None:
    row = {"workspace_id": 1, "task_count": 120, "recipe_count": 4, "job_succeeded_count": 30, "job_failed_count": "3"}
    output = read_one_day([row])
    (record,) = records(output, WORKSPACE)
    assert record == {
        **row, "period_start": la_day("2026-06-09"), "period_end": la_day("2026-06-10"), "interval": "day",
        "period_start_utc": "2026-06-09T07:00:00+00:00", "period_end_utc": "2026-06-10T07:00:00+00:00",
        "successful_job_count": 30, "failed_job_count": 3,
    }  # fmt: skip
    jsonschema.validate(record, load_schema(WORKSPACE))


def test_a_row_without_a_count_under_any_of_its_names_fails_naming_the_count_and_the_rows_fields(clock: Sleeps) -> None:
    row = {"workspace_id": 1, "task_count": 120, "recipe_count": 4, "job_succeeded_count": 30, "jobs_failed": 3}
    output = read_one_day([row], expecting_exception=True)
    assert not output.records and not output.state_messages
    assert output.errors[0].trace.error.message == with_period_note(
        "Workato api/v2/managed_users/statistics/usage answered a row with no 'failed_job_count' or 'job_failed_count', "
        "the 'failed_job_count' count (the row has: job_succeeded_count, jobs_failed, recipe_count, task_count, workspace_id). "
        "Workato does not publish the fields of a usage row; rather than emit the count as null, the sync stops: "
        "the connector needs the row's new field names.",
        WORKSPACE, *JUNE_9_IN_LA,
    )  # fmt: skip


def test_a_row_with_both_names_of_a_count_disagreeing_fails_instead_of_picking_one(clock: Sleeps) -> None:
    row = {**workspace_row(1), "successful_job_count": 5, "job_succeeded_count": 7}
    output = read_one_day([row], expecting_exception=True)
    assert not output.records
    message = output.errors[0].trace.error.message
    assert message.startswith(
        "Workato api/v2/managed_users/statistics/usage answered a row with different values under 'successful_job_count' or "
        "'job_succeeded_count', the 'successful_job_count' count (the row has: "
    ), message


def test_a_second_row_for_one_workspace_in_one_window_fails_instead_of_being_dropped(clock: Sleeps) -> None:
    # Each workspace is asked for once per window: a second row (a second bucket) would be an undercount if dropped.
    output = read_one_day([workspace_row(1, period="2026-06-09T00:00:00-07:00"), workspace_row(2), workspace_row(1, task_count=3)],
                          expecting_exception=True)  # fmt: skip
    assert [record["workspace_id"] for record in records(output, WORKSPACE)] == [1, 2]
    assert not output.state_messages, "the window is not checkpointed"
    message = output.errors[0].trace.error.message
    assert message.startswith(
        "Workato api/v2/managed_users/statistics/usage answered a second row for period_start 2026-06-09T00:00:00-07:00, workspace_id 1 "
        "in the period from 2026-06-09T00:00:00-07:00, although each workspace is asked for once per window (the second record has: "
    ), message
    assert message.endswith(
        with_period_note("Neither row is known to be the right one; the vendor's answer may have changed shape.", WORKSPACE, *JUNE_9_IN_LA)
    ), message


def test_the_period_comes_from_the_window_even_when_a_row_names_another(clock: Sleeps) -> None:
    rows = [recipe_row(1, 11, period_start="2026-06-09T07:00:00Z", interval="2026-06-09"), recipe_row(1, 12)]
    with VerifiedHttpMocker() as http:
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10"), group_by="recipe"), usage(rows))
        output = read_streams(workato_config(start_date="2026-06-09"), [RECIPE])
    got = records(output, RECIPE)
    assert [record["period_start"] for record in got] == [la_day("2026-06-09")] * 2  # every row kept
    assert got[0]["vendor_period_start"] == "2026-06-09T07:00:00Z" and got[0]["vendor_interval"] == "2026-06-09"
    for record in got:
        jsonschema.validate(record, load_schema(RECIPE))


def test_data_null_is_zero_records_and_the_window_still_counts_as_read(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(usage_request(la_day("2026-06-08"), la_day("2026-06-09")), usage(None))
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10")), usage([]))
        output = read_streams(workato_config(), [WORKSPACE])
    assert not output.records and not output.errors
    assert states(output) == [la_day("2026-06-08"), la_day("2026-06-09")]


# --- state ----------------------------------------------------------------------------------


def test_state_is_emitted_after_each_finished_window(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(usage_request(la_day("2026-06-08"), la_day("2026-06-09")), usage([workspace_row(1), workspace_row(2)]))
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10")), usage([workspace_row(1)]))
        output = read_streams(workato_config(), [WORKSPACE])
    kinds = [
        (m.type.value, m.record.data["period_start"] if m.record else m.state.stream.stream_state.period_start)
        for m in output.records_and_state_messages
    ]
    assert kinds == [
        ("RECORD", la_day("2026-06-08")), ("RECORD", la_day("2026-06-08")), ("STATE", la_day("2026-06-08")),
        ("RECORD", la_day("2026-06-09")), ("STATE", la_day("2026-06-09")),
    ]  # fmt: skip


def test_a_failure_mid_window_leaves_state_at_the_last_finished_window(clock: Sleeps) -> None:
    ids = list(range(1, 151))
    with VerifiedHttpMocker() as http:
        for chunk in (ids[:100], ids[100:]):
            http.post(usage_request(la_day("2026-06-08"), la_day("2026-06-09"), chunk), usage([workspace_row(chunk[0])]))
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10"), ids[:100]), usage([workspace_row(1)]))
        http.post(
            usage_request(la_day("2026-06-09"), la_day("2026-06-10"), ids[100:]),
            HttpResponse(json.dumps({"message": "from must be before to"}), status_code=400),
        )
        output = read_streams(workato_config(workato={"workspace_ids": ids}), [WORKSPACE], expecting_exception=True)
    assert states(output) == [la_day("2026-06-08")]
    assert "from must be before to" in output.errors[0].trace.error.message


def test_resume_starts_after_the_cursor_minus_the_lookback_in_whole_periods(clock: Sleeps) -> None:
    # lookback_days 8 is two whole weeks: max(start, cursor + 1 week - 2 weeks) = the week before the cursor.
    config = workato_config(start_date="2026-05-01", end_date=None, lookback_days=8, workato={"interval": "week"})
    weeks = ["2026-05-18", "2026-05-25", "2026-06-01", "2026-06-08"]
    expected = [(la_day(start), la_day(end)) for start, end in pairwise(weeks)]
    with VerifiedHttpMocker() as http:
        for start, end in expected:
            http.post(usage_request(start, end), usage([workspace_row(1)]))
        output = read_streams(config, [WORKSPACE], state={WORKSPACE: {"period_start": la_day("2026-05-25")}})
        sent = [(body["from"], body["to"]) for body in usage_bodies(http)]
    assert sent == expected
    # Re-reading the lookback never moves the cursor back.
    assert states(output) == [la_day("2026-05-25"), la_day("2026-05-25"), la_day("2026-06-01")]


def test_resume_without_lookback_reads_only_the_windows_after_the_cursor(clock: Sleeps) -> None:
    config = workato_config(start_date="2026-06-01")
    with VerifiedHttpMocker() as http:
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10")), usage([workspace_row(1)]))
        output = read_streams(config, [WORKSPACE], state={WORKSPACE: {"period_start": la_day("2026-06-08")}})
        assert len(usage_bodies(http)) == 1
    assert states(output) == [la_day("2026-06-09")]


def test_full_refresh_ignores_state(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(usage_request(la_day("2026-06-08"), la_day("2026-06-09")), usage([workspace_row(1)]))
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10")), usage([workspace_row(1)]))
        output = read_streams(
            workato_config(), [WORKSPACE], state={WORKSPACE: {"period_start": la_day("2026-06-09")}}, sync_mode=SyncMode.full_refresh
        )
    assert [record["period_start"] for record in records(output, WORKSPACE)] == [la_day("2026-06-08"), la_day("2026-06-09")]


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_token_is_a_config_error_naming_workato_and_the_field(clock: Sleeps, status: int) -> None:
    with VerifiedHttpMocker() as http:
        http.post(
            usage_request(la_day("2026-06-09"), la_day("2026-06-10")),
            HttpResponse(json.dumps({"message": "Unauthorized"}), status_code=status),
        )
        output = read_streams(workato_config(start_date="2026-06-09"), [WORKSPACE], expecting_exception=True)
    trace = output.errors[0].trace.error
    assert trace.failure_type == FailureType.config_error
    assert "Workato" in trace.message and "workato.api_token" in trace.message


def test_http_429_waits_for_retry_after_then_retries(clock: Sleeps) -> None:
    limited = HttpResponse("{}", status_code=429, headers={"Retry-After": "7"})
    with VerifiedHttpMocker() as http:
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10")), [limited, usage([workspace_row(1)])])
        output = read_streams(workato_config(start_date="2026-06-09"), [WORKSPACE])
    assert len(output.records) == 1 and not output.errors
    assert clock.waits == [7 + 1]  # Retry-After, and the CDK's extra second


def test_a_400_fails_with_workatos_message(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(
            usage_request(la_day("2026-06-09"), la_day("2026-06-10")),
            HttpResponse(json.dumps({"message": "Invalid workspace_ids"}), status_code=400),
        )
        output = read_streams(workato_config(start_date="2026-06-09"), [WORKSPACE], expecting_exception=True)
    message = output.errors[0].trace.error.message
    assert "Workato" in message and "Invalid workspace_ids" in message


@pytest.mark.parametrize("body", [{"result": []}, {"data": {"rows": []}}, {"data": [1, 2]}])
def test_a_body_without_a_data_list_is_an_error_naming_the_endpoint_never_silently_empty(clock: Sleeps, body: Any) -> None:
    with VerifiedHttpMocker() as http:
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10")), HttpResponse(json.dumps(body)))
        output = read_streams(workato_config(start_date="2026-06-09"), [WORKSPACE], expecting_exception=True)
    message = output.errors[0].trace.error.message
    assert "statistics/usage" in message and "data" in message
    assert not output.records and not output.state_messages


def test_no_secret_reaches_any_output_line_on_success_or_error(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.post(usage_request(la_day("2026-06-09"), la_day("2026-06-10")), usage([workspace_row(1)]))
        http.post(
            usage_request(la_day("2026-06-09"), la_day("2026-06-10"), group_by="recipe"),
            HttpResponse(json.dumps({"message": f"Unauthorized token {SECRET}"}), status_code=401),
        )
        output = read_streams(workato_config(start_date="2026-06-09"), BOTH, expecting_exception=True)
    assert len(output.records) == 1 and output.errors  # both paths did run
    assert SECRET not in all_output_lines(output)


# --- budget ---------------------------------------------------------------------------------


def test_both_streams_share_one_budget_of_1000_usage_requests_per_minute_and_60_listings() -> None:
    streams = {stream.name: stream for stream in SourceUsage().streams(workato_config(workato={"workspace_ids": []}))}
    budget = streams[WORKSPACE].connection.budget
    assert budget is not None and streams[RECIPE].connection.budget is budget
    assert streams[WORKSPACE].workspaces is streams[RECIPE].workspaces  # one listing for both
    usage_call = requests.Request("POST", USAGE).prepare()
    listing_call = requests.Request("GET", MANAGED_USERS + "?page=1&per_page=100").prepare()
    with freezegun.freeze_time("2026-06-10T12:00:00Z"):
        for _ in range(1000):
            budget.acquire_call(usage_call, block=False)
        with pytest.raises(CallRateLimitHit):
            budget.acquire_call(usage_call, block=False)
        for _ in range(60):
            budget.acquire_call(listing_call, block=False)  # its own limit, untouched by the usage calls
        with pytest.raises(CallRateLimitHit) as hit:
            budget.acquire_call(listing_call, block=False)
    assert 55 <= hit.value.time_to_wait.total_seconds() <= 62


# --- config and check -----------------------------------------------------------------------


def check(config: Dict[str, Any]) -> Tuple[Status, str]:
    status = SourceUsage().check(logging.getLogger("test"), config)
    return status.status, status.message or ""


@pytest.mark.parametrize(
    "section, sentence",
    [
        ({"timezone": "Mars/Olympus_Mons"}, "'workato.timezone' must be an IANA time zone name such as America/Los_Angeles."),
        ({"timezone": "+08:00"}, "'workato.timezone' must be an IANA time zone name such as America/Los_Angeles."),
        ({"folder_name_pattern": "ab"}, "'workato.folder_name_pattern' must have at least 3 characters."),
        ({"recipe_name_pattern": "x"}, "'workato.recipe_name_pattern' must have at least 3 characters."),
        ({"interval": "year"}, "'workato.interval' must be one of: hour, day, week, month."),
        ({"base_url": "http://workato.example.com"}, "'workato.base_url' must use https (plain http is allowed only for localhost)."),
        ({"workspace_ids": ["abc"]}, "'workato.workspace_ids.0' must be an integer."),
    ],
)
def test_a_bad_field_fails_check_with_one_sentence_naming_it_and_read_with_a_config_error(section: Dict[str, Any], sentence: str) -> None:
    config = workato_config(workato=section)
    assert check(config) == (Status.FAILED, sentence)
    output = read_streams(config, [WORKSPACE], expecting_exception=True)
    assert output.errors[0].trace.error.failure_type == FailureType.config_error
    assert sentence in output.errors[0].trace.error.message


@pytest.mark.parametrize("timezone", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_iana_time_zones_and_the_data_centers_are_accepted(timezone: str) -> None:
    for base_url in ("https://www.workato.com", "https://app.eu.workato.com", "https://app.workatoapp.cn", "http://127.0.0.1:8080"):
        assert len(SourceUsage().streams(workato_config(workato={"timezone": timezone, "base_url": base_url}))) == 4


def test_spec_marks_the_token_secret_and_offers_the_data_centers_by_name() -> None:
    section = SourceUsage().spec(logging.getLogger("test")).connectionSpecification["properties"]["workato"]
    fields = section["properties"]
    assert fields["api_token"]["airbyte_secret"] is True
    assert fields["base_url"]["type"] == "string" and fields["base_url"]["default"] == "https://www.workato.com"
    assert len(fields["base_url"]["examples"]) == 7 and "https://app.eu.workato.com" in fields["base_url"]["examples"]
    assert "EU https://app.eu.workato.com" in fields["base_url"]["description"]
    assert fields["interval"]["enum"] == ["hour", "day", "week", "month"] and fields["interval"]["default"] == "day"
    assert fields["timezone"]["default"] == "UTC"


def test_check_lists_one_workspace_with_one_request(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        request = managed_users_request(1, per_page=1)
        http.get(request, managed_users([1]))
        assert check(workato_config()) == (Status.SUCCEEDED, "")
        http.assert_number_of_calls(request, 1)


def test_check_with_a_rejected_token_fails_naming_workato_and_the_field(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(managed_users_request(1, per_page=1), HttpResponse(json.dumps({"message": "Unauthorized"}), status_code=401))
        status, message = check(workato_config())
    assert status == Status.FAILED
    assert "Workato" in message and "workato.api_token" in message and SECRET not in message
