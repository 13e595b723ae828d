"""How a read runs: streams side by side, each stream's order kept, and a summary per stream."""

from __future__ import annotations

import json
import threading
from typing import Any, List, Sequence

import pytest
import requests
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse

from unit_tests.conftest import Sleeps
from unit_tests.helpers import BASE_URL, VerifiedHttpMocker, jiandaoyun_config, read_streams

STREAMS = ["jiandaoyun_member_usage", "jiandaoyun_app_usage", "jiandaoyun_overview_usage"]
DATES = ["2026-06-08", "2026-06-09"]


ITEMS = {"member_metrics": {"member": {"member_id": "m1"}, "metrics": {}}, "app_metrics": {"app_id": "a1"}}


def mock_all_endpoints(http: VerifiedHttpMocker, items: Sequence[str] = tuple(ITEMS)) -> None:
    """Each of 06-08 and 06-09 answered with one item by each of the ``items`` endpoints, and by the overview."""
    for date in DATES:
        for endpoint in items:
            item = ITEMS[endpoint]
            url = f"{BASE_URL}/api/v1/corp_usage/{endpoint}"
            http.post(HttpRequest(url, body={"date": date, "skip": 0, "limit": 100}),
                      HttpResponse(json.dumps({"date": date, "has_next": False, "items": [item]})))  # fmt: skip
        http.post(HttpRequest(f"{BASE_URL}/api/v1/corp_usage/overview", body={"date": date}),
                  HttpResponse(json.dumps({"date": date, "metrics": {"app": 1}})))  # fmt: skip


def test_streams_of_different_endpoints_are_read_side_by_side(clock: Sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each endpoint's first request waits until all three endpoints have sent one: a sequential
    # read would never get there and break the barrier.
    barrier = threading.Barrier(len(STREAMS), timeout=10)
    seen: List[str] = []
    with VerifiedHttpMocker() as http:
        mock_all_endpoints(http)
        mocked_send = requests.Session.send

        def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            endpoint = (request.url or "").rsplit("/", 1)[-1]
            if endpoint not in seen:
                seen.append(endpoint)
                barrier.wait()
            return mocked_send(self, request, **kwargs)

        # Undone before HttpMocker exits, so requests-mock restores the real send afterwards.
        with monkeypatch.context() as patch:
            patch.setattr(requests.Session, "send", send)
            output = read_streams(jiandaoyun_config(), STREAMS)
    assert not output.errors
    assert len(output.records) == 6


def test_each_stream_keeps_its_records_before_the_state_that_covers_them(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        mock_all_endpoints(http)
        output = read_streams(jiandaoyun_config(), STREAMS)
    for stream in STREAMS:
        sequence = []
        for message in output.records_and_state_messages:
            if message.record and message.record.stream == stream:
                sequence.append(("RECORD", message.record.data["date"]))
            elif message.state and message.state.stream.stream_descriptor.name == stream:
                sequence.append(("STATE", message.state.stream.stream_state.date))
        assert sequence == [("RECORD", "2026-06-08"), ("STATE", "2026-06-08"), ("RECORD", "2026-06-09"), ("STATE", "2026-06-09")]


def test_a_failing_stream_does_not_stop_the_others_and_the_read_ends_in_error(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        mock_all_endpoints(http, items=["member_metrics"])
        apps = HttpRequest(f"{BASE_URL}/api/v1/corp_usage/app_metrics", body={"date": "2026-06-08", "skip": 0, "limit": 100})
        http.post(apps, HttpResponse(json.dumps({"code": 17017, "msg": "invalid parameter"}), status_code=400))
        output = read_streams(jiandaoyun_config(), STREAMS, expecting_exception=True)
    streams_with_records = {record.record.stream for record in output.records}
    assert streams_with_records == {"jiandaoyun_member_usage", "jiandaoyun_overview_usage"}
    assert any("jiandaoyun_app_usage" in (error.trace.error.message or "") for error in output.errors)


def test_every_read_ends_with_a_one_line_summary_per_stream(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        mock_all_endpoints(http, items=[])
        http.post(HttpRequest(f"{BASE_URL}/api/v1/corp_usage/overview", body={"date": "2026-06-07"}),
                  [HttpResponse(json.dumps({"code": 8303, "msg": "too fast"}), status_code=400),
                   HttpResponse(json.dumps({"date": "2026-06-07", "metrics": {}}))])  # fmt: skip
        output = read_streams(jiandaoyun_config(start_date="2026-06-07"), ["jiandaoyun_overview_usage"])
    assert clock.waits == [2.0]  # 8303 carries no Retry-After: 1 s, and the CDK's extra second
    summaries = [log.log.message for log in output.logs if log.log.message.startswith("Sync summary")]
    assert summaries == [
        "Sync summary: jiandaoyun_overview_usage: 4 requests, 1 retries, 1 rate-limit waits (2.0 s), 3 records."
    ]
