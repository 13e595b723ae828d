"""The request budget paces to a vendor's limit as it counts: at arrival (issue 14, item 3).

A window is widened by a guard learnt from the network: the longest round trip until a few were
seen, then their spread without the slowest; each rate-limit answer widens it more. The budget is
asked by the transport adapter once an attempt holds one of the vendor's in-flight slots, and it
hears of each answer with the answer's round trip.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, List, Optional, Tuple

import pytest
import requests
from airbyte_cdk.sources.streams.call_rate import APIBudget, CallRateLimitHit

from source_usage.core.budget import ROUND_TRIPS_TRUSTED, EndpointLimit, PacedWindowPolicy, PacingBudget, request_budget
from source_usage.core.errors import RetryAfterBackoff
from source_usage.core.limits import DeadlineAdapter, RequestLedger
from source_usage.core.pool import AdaptiveLimit
from source_usage.core.stats import RequestStats
from source_usage.core.vendor import HttpOptions

ORIGIN = "https://api.example.com"
LIMIT = EndpointLimit("/usage$", calls=2, seconds=1.0)


def budget_and_policy() -> Tuple[PacingBudget, PacedWindowPolicy]:
    budget = request_budget(ORIGIN, [LIMIT])
    assert budget is not None
    (policy,) = budget.paced
    return budget, policy


def usage_request() -> requests.PreparedRequest:
    return requests.Request("GET", f"{ORIGIN}/usage").prepare()


def answer(round_trip: float, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.elapsed = timedelta(seconds=round_trip)
    response.request = usage_request()
    return response


def wait_for_third_call(policy: PacedWindowPolicy) -> float:
    """Seconds the window makes a third request wait after two sent at once."""
    request = usage_request()
    policy.try_acquire(request, weight=1)
    policy.try_acquire(request, weight=1)
    with pytest.raises(CallRateLimitHit) as hit:
        policy.try_acquire(request, weight=1)
    return hit.value.time_to_wait.total_seconds()


def test_no_published_limit_means_no_budget() -> None:
    assert request_budget(ORIGIN, []) is None


def test_a_window_is_widened_by_at_least_2_percent() -> None:
    _, policy = budget_and_policy()
    assert policy.guard_seconds == pytest.approx(0.02)
    assert wait_for_third_call(policy) == pytest.approx(1.02, abs=0.015)


def test_until_8_round_trips_were_seen_the_guard_is_the_longest_of_them() -> None:
    budget, policy = budget_and_policy()
    for round_trip in (0.10, 0.30, 0.20):
        budget.update_from_response(usage_request(), answer(round_trip))
    assert policy.guard_seconds == pytest.approx(0.30)


def test_from_8_round_trips_on_the_guard_is_their_spread_without_the_slowest() -> None:
    budget, policy = budget_and_policy()
    round_trips = [0.30, 0.32, 0.35, 0.31, 0.90, 0.33, 0.30, 0.34]  # one slow answer among them
    assert len(round_trips) == ROUND_TRIPS_TRUSTED
    for round_trip in round_trips:
        budget.update_from_response(usage_request(), answer(round_trip))
    assert policy.guard_seconds == pytest.approx(0.35 - 0.30)
    assert wait_for_third_call(policy) == pytest.approx(1.05, abs=0.015)


def test_a_constant_latency_keeps_the_least_guard() -> None:
    budget, policy = budget_and_policy()
    for _ in range(2 * ROUND_TRIPS_TRUSTED):
        budget.update_from_response(usage_request(), answer(0.300))
    assert policy.guard_seconds == pytest.approx(0.02)


def test_each_rate_limit_answer_widens_the_window_5_percent_first_then_twice_as_much_up_to_half_of_it() -> None:
    budget, policy = budget_and_policy()
    guards: List[float] = []
    for _ in range(6):
        budget.rate_limited(usage_request())
        guards.append(round(policy.guard_seconds, 6))
    assert guards == [0.05, 0.1, 0.2, 0.4, 0.5, 0.5]
    assert wait_for_third_call(policy) == pytest.approx(1.5, abs=0.015)


def test_what_rate_limit_answers_taught_is_kept_when_the_network_is_calm() -> None:
    budget, policy = budget_and_policy()
    budget.rate_limited(usage_request())
    budget.rate_limited(usage_request())
    for _ in range(2 * ROUND_TRIPS_TRUSTED):
        budget.update_from_response(usage_request(), answer(0.300))
    assert policy.guard_seconds == pytest.approx(0.10)


def test_a_rate_limit_answer_to_a_path_without_a_limit_changes_no_window() -> None:
    budget, policy = budget_and_policy()
    budget.rate_limited(requests.Request("GET", f"{ORIGIN}/elsewhere").prepare())
    assert policy.guard_seconds == pytest.approx(0.02)


@pytest.mark.parametrize(("rate_limited", "guard"), [(True, 0.05), (False, 0.02)], ids=["rate-limit", "server-error"])
def test_the_backoff_tells_the_budget_of_rate_limit_answers_only(rate_limited: bool, guard: float) -> None:
    budget, policy = budget_and_policy()
    ledger = RequestLedger(HttpOptions(), RequestStats())
    backoff = RetryAfterBackoff(is_rate_limit=lambda _: rate_limited, ledger=ledger, vendor="Acme", budget=budget)
    backoff.backoff_time(answer(0.3, status=429 if rate_limited else 500), attempt_count=1)
    assert policy.guard_seconds == pytest.approx(guard)


# --------------------------------------------------------------------------- the adapter asks it


class RecordingBudget(APIBudget):
    """A budget that records when it is asked and what it is told."""

    def __init__(self, events: List[str]) -> None:
        super().__init__(policies=[])
        self.events = events
        self.round_trips: List[float] = []

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        self.events.append("budget asked")

    def update_from_response(self, request: Any, response: Any) -> None:
        self.events.append("budget told")
        self.round_trips.append(response.elapsed.total_seconds())


class RecordingLimit(AdaptiveLimit):
    def __init__(self, events: List[str]) -> None:
        super().__init__(1)
        self.events = events

    @contextmanager
    def slot(self) -> Iterator[None]:
        with super().slot():
            self.events.append("slot taken")
            try:
                yield
            finally:
                self.events.append("slot freed")


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        time.sleep(0.1)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


@contextmanager
def slow_server() -> Iterator[str]:
    """A loopback server that answers after 100 ms."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/usage"
    finally:
        server.shutdown()
        server.server_close()


def test_the_adapter_asks_the_budget_once_the_attempt_holds_its_slot_and_tells_it_the_round_trip() -> None:
    events: List[str] = []
    budget = RecordingBudget(events)
    options = HttpOptions(deadline=5.0, timeout=(1.0, 5.0))
    session = requests.Session()
    session.mount("http://", DeadlineAdapter(options, limit=RecordingLimit(events), budget=budget))
    with slow_server() as url:
        assert session.get(url).json() == {"ok": True}
    assert events == ["slot taken", "budget asked", "budget told", "slot freed"]
    (round_trip,) = budget.round_trips
    # The real round trip (the server takes 0.1 s), not requests' unset elapsed; a busy machine may add to it.
    assert 0.1 <= round_trip < 30.0, "the budget learns the real round trip, not requests' unset elapsed"


def test_a_budget_fed_by_the_adapter_widens_its_window_by_the_round_trip() -> None:
    with slow_server() as url:
        budget = request_budget(url.rsplit("/", 1)[0], [LIMIT])
        assert budget is not None
        session = requests.Session()
        session.mount("http://", DeadlineAdapter(HttpOptions(deadline=5.0, timeout=(1.0, 5.0)), budget=budget))
        session.get(url)
    (policy,) = budget.paced
    assert 0.1 <= policy.guard_seconds <= 0.5  # the round trip, at most half the window however slow it was


def test_a_request_counts_against_every_limit_it_matches_an_endpoints_and_the_companys() -> None:
    # Jiandaoyun's shape: 3 a second per endpoint, 5 a second over all of them (the CDK's budget
    # would apply only the first policy a request matches: 9 a second here).
    budget = request_budget(
        "https://api.example.com/",
        [EndpointLimit("/v1/a$", 3, 1.0), EndpointLimit("/v1/b$", 3, 1.0), EndpointLimit("/v1/c$", 3, 1.0), EndpointLimit("/v1/", 5, 1.0)],
    )
    assert budget is not None
    sent = []
    for path in ["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"]:
        request = requests.Request("POST", f"https://api.example.com/v1/{path}").prepare()
        try:
            budget.acquire_call(request, block=False)
            sent.append(path)
        except CallRateLimitHit:
            pass
    assert sent == ["a", "a", "a", "b", "b"]  # a's fourth over its 3; then the company's 5 in all
