"""The test helpers fail when they should: a mock that verifies nothing would let every test pass."""

from __future__ import annotations

import pytest
import requests
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse
from requests_mock.exceptions import NoMockAddress

from unit_tests.conftest import Sleeps
from unit_tests.helpers import VerifiedHttpMocker

URL = "https://api.example.test/things"


def test_a_mocked_request_never_made_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="expected exactly 1 call"):
        with VerifiedHttpMocker() as http:
            http.get(HttpRequest(URL), HttpResponse("{}"))


def test_a_mocked_request_made_more_often_than_it_was_answered_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="expected exactly 1 call"):
        with VerifiedHttpMocker() as http:
            http.get(HttpRequest(URL), HttpResponse("{}"))
            requests.get(URL)
            requests.get(URL)


def test_calls_says_how_often_a_request_is_made_when_its_last_answer_repeats() -> None:
    with VerifiedHttpMocker() as http:
        http.post(HttpRequest(URL, body={"a": 1}), HttpResponse("{}", status_code=503), calls=3)
        for _ in range(3):
            requests.post(URL, json={"a": 1})
    assert [(request.method, request.url) for request in http.sent] == [("POST", URL)] * 3


def test_a_request_that_matches_no_mock_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="1 request\\(s\\) matched no mock"):
        with VerifiedHttpMocker() as http:
            http.get(HttpRequest(URL), HttpResponse("{}"))
            requests.get(URL)
            with pytest.raises(NoMockAddress):
                requests.get(URL + "/other")


def test_sent_lists_the_requests_in_order_and_sent_to_filters_them_by_url() -> None:
    with VerifiedHttpMocker() as http:
        http.get(HttpRequest(URL), HttpResponse("{}"))
        http.post(HttpRequest(URL + "/search", body={"q": "x"}), HttpResponse("{}"))
        requests.get(URL)
        requests.post(URL + "/search", json={"q": "x"})
    assert [request.method for request in http.sent] == ["GET", "POST"]
    assert [request.body for request in http.sent_to(URL + "/search")] == [b'{"q": "x"}']


def test_an_error_inside_the_block_is_not_hidden_by_the_verification() -> None:
    with pytest.raises(ZeroDivisionError):
        with VerifiedHttpMocker() as http:
            http.get(HttpRequest(URL), HttpResponse("{}"))
            1 / 0  # noqa: B018


def test_the_real_send_is_back_after_the_block() -> None:
    send = requests.Session.send
    with VerifiedHttpMocker():
        assert requests.Session.send is not send
    assert requests.Session.send is send


def test_the_clock_records_sleeps_and_moves_by_them(clock: Sleeps) -> None:
    import time

    started = time.time()
    time.sleep(0)
    time.sleep(2.5)
    assert clock.seconds == [0, 2.5] and clock.waits == [2.5]
    assert time.time() - started == 2.5
