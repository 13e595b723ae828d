"""The emulator's core: routing, the key check, fault switches, sliding windows, the request log and
the command line. It names no vendor: a test of the core runs on the toy vendor of the test suite
(with a second endpoint, so that a path a fault names can be told from another), or on every
vendor the emulator serves through what ``VendorEmulator`` says of it. What one vendor enforces
and serves is tested in ``test_<vendor>_emulator.py``.

These run in-process against the ``emulator`` fixture over real HTTP, in well under a second
each; the connector is not involved.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

import pytest
import requests

from integration_tests.conftest import EmulatorFactory
from integration_tests.emulator import Emulator, discover_vendors
from integration_tests.emulator.core import INBOUND_SHARE, Reply, Request, Route, SlidingWindows, VendorEmulator, Window, round_trip
from integration_tests.emulator_client import ROOT, command_line, vendor_request
from integration_tests.toy_vendor.emulator import ToyEmulator

#: The toy's usage is for days that are over: a fixed clock keeps ``DAY`` one of them.
PINNED = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc)
DAY = "2026-06-14"
USAGE = "/toy/v1/usage"
TEAMS = "/toy/v1/teams"
#: The toy's teams again, at most one request in any :data:`LIMIT_WINDOW` seconds.
LIMITED = "/toy/v1/limited"
LIMIT_WINDOW = 0.25
VENDORS = sorted(discover_vendors())


class Toy(ToyEmulator):
    """The toy vendor, with its teams as a second endpoint (``GET`` or ``POST``, any body), and
    as a third with a rate limit."""

    def routes(self) -> List[Route]:
        limited = Route("GET", LIMITED, self._teams, ("limited",))
        return [*super().routes(), Route("GET", TEAMS, self._teams), Route("POST", TEAMS, self._teams), limited]

    def rate_limit(self, name: str) -> Optional[Window]:
        return Window(1, LIMIT_WINDOW) if name == "limited" else None

    def _teams(self, request: Request) -> Reply:
        return Reply(200, {"teams": [f"team-{team}" for team in range(self.options.teams)]})


EXTRA = [Toy]


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    """Every vendor and the toy, default options, a pinned clock."""
    return emulator_factory(now=PINNED, extra_vendors=EXTRA)


def call(emulator: Emulator, method: str, path: str, key: Optional[str] = None, **kwargs: Any) -> requests.Response:
    """A request of the toy's, with its key."""
    return vendor_request(emulator, Toy.name, method, path, key, **kwargs)


# --------------------------------------------------------------------------- routing and the key


def test_an_unknown_path_is_404_and_a_known_path_with_another_method_405(emulator: Emulator) -> None:
    answer = call(emulator, "GET", "/toy/v1/nowhere")
    assert (answer.status_code, answer.json()) == (404, {"message": "Not Found", "path": "/toy/v1/nowhere"})
    assert call(emulator, "DELETE", USAGE).status_code == 405
    assert call(emulator, "GET", USAGE, params={"day": DAY}).status_code == 200
    assert [(e.path, e.vendor, e.status) for e in emulator.log.entries("/toy/")] == [
        ("/toy/v1/nowhere", None, 404), (USAGE, None, 405), (USAGE, "toy", 200),
    ]  # fmt: skip


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_wrong_or_missing_key_gets_the_vendors_own_answer_on_every_route(emulator: Emulator, vendor: str) -> None:
    served = emulator.vendor(vendor)
    expected = served.unauthorized()
    for route in served.routes():
        for headers in ({"Authorization": "Bearer nope"}, {}):
            answer = requests.request(route.method, emulator.url + route.path, headers=headers, timeout=10)
            assert (answer.status_code, answer.json()) == (expected.status, expected.body), (route.method, route.path, headers)


# --------------------------------------------------------------------------- faults and the log


def test_every_fault_kind_answers_as_switched(emulator: Emulator) -> None:
    path = TEAMS
    emulator.faults.add("http_500", every=1, times=1)
    assert call(emulator, "POST", path, json={}).status_code == 500
    emulator.faults.add("http_429", every=1, times=1, retry_after=3)
    answer = call(emulator, "POST", path, json={})
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "3")
    emulator.faults.add("throttle", every=1, times=1)
    assert call(emulator, "POST", path, json={}).json() == emulator.vendor("toy").throttled(1.0).body
    emulator.faults.add("invalid_json", every=1, times=1)
    answer = call(emulator, "POST", path, json={})
    assert answer.status_code == 200 and pytest.raises(ValueError, answer.json)
    emulator.faults.add("drop", every=1, times=1)
    with pytest.raises(requests.ConnectionError):
        call(emulator, "POST", path, json={})
    emulator.faults.add("slow", every=1, times=1, delay=0.3)
    started = time.perf_counter()
    assert call(emulator, "POST", path, json={}).status_code == 200
    assert time.perf_counter() - started >= 0.3
    log = emulator.log.entries(path)
    assert [(e.fault, e.status) for e in log] == [
        ("http_500", 500), ("http_429", 429), ("throttle", 429), ("invalid_json", 200), ("drop", None), ("slow", 200),
    ]  # fmt: skip
    assert log[0].method == "POST" and log[0].body == {} and log[0].vendor == "toy"


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_throttle_fault_is_the_vendors_own_too_fast_answer_on_every_route(emulator: Emulator, vendor: str) -> None:
    served = emulator.vendor(vendor)
    expected = served.throttled(2.0)
    for route in served.routes():
        emulator.faults.add("throttle", every=1, times=1, retry_after=2.0, path=route.path)
        answer = vendor_request(emulator, vendor, route.method, route.path)
        assert (answer.status_code, answer.json()) == (expected.status, expected.body), route.path
        assert {name: answer.headers.get(name) for name in expected.headers} == expected.headers, route.path
    assert [entry.fault for entry in emulator.log.entries(vendor=vendor)] == ["throttle"] * len(served.routes())


def test_trickle_sends_status_and_headers_at_once_then_the_real_body_a_byte_per_delay(emulator: Emulator) -> None:
    path = TEAMS
    whole = call(emulator, "GET", path).content
    emulator.faults.add("trickle", every=1, times=1, delay=0.005)
    started = time.perf_counter()
    answer = call(emulator, "GET", path, stream=True)
    assert answer.status_code == 200 and answer.headers["Content-Length"] == str(len(whole))
    assert time.perf_counter() - started < 0.5  # the head came at once
    first = answer.raw.read(5)
    assert first == whole[:5] and time.perf_counter() - started >= 0.025  # five bytes, five delays
    assert first + answer.raw.read() == whole
    assert time.perf_counter() - started >= 0.005 * len(whole)
    assert [(e.fault, e.status) for e in emulator.log.entries(path)][-1] == ("trickle", 200)


def test_hang_reads_the_request_and_never_answers_until_the_client_goes_away(emulator: Emulator) -> None:
    path = TEAMS
    emulator.faults.add("hang", every=1, times=1)
    started = time.perf_counter()
    with pytest.raises(requests.ReadTimeout):
        requests.post(emulator.url + path, json={"x": 1}, timeout=(1, 0.5))
    assert 0.5 <= time.perf_counter() - started < 2
    (entry,) = emulator.log.entries(path)
    assert (entry.fault, entry.status, entry.body) == ("hang", None, {"x": 1})  # read, never answered
    assert call(emulator, "POST", path, json={}).status_code == 200  # the server serves on


def test_a_hanging_request_ends_when_the_emulator_stops(emulator_factory: EmulatorFactory) -> None:
    hanging = emulator_factory(extra_vendors=EXTRA)
    hanging.faults.add("hang")
    with socket.create_connection(("127.0.0.1", int(hanging.url.rsplit(":", 1)[1])), timeout=5) as client:
        client.sendall(f"POST {TEAMS} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode())
        time.sleep(0.2)
        hanging.stop()
        assert client.recv(100) == b""  # closed, nothing sent


@pytest.mark.parametrize(
    "option, header",
    [({"retry_after": 999999}, "999999"), ({"retry_after_header": "Fri, 01 Jan 2100 00:00:00 GMT"}, "Fri, 01 Jan 2100 00:00:00 GMT")],
    ids=["huge", "http-date"],
)
def test_http_429_sends_a_huge_retry_after_or_an_http_date(emulator: Emulator, option: Dict[str, Any], header: str) -> None:
    emulator.faults.add("http_429", every=1, times=1, **option)
    answer = call(emulator, "POST", TEAMS, json={})
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, header)


def test_every_nth_request_gets_the_fault(emulator: Emulator) -> None:
    emulator.faults.add("http_500", every=3, path="teams")
    statuses = [call(emulator, "GET", TEAMS).status_code for _ in range(6)]
    assert statuses == [200, 200, 500, 200, 200, 500]
    assert call(emulator, "GET", USAGE, params={"day": DAY}).status_code == 200  # another path: no fault


# --------------------------------------------------------------------------- rate limiting


def test_sliding_window_admits_again_when_the_oldest_request_leaves_it() -> None:
    windows, limit = SlidingWindows(), [("endpoint", Window(2, 1.0))]
    assert windows.admit(limit, 10.0) is None
    assert windows.admit(limit, 10.6) is None
    assert windows.admit(limit, 10.9) == pytest.approx(0.1)  # waits for 10.0 to leave the window
    assert windows.admit(limit, 11.0) is None  # arrivals, not fixed seconds: 11.0 - 10.0 = one second
    assert windows.admit(limit, 11.5) == pytest.approx(0.1)


# --------------------------------------------------------------------------- the network


def timed(call_it: Any) -> Tuple[float, requests.Response]:
    started = time.perf_counter()
    answer = call_it()
    return time.perf_counter() - started, answer


#: What a round trip on loopback may take beyond the emulated one (a loaded machine, pytest workers).
MARGIN = 0.15


def test_an_answer_takes_the_latency_plus_or_minus_the_jitter(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(now=PINNED, extra_vendors=EXTRA, latency_ms=200, jitter_ms=50)
    session = requests.Session()  # one keep-alive connection: the round trip is the emulator's alone
    headers = {"Authorization": f"Bearer {emulator.vendor('toy').options.api_key}"}
    taken = []
    for _ in range(3):
        seconds, answer = timed(lambda: session.get(emulator.url + TEAMS, headers=headers, timeout=10))
        assert answer.status_code == 200
        taken.append(seconds)
    assert all(0.15 <= seconds <= 0.25 + MARGIN for seconds in taken), taken
    # Every answer, not only a served one: a path no vendor serves, a wrong key.
    assert 0.15 <= timed(lambda: session.get(emulator.url + "/toy/v1/nowhere", timeout=10))[0] <= 0.25 + MARGIN
    assert 0.15 <= timed(lambda: session.get(emulator.url + TEAMS, timeout=10))[0] <= 0.25 + MARGIN


def test_round_trips_are_bounded_spread_and_the_same_for_the_same_seed_and_request() -> None:
    trips = [round_trip(300, 50, 7, number) for number in range(1, 2001)]
    assert all(0.25 <= trip <= 0.35 for trip in trips)
    assert min(trips) < 0.26 and max(trips) > 0.34 and 0.295 < sum(trips) / len(trips) < 0.305
    assert trips == [round_trip(300, 50, 7, number) for number in range(1, 2001)]
    assert trips != [round_trip(300, 50, 8, number) for number in range(1, 2001)]
    assert {round_trip(300, 0, 7, number) for number in range(1, 100)} == {0.3}


@pytest.mark.parametrize("latency, jitter", [(100, 150), (-1, 0), (100, -1)])
def test_a_round_trip_that_could_be_negative_is_refused(latency: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="must"):
        Emulator(latency_ms=latency, jitter_ms=jitter)
    with pytest.raises(ValueError, match="must"):
        Emulator(extra_vendors=EXTRA, toy={"latency_ms": latency, "jitter_ms": jitter})


def test_requests_in_flight_overlap_on_keep_alive_connections(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(now=PINNED, extra_vendors=EXTRA, latency_ms=300)
    headers = {"Authorization": f"Bearer {emulator.vendor('toy').options.api_key}"}
    sessions = [requests.Session() for _ in range(8)]
    start = threading.Barrier(len(sessions))

    def one(session: requests.Session) -> Tuple[float, int]:
        start.wait()
        seconds, answer = timed(lambda: session.get(emulator.url + TEAMS, headers=headers, timeout=10))
        return seconds, answer.status_code

    for _ in range(3):  # each session opens its connection, then keeps it
        started = time.perf_counter()
        with ThreadPoolExecutor(len(sessions)) as pool:
            done = list(pool.map(one, sessions))
        assert all(status == 200 and seconds >= 0.3 for seconds, status in done), done
        assert time.perf_counter() - started < 0.3 + 2 * MARGIN  # about one latency, not eight
    pools = [session.get_adapter(emulator.url).poolmanager.pools for session in sessions]
    opened = [[pool[key].num_connections for key in pool.keys()] for pool in pools]
    assert opened == [[1]] * len(sessions)  # keep-alive: three requests, one connection each


def test_a_vendors_own_latency_overrides_the_emulators_and_never_holds_up_another(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(now=PINNED, extra_vendors=EXTRA, latency_ms=0, toy={"latency_ms": 300})
    with ThreadPoolExecutor(2) as pool:
        started = time.perf_counter()
        slow = pool.submit(call, emulator, "GET", TEAMS)
        time.sleep(0.05)  # the toy's request is in flight
        fast, answer = timed(lambda: requests.get(emulator.url + "/nowhere", timeout=10))  # no vendor: the emulator's 0 ms
        assert answer.status_code == 404 and fast < 0.1
        assert slow.result().status_code == 200 and time.perf_counter() - started >= 0.3
    emulator.vendor("toy").latency_ms = None  # at run time: the emulator's again
    assert timed(lambda: call(emulator, "GET", TEAMS))[0] < 0.1
    assert isinstance(emulator.vendor("toy").with_options(teams=1), VendorEmulator)


def test_rate_limits_count_requests_as_they_arrive_not_as_they_are_answered(emulator_factory: EmulatorFactory) -> None:
    # The round trip is longer than the window: requests sent within one window are both in
    # flight, and the second is throttled all the same; one sent a window after the first, while
    # the first is still in flight, is admitted.
    emulator = emulator_factory(now=PINNED, extra_vendors=EXTRA, latency_ms=300)
    with ThreadPoolExecutor(3) as pool:
        started = time.perf_counter()
        first = pool.submit(call, emulator, "GET", LIMITED)
        time.sleep(0.05)
        second = pool.submit(call, emulator, "GET", LIMITED)
        time.sleep(LIMIT_WINDOW + 0.05 - (time.perf_counter() - started))
        third = pool.submit(call, emulator, "GET", LIMITED)
        statuses = [future.result().status_code for future in (first, second, third)]
        taken = time.perf_counter() - started
    assert statuses == [200, 429, 200]
    assert taken >= LIMIT_WINDOW + 0.05 + 0.3  # the throttled answer, too, came a round trip later
    arrivals = [entry.time for entry in emulator.log.entries(LIMITED)]
    assert arrivals == sorted(arrivals) and arrivals[2] - arrivals[0] < 0.3 + MARGIN  # sent before the first was answered


def test_with_jitter_requests_sent_one_window_apart_may_arrive_within_one(emulator_factory: EmulatorFactory) -> None:
    # A seed whose first round trip is long and second short: sent one window apart, the second
    # arrives (half its round trip later) well within the window of the first.
    latency, jitter = 200, 100
    seed = next(s for s in range(1, 1000) if round_trip(latency, jitter, s, 1) - round_trip(latency, jitter, s, 2) > 0.16)
    emulator = emulator_factory(seed=seed, now=PINNED, extra_vendors=EXTRA, latency_ms=latency, jitter_ms=jitter)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(call, emulator, "GET", LIMITED)
        time.sleep(LIMIT_WINDOW)
        second = pool.submit(call, emulator, "GET", LIMITED)
        assert [first.result().status_code, second.result().status_code] == [200, 429]
    assert INBOUND_SHARE * 0.16 > 0.05  # what the second gains on the first, far above the scheduling noise


# --------------------------------------------------------------------------- options


def broken_options() -> List[Any]:
    """Every vendor's fault options (``paging_fault``, ``item_fault``): values it breaks itself by."""
    return [
        pytest.param(vendor, option.name, id=f"{vendor}-{option.name}")
        for vendor, cls in discover_vendors().items()
        for option in fields(cls.Options)
        if option.name in ("paging_fault", "item_fault")
    ]


@pytest.mark.parametrize("vendor, option", broken_options())
def test_an_unknown_paging_or_item_fault_is_refused(vendor: str, option: str) -> None:
    with pytest.raises(ValueError, match=f"unknown {option} 'sideways'"):
        Emulator(**{vendor: {option: "sideways"}})


# --------------------------------------------------------------------------- the command line


@pytest.mark.process  # the emulator's command line
def test_command_line_prints_its_url_and_serves_every_vendor_with_the_options_it_is_given() -> None:
    vendors = discover_vendors()
    keys = {name: f"{name}-key-from-the-command-line" for name in vendors}
    flags = [f"--{name}-{cls.key_option}".replace("_", "-") + f"={keys[name]}" for name, cls in vendors.items()]
    in_process = Emulator(seed=4, rate_limits=False, **{name: {cls.key_option: keys[name]} for name, cls in vendors.items()})
    with in_process, command_line("--seed", "4", "--rate-limit", "off", "--port", "0", *flags) as url:
        assert url.startswith("http://127.0.0.1:")
        for name, served in in_process.vendors.items():
            refused = served.unauthorized()
            for route in served.routes():
                default_key, given_key = answer(url, route, served.Options().api_key), answer(url, route, keys[name])
                assert default_key == (refused.status, refused.body), (name, route.path)
                assert given_key == answer(in_process.url, route, keys[name]), (name, route.path)


@pytest.mark.process  # the emulator's command line
def test_command_line_sets_every_vendors_latency_and_one_vendors_own() -> None:
    vendors = discover_vendors()
    routes = {name: cls(Emulator().world).routes()[0] for name, cls in vendors.items()}
    fast = VENDORS[0]  # any one: its own latency of 0 against everyone else's 250 ms
    flags = ["--latency-ms", "250", "--jitter-ms", "20", f"--{fast}-latency-ms", "0", f"--{fast}-jitter-ms", "0"]
    with command_line("--port", "0", *flags) as url:
        for name, route in routes.items():
            seconds, _ = timed(lambda route=route: requests.request(route.method, url + route.path, timeout=10))
            if name == fast:
                assert seconds < 0.1, name
            else:
                assert 0.23 <= seconds <= 0.27 + MARGIN, name
    refused = subprocess.run([sys.executable, "-m", "integration_tests.emulator", "--latency-ms", "10", "--jitter-ms", "20"],
                             cwd=ROOT, capture_output=True, text=True, timeout=30)  # fmt: skip
    assert refused.returncode == 2 and "must not exceed latency_ms" in refused.stderr


def answer(url: str, route: Route, key: str) -> Any:
    """The status and JSON body of ``route`` (no parameters, no body) at ``url`` with ``key``."""
    reply = requests.request(route.method, url + route.path, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    return reply.status_code, reply.json()
