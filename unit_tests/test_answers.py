"""Reading what a vendor answers as it was sent (issue 22): bodies parsed without a number
changed or a string refused, error envelopes sent with a 200, and the vendor's own clock."""

from __future__ import annotations

import logging
from typing import Any, List

import pytest
import requests

from source_usage.core.bodies import BodyProblem, NotJson, parse_json
from source_usage.core.errors import envelope_status, error_envelope
from source_usage.core.vendor_clock import VendorClock

# --- bodies ----------------------------------------------------------------------------------


def test_a_body_after_a_utf8_byte_order_mark_is_read() -> None:
    assert parse_json(b'\xef\xbb\xbf{"data": [1]}') == {"data": [1]}


@pytest.mark.parametrize("number", [2**64 + 1, -(2**63) - 1, 10**30, 2**63])
def test_an_integer_beyond_64_bits_is_kept_exact(number: int) -> None:
    assert parse_json(b'{"metrics": {"data": %d}}' % number) == {"metrics": {"data": number}}


def test_nineteen_digits_in_a_string_leave_every_number_as_sent() -> None:
    body = b'{"phone": "1234567890123456789", "count": 3, "share": 0.25}'
    assert parse_json(body) == {"phone": "1234567890123456789", "count": 3, "share": 0.25}


def test_a_lone_surrogate_escape_is_kept() -> None:
    assert parse_json(b'{"name": "Ana\\ud83d"}') == {"name": "Ana\ud83d"}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (b'{"items": [{"metrics": {"app": NaN}}]}', "'items.0.metrics.app' is NaN, which is not a number JSON allows"),
        (b'{"data": [{"task_count": Infinity}]}', "'data.0.task_count' is Infinity, which is not a number JSON allows"),
        (b"-Infinity", "'the body' is -Infinity, which is not a number JSON allows"),
    ],
)
def test_nan_and_infinity_are_a_body_problem_naming_the_field(text: bytes, said: str) -> None:
    with pytest.raises(BodyProblem) as problem:
        parse_json(text)
    assert str(problem.value) == said


@pytest.mark.parametrize("text", [b'{"items": [', b"<html>502 Bad Gateway</html>", b"\xff\xfe{}"])
def test_a_body_that_is_not_json_is_not_json(text: bytes) -> None:
    with pytest.raises(NotJson):
        parse_json(text)


# --- error envelopes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"error": "Internal Server Error", "message": "upstream timed out", "status": 500},
        {"data": None, "message": "upstream timed out", "status": 500},
        {"data": [], "error": "Internal Server Error", "message": "upstream timed out", "status": 500},
    ],
)
def test_an_error_field_beside_missing_or_empty_data_is_an_envelope(body: Any) -> None:
    said = error_envelope(body, ["data"])
    assert said is not None and "upstream timed out" in said and "status: 500" in said


@pytest.mark.parametrize(
    ("body", "data_fields"),
    [
        ({"data": [{"id": 1}], "message": "ok", "status": "done"}, ["data"]),  # data: not an envelope
        ({"data": None}, ["data"]),  # Workato's "no usage in this window"
        ({"usage": {"data": [{"from": "x"}]}, "status": 200}, ["usage.data"]),
        ({"id": "org-1", "status": "active"}, []),  # the body is the object itself
        ([{"error": "x"}], ["data"]),
        ({"code": 0, "msg": "success", "items": [], "has_next": False}, ["items"]),  # an empty day that says it succeeded
        ({"data": None, "status": "OK"}, ["data"]),
        ({"data": [], "message": "Success", "status": 200}, ["data"]),
    ],
)
def test_a_body_with_data_or_without_error_fields_is_no_envelope(body: Any, data_fields: List[str]) -> None:
    assert error_envelope(body, data_fields) is None


@pytest.mark.parametrize(
    ("body", "status"),
    [({"status": 503}, 503), ({"statusCode": "429"}, 429), ({"code": 401}, 401), ({"status": "error"}, None), ({"status": 200}, None)],
)
def test_an_envelope_names_the_http_status_it_stands_for_when_it_holds_one(body: Any, status: Any) -> None:
    assert envelope_status(body) == status


# --- the vendor's clock ----------------------------------------------------------------------


class Clocks:
    """This machine's wall and monotonic clocks, moved by hand."""

    def __init__(self, wall: float) -> None:
        self.wall_now, self.monotonic_now = wall, 1000.0

    def wall(self) -> float:
        return self.wall_now

    def monotonic(self) -> float:
        return self.monotonic_now

    def tick(self, seconds: float) -> None:
        self.wall_now += seconds
        self.monotonic_now += seconds


def answer(date_header: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.headers["Date"] = date_header
    return response


#: 2026-06-10 12:00:00 UTC and its HTTP date.
NOON = 1781092800.0
NOON_HEADER = "Wed, 10 Jun 2026 12:00:00 GMT"


def test_the_vendors_clock_is_its_latest_date_run_on_by_this_machines_monotonic_clock() -> None:
    clocks = Clocks(NOON)
    clock = VendorClock("Toy", clocks.wall, clocks.monotonic)
    assert clock.now() is None  # before any answer told it
    clock.observe(answer(NOON_HEADER))
    clocks.tick(30)
    assert clock.now() == NOON + 30
    clock.observe(answer("not a date"))  # unreadable: nothing learnt
    assert clock.now() == NOON + 30


def test_a_moment_past_by_this_machines_clock_but_not_by_the_vendors_has_not_passed() -> None:
    import pendulum

    clocks = Clocks(NOON + 2 * 86400)  # this machine two days ahead
    clock = VendorClock("Toy", clocks.wall, clocks.monotonic)
    midnight = pendulum.datetime(2026, 6, 11, tz="UTC")
    assert clock.has_passed(midnight)  # the vendor never said its time: this machine's decides
    clock.observe(answer(NOON_HEADER))
    assert not clock.has_passed(midnight)
    assert clock.has_passed(pendulum.datetime(2026, 6, 10, tz="UTC"))


def test_a_skew_over_five_minutes_is_one_warning_naming_both_clocks(caplog: pytest.LogCaptureFixture) -> None:
    clocks = Clocks(NOON + 2 * 86400 + 90)
    clock = VendorClock("Toy", clocks.wall, clocks.monotonic)
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        for _ in range(3):
            clock.observe(answer(NOON_HEADER))
    assert [record.getMessage() for record in caplog.records] == [
        "This machine's clock (2026-06-12 12:01:30 UTC) is 48 h 2 min ahead of Toy's (2026-06-10 12:00:00 UTC, the Date of "
        "its answers): a period is checkpointed only once it is over by both clocks. Set the machine's clock right (NTP)."
    ]


def test_a_skew_within_five_minutes_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    clocks = Clocks(NOON - 240)  # this machine four minutes behind
    clock = VendorClock("Toy", clocks.wall, clocks.monotonic)
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        clock.observe(answer(NOON_HEADER))
    assert caplog.records == []


def large_answer(content: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = content  # what requests holds once a body was read
    return response


def test_a_large_body_that_is_not_json_is_not_json_and_one_with_a_huge_integer_is_read_whole_and_exact() -> None:
    from source_usage.core.bodies import LARGE_BODY
    from source_usage.core.errors import json_body

    padding = b'{"item": "' + b"x" * 100 + b'"}, '
    items = padding * (LARGE_BODY // len(padding) + 1)
    with pytest.raises(NotJson):
        json_body(large_answer(b'{"items": [' + items), "items")  # cut short
    body = json_body(large_answer(b'{"items": [' + items + b'{"data": %d}]}' % (2**64 + 1)), "items")
    assert body["items"][-1] == {"data": 2**64 + 1}
