"""How a read runs: streams side by side, each stream's order kept, and a summary per stream.

Read on the toy vendor with three endpoints (:class:`unit_tests.helpers.ThreeEndpointToy`)."""

from __future__ import annotations

import json
import threading
from typing import Any, List, Sequence

import pytest
import requests
from airbyte_cdk.test.mock_http import HttpResponse

from unit_tests.conftest import Sleeps
from unit_tests.helpers import (
    TOY_ENDPOINTS,
    TOY_STREAM,
    ThreeEndpointToy,
    VerifiedHttpMocker,
    read_streams,
    toy_config,
    toy_page,
    toy_request,
    toy_source,
)

STREAMS = list(TOY_ENDPOINTS)
DATES = ["2026-06-08", "2026-06-09"]


def mock_all_endpoints(http: VerifiedHttpMocker, streams: Sequence[str] = tuple(STREAMS)) -> None:
    """Each of 06-08 and 06-09 answered with one item by the endpoint of each of ``streams``."""
    for date in DATES:
        for stream in streams:
            http.get(toy_request(date, TOY_ENDPOINTS[stream]), toy_page("t1"))


def test_streams_of_different_endpoints_are_read_side_by_side(clock: Sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each endpoint's first request waits until all three endpoints have sent one: a sequential
    # read would never get there and break the barrier.
    barrier = threading.Barrier(len(STREAMS), timeout=10)
    seen: List[str] = []
    with VerifiedHttpMocker() as http:
        mock_all_endpoints(http)
        mocked_send = requests.Session.send

        def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            endpoint = (request.url or "").split("?", 1)[0].rsplit("/", 1)[-1]
            if endpoint not in seen:
                seen.append(endpoint)
                barrier.wait()
            return mocked_send(self, request, **kwargs)

        # Undone before HttpMocker exits, so requests-mock restores the real send afterwards.
        with monkeypatch.context() as patch:
            patch.setattr(requests.Session, "send", send)
            output = read_streams(toy_config(), STREAMS, source=toy_source(ThreeEndpointToy()))
    assert not output.errors
    assert len(output.records) == 6
    assert sorted(seen) == ["apps", "seats", "usage"]


def test_each_stream_keeps_its_records_before_the_state_that_covers_them(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        mock_all_endpoints(http)
        output = read_streams(toy_config(), STREAMS, source=toy_source(ThreeEndpointToy()))
    for stream in STREAMS:
        sequence = []
        for message in output.records_and_state_messages:
            if message.record and message.record.stream == stream:
                sequence.append(("RECORD", message.record.data["day"]))
            elif message.state and message.state.stream.stream_descriptor.name == stream:
                sequence.append(("STATE", message.state.stream.stream_state.day))
        assert sequence == [("RECORD", "2026-06-08"), ("STATE", "2026-06-08"), ("RECORD", "2026-06-09"), ("STATE", "2026-06-09")]


def test_a_failing_stream_does_not_stop_the_others_and_the_read_ends_in_error(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        mock_all_endpoints(http, streams=[TOY_STREAM, "toy_app_usage"])
        seats = toy_request("2026-06-08", TOY_ENDPOINTS["toy_seat_usage"])
        http.get(seats, HttpResponse(json.dumps({"message": "invalid parameter"}), status_code=400))
        output = read_streams(toy_config(), STREAMS, expecting_exception=True, source=toy_source(ThreeEndpointToy()))
    streams_with_records = {record.record.stream for record in output.records}
    assert streams_with_records == {TOY_STREAM, "toy_app_usage"}
    assert any("toy_seat_usage" in (error.trace.error.message or "") for error in output.errors)


def test_every_read_ends_with_a_one_line_summary_per_stream(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        for date in DATES:
            http.get(toy_request(date), toy_page("t1"))
        http.get(toy_request("2026-06-07"),
                 [HttpResponse(json.dumps({"message": "too fast"}), status_code=429), toy_page("t1")])  # fmt: skip
        output = read_streams(toy_config(start_date="2026-06-07"), [TOY_STREAM], source=toy_source())
    assert clock.waits == [2.0]  # a 429 without Retry-After: 1 s, and the CDK's extra second
    summaries = [log.log.message for log in output.logs if log.log.message.startswith("Sync summary")]
    assert summaries == [
        "Sync summary: toy_daily_usage: 4 requests, 1 retries, 1 rate-limit waits (2.0 s), 3 records. "
        "Timing: wall time 2.0 s, 0.0 s of it waiting for the request budget."
    ]
