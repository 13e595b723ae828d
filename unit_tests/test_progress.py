"""What a sync says about itself while it runs (``core.progress``, ``core.synclog``): the plan of
each period stream, its progress at most once per interval, backoff lines naming the request's
vendor and path, the summary's wall time and budget waits, and the sync's start and end said once."""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterable, List, Mapping, Optional

import pytest
import requests
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.call_rate import APIBudget
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction

from integration_tests.toy_vendor.connector import ToyDailyUsage
from source_usage.core.budget import EndpointLimit, request_budget
from source_usage.core.limits import DeadlineAdapter, RequestLedger, SentRequest, TimedBudget, current_request
from source_usage.core.periods import Granularity
from source_usage.core.progress import ProgressOptions, StreamProgress, duration, least_seconds, plan_line
from source_usage.core.settings import SharedSettings
from source_usage.core.stats import RequestStats
from source_usage.core.synclog import NAME_THE_REQUEST, backoff_line
from source_usage.core.vendor import CHECK_HTTP, Connection, HttpOptions, VendorIdentity
from unit_tests.conftest import Sleeps
from unit_tests.helpers import (
    TOY_ENDPOINTS,
    TOY_URL,
    ThreeEndpointToy,
    VerifiedHttpMocker,
    read_streams,
    toy_config,
    toy_page,
    toy_request,
    toy_source,
)

ACME = VendorIdentity(key="acme", title="Acme", credentials_field="api_key")
PER_MINUTE = EndpointLimit("/api/usage$", 1_000, 60.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def messages(caplog: pytest.LogCaptureFixture, prefix: str) -> List[str]:
    return [record.getMessage() for record in caplog.records if record.getMessage().startswith(prefix)]


# -- the plan


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "0 s"), (45, "45 s"), (70.56, "1 min 11 s"), (3_599, "59 min 59 s"), (3_900, "1 h 5 min")]
)
def test_a_duration_reads_in_seconds_minutes_and_hours(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(("requests_", "least"), [(0, 0.0), (1, 0.0), (1_000, 0.0), (1_001, 60.0), (1_176, 60.0), (4_320, 240.0)])
def test_the_least_time_sends_a_window_of_requests_at_once_and_each_further_window_a_window_later(requests_: int, least: float) -> None:
    assert least_seconds(requests_, PER_MINUTE) == least


def test_the_plan_line_says_periods_least_requests_and_least_time_at_the_vendors_limit() -> None:
    assert plan_line("acme_usage", 168, 1_176, "Acme", PER_MINUTE, 20) == (
        "Plan: acme_usage: 168 periods, at least 1,176 requests, at least 1 min 0 s at Acme's limit of 1,000 requests per 60 s."
    )
    assert plan_line("acme_usage", 1, 1, "Acme", EndpointLimit("/x$", 1, 1.0), 1) == (
        "Plan: acme_usage: 1 period, at least 1 request, at least 0 s at Acme's limit of 1 request per 1 s."
    )


def test_without_a_published_limit_the_plan_says_so_and_that_the_time_depends_on_the_answers() -> None:
    assert plan_line("acme_usage", 90, 900, "Acme", None, 1) == (
        "Plan: acme_usage: 90 periods, at least 900 requests; Acme publishes no rate limit, so the time depends on "
        "its answer times (1 request in flight)."
    )
    assert plan_line("acme_usage", 90, 900, "Acme", None, 8).endswith("(up to 8 requests in flight).")


def test_a_connection_finds_the_limit_of_an_endpoint_by_path_and_method() -> None:
    limits = [EndpointLimit("/api/usage$", 1_000, 60.0, method="POST"), EndpointLimit("/api/", 60, 60.0)]
    connection = Connection(ACME, "https://acme.test/", budget=request_budget("https://acme.test/", limits))
    assert connection.limits == tuple(limits)
    assert connection.limit_for("api/usage", "POST") == limits[0]
    assert connection.limit_for("api/usage", "GET") == limits[1]
    assert connection.limit_for("other", "GET") is None
    assert Connection(ACME, "https://acme.test/").limits == ()


class ThreeRequestsPerDay(ToyDailyUsage):
    """A stream that asks for each day in three requests (as an id-chunked stream does)."""

    def requests_for_period(self, period_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        for chunk in range(3):
            yield {**period_slice, "chunk": chunk}


def toy_stream(http: HttpOptions, limits: Optional[List[EndpointLimit]] = None) -> ThreeRequestsPerDay:
    settings = SharedSettings.from_config(toy_config())
    budget = request_budget(TOY_URL, limits) if limits else None
    connection = Connection(VendorIdentity("toy", "Toy", "api_token"), TOY_URL, budget=budget, http=http)
    return ThreeRequestsPerDay(connection, settings.plan("Toy", "UTC", Granularity.DAY))


def test_the_plan_counts_every_request_a_period_is_read_with(clock: Sleeps, caplog: pytest.LogCaptureFixture) -> None:
    stream = toy_stream(HttpOptions(read_ahead=False), [EndpointLimit(f"/{ToyDailyUsage.endpoint}$", 5, 1.0)])
    with caplog.at_level(logging.INFO, logger="airbyte"):
        slices = list(stream.stream_slices(sync_mode=SyncMode.full_refresh))
    assert len(slices) == 2  # 06-08 and 06-09
    assert messages(caplog, "Plan: ") == [
        "Plan: toy_daily_usage: 2 periods, at least 6 requests, at least 1 s at Toy's limit of 5 requests per 1 s."
    ]


def test_check_says_no_plan(clock: Sleeps, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="airbyte"):
        list(toy_stream(CHECK_HTTP).stream_slices(sync_mode=SyncMode.full_refresh))
    assert messages(caplog, "Plan: ") == []


# -- progress


def test_progress_is_said_after_a_period_at_most_once_per_interval_with_the_eta_at_the_rate_so_far(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, stats = FakeClock(), RequestStats()
    progress = StreamProgress("acme_usage", {day: 1 for day in "abcd"}, stats, ProgressOptions(interval=30.0, clock=clock))
    with caplog.at_level(logging.INFO, logger="airbyte"):
        for now, day in [(110.0, "a"), (131.0, "b"), (160.0, "c"), (200.0, "d")]:
            clock.now = now
            stats.records += 3
            progress.slice_done(day)
    # 110: before the first interval; 131: 2 of 4 in 31 s, 31 s left; 160: within 30 s of 131;
    # 200: the last period (the summary follows).
    assert messages(caplog, "Progress: ") == [
        "Progress: acme_usage: 2 of 4 periods, 6 records, 31 s so far, about 31 s left at the rate so far."
    ]


def test_progress_counts_every_period_of_a_slice_that_covers_several(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    progress = StreamProgress("acme_usage", {"first": 24, "second": 24}, RequestStats(), ProgressOptions(interval=30.0, clock=clock))
    clock.now = 190.0
    with caplog.at_level(logging.INFO, logger="airbyte"):
        progress.slice_done("first")
    assert messages(caplog, "Progress: ") == [
        "Progress: acme_usage: 24 of 48 periods, 0 records, 1 min 30 s so far, about 1 min 30 s left at the rate so far."
    ]


# -- backoff lines


def ledger_retrying(action: ResponseAction) -> RequestLedger:
    ledger = RequestLedger(HttpOptions(), RequestStats())
    ledger.answered(action, None)
    return ledger


CDK_LINE = "UserDefinedBackoffException: Rate limit exceeded (HTTP 429). Retrying in 2.0 seconds."


def test_a_backoff_line_names_vendor_and_path_and_says_rate_limit_only_for_one() -> None:
    limited = SentRequest("Acme", "/api/users/42/usage", ledger_retrying(ResponseAction.RATE_LIMITED))
    assert backoff_line(CDK_LINE, limited) == "Acme /api/users/42/usage: rate limit exceeded (HTTP 429). Retrying in 2.0 seconds."
    failed = SentRequest("Acme", "/api/usage", ledger_retrying(ResponseAction.RETRY))
    assert backoff_line(CDK_LINE.replace("429", "503"), failed) == "Acme /api/usage: retryable error (HTTP 503). Retrying in 2.0 seconds."
    other = "Caught retryable error 'boom' after 1 tries. Waiting 1 seconds then retrying..."
    assert backoff_line(other, failed) == f"Acme /api/usage: {other}"


def cdk_backoff_record() -> logging.LogRecord:
    """A record as the CDK's ``rate_limiting`` module logs it."""
    return logging.LogRecord("airbyte", logging.INFO, "/cdk/sources/streams/http/rate_limiting.py", 1, CDK_LINE, None, None)


def test_the_request_a_backoff_line_names_is_the_one_its_own_thread_sent_without_its_query() -> None:
    adapter = DeadlineAdapter(HttpOptions(deadline=2.0, timeout=(1.0, 1.0)), vendor="Acme")
    sent = requests.Request("GET", "http://127.0.0.1:9/api/usage?token=SECRET-0123&day=1").prepare()
    with pytest.raises(requests.exceptions.ConnectionError):
        adapter.send(sent)  # nothing listens on port 9: the request is named before it fails
    assert current_request() == SentRequest("Acme", "/api/usage", None)
    here = cdk_backoff_record()
    NAME_THE_REQUEST.filter(here)
    assert here.getMessage() == "Acme /api/usage: rate limit exceeded (HTTP 429). Retrying in 2.0 seconds."

    elsewhere: List[str] = []

    def another_thread() -> None:
        record = cdk_backoff_record()
        NAME_THE_REQUEST.filter(record)
        elsewhere.append(record.getMessage())

    thread = threading.Thread(target=another_thread)
    thread.start()
    thread.join()
    assert elsewhere == [CDK_LINE]  # that thread sent nothing: its line is left as the CDK said it


def test_the_backoff_librarys_own_lines_name_the_request_too() -> None:
    adapter = DeadlineAdapter(HttpOptions(deadline=2.0, timeout=(1.0, 1.0)), vendor="Acme")
    with pytest.raises(requests.exceptions.ConnectionError):
        adapter.send(requests.Request("GET", "http://127.0.0.1:9/api/usage").prepare())
    line = "Backing off _send(...) for 1.0s (DefaultBackoffException: timed out)"
    record = logging.LogRecord("backoff", logging.INFO, "/site-packages/backoff/_common.py", 1, line, None, None)
    NAME_THE_REQUEST.filter(record)
    assert record.getMessage() == f"Acme /api/usage: {line}"


# -- the summary


def test_timed_budget_tells_the_stats_how_long_acquisitions_blocked_and_the_summary_says_it() -> None:
    clock, stats = FakeClock(), RequestStats()

    class Blocking(APIBudget):
        """A budget whose every acquisition blocks for 1.5 s of the fake clock."""

        def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
            clock.now += 1.5

    timed = TimedBudget(budget=Blocking(policies=[]), stats=stats, clock=clock)
    timed.acquire_call(None)
    timed.acquire_call(None)
    assert stats.budget_wait_seconds == 3.0
    assert stats.summary("acme_usage", 12.34) == (
        "Sync summary: acme_usage: 0 requests, 0 retries, 0 rate-limit waits (0.0 s), 0 records. "
        "Timing: wall time 12.3 s, 3.0 s of it waiting for the request budget."
    )


def test_waits_of_requests_in_flight_at_once_count_once() -> None:
    stats = RequestStats()
    stats.budget_wait_began(10.0)  # one worker waits from 10 s to 13 s,
    stats.budget_wait_began(11.0)  # another from 11 s to 14 s: 4 s held back, not 6 s
    stats.budget_wait_ended(13.0)
    stats.budget_wait_ended(14.0)
    stats.budget_wait_began(20.0)
    stats.budget_wait_ended(20.5)
    assert stats.budget_wait_seconds == 4.5


# -- once per sync


def test_a_sync_of_several_streams_says_it_starts_and_finishes_once(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        for day in ["2026-06-08", "2026-06-09"]:
            for endpoint in TOY_ENDPOINTS.values():
                http.get(toy_request(day, endpoint), toy_page("t1"))
        output = read_streams(toy_config(), list(TOY_ENDPOINTS), source=toy_source(ThreeEndpointToy()))
    lines = [log.log.message for log in output.logs]
    assert [line for line in lines if line.startswith(("Starting syncing", "Finished syncing"))] == [
        "Starting syncing SourceUsage",
        "Finished syncing SourceUsage",
    ]
    assert not [line for line in lines if "runtimes:" in line]
    assert len([line for line in lines if line.startswith("Sync summary: ")]) == 3
