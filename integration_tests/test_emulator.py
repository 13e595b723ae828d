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
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

import pytest
import requests

from emulator import Emulator, discover_vendors
from emulator.core import INBOUND_SHARE, Reply, Request, Route, SlidingWindows, VendorEmulator, Window, round_trip
from integration_tests.conftest import EmulatorFactory
from integration_tests.emulator_client import ROOT, command_line, vendor_request, wait_for
from integration_tests.toy_vendor.emulator import ToyEmulator

#: The toy's usage is for days that are over: a fixed clock keeps ``DAY`` one of them.
PINNED = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc)
DAY = "2026-06-14"
USAGE = "/toy/v1/usage"
TEAMS = "/toy/v1/teams"
#: The toy's teams again, at most one request in any :data:`LIMIT_WINDOW` seconds.
LIMITED = "/toy/v1/limited"
LIMIT_WINDOW = 0.5
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
    path, delay = TEAMS, 0.01
    whole = call(emulator, "GET", path).content
    emulator.faults.add("trickle", every=1, times=1, delay=delay)
    started = time.perf_counter()
    answer = call(emulator, "GET", path, stream=True)
    head = time.perf_counter() - started
    assert answer.status_code == 200 and answer.headers["Content-Length"] == str(len(whole))
    first = answer.raw.read(5)
    assert first == whole[:5] and time.perf_counter() - started >= 5 * delay  # five bytes, five delays
    assert first + answer.raw.read() == whole
    body = time.perf_counter() - started
    assert body >= delay * len(whole)
    assert head < body / 4  # the head came at once, the body byte by byte
    assert [(e.fault, e.status) for e in emulator.log.entries(path)][-1] == ("trickle", 200)


def test_hang_reads_the_request_and_never_answers_until_the_client_goes_away(emulator: Emulator) -> None:
    path = TEAMS
    emulator.faults.add("hang", every=1, times=1)
    started = time.perf_counter()
    with pytest.raises(requests.ReadTimeout):
        requests.post(emulator.url + path, json={"x": 1}, timeout=(1, 0.5))
    assert 0.5 <= time.perf_counter() - started < HANG  # the client's read timeout ended it
    (entry,) = emulator.log.entries(path)
    assert (entry.fault, entry.status, entry.body) == ("hang", None, {"x": 1})  # read, never answered
    assert call(emulator, "POST", path, json={}).status_code == 200  # the server serves on


def test_a_hanging_request_ends_when_the_emulator_stops(emulator_factory: EmulatorFactory) -> None:
    hanging = emulator_factory(extra_vendors=EXTRA)
    hanging.faults.add("hang")
    with socket.create_connection(("127.0.0.1", int(hanging.url.rsplit(":", 1)[1])), timeout=HANG) as client:
        client.sendall(f"POST {TEAMS} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode())
        wait_for(lambda: hanging.receipts == [TEAMS], "the request received")
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


#: A bound only a hang reaches: far above what any request here needs, however busy the machine.
#: How long things take is proven on the emulator's own clock (each ``LoggedRequest``'s
#: ``received``, ``round_trip``, ``reached`` and ``answered``), never by a stopwatch bound.
HANG = 30.0
#: Two readings of one monotonic clock a few calls apart may differ by this much in the other order.
CLOCK_GRAIN = 0.001


def most_at_once(entries: List[Any]) -> int:
    """How many of ``entries`` the emulator held at the same moment (from received to answered)."""
    moments = sorted([(e.received, 1) for e in entries] + [(e.answered, -1) for e in entries], key=lambda m: (m[0], m[1]))
    held = most = 0
    for _, change in moments:
        held += change
        most = max(most, held)
    return most


def test_an_answer_takes_the_latency_plus_or_minus_the_jitter(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(now=PINNED, extra_vendors=EXTRA, latency_ms=200, jitter_ms=50)
    session = requests.Session()  # one keep-alive connection: the round trip is the emulator's alone
    headers = {"Authorization": f"Bearer {emulator.vendor('toy').options.api_key}"}
    taken = []
    for _ in range(3):
        seconds, answer = timed(lambda: session.get(emulator.url + TEAMS, headers=headers, timeout=HANG))
        assert answer.status_code == 200
        taken.append(seconds)
    # Every answer, not only a served one: a path no vendor serves, a wrong key.
    for path in ("/toy/v1/nowhere", TEAMS):
        seconds, answer = timed(lambda path=path: session.get(emulator.url + path, timeout=HANG))
        assert answer.status_code in (401, 404)
        taken.append(seconds)
    entries = sorted(emulator.log.entries(), key=lambda e: e.received)
    assert [e.status for e in entries] == [200, 200, 200, 404, 401]
    trips = [e.round_trip for e in entries]
    assert all(0.15 <= trip <= 0.25 for trip in trips) and len(set(trips)) > 1, trips  # latency, jitter spread
    # Each answer was held its round trip (the emulator's clock), so the client waited at least that.
    assert all(e.answered - e.received >= e.round_trip - CLOCK_GRAIN for e in entries), entries
    assert all(seconds >= trip - CLOCK_GRAIN for seconds, trip in zip(taken, trips, strict=True)), (taken, trips)


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
    # A second of latency: eight requests started together are all held at once, however late a
    # busy machine sends the last of them.
    emulator = emulator_factory(now=PINNED, extra_vendors=EXTRA, latency_ms=1000)
    headers = {"Authorization": f"Bearer {emulator.vendor('toy').options.api_key}"}
    sessions = [requests.Session() for _ in range(8)]
    start = threading.Barrier(len(sessions))

    def one(session: requests.Session) -> int:
        start.wait()
        return session.get(emulator.url + TEAMS, headers=headers, timeout=HANG).status_code

    for round_number in range(2):  # each session opens its connection, then keeps it
        with ThreadPoolExecutor(len(sessions)) as pool:
            assert list(pool.map(one, sessions)) == [200] * len(sessions)
        entries = sorted(emulator.log.entries(TEAMS), key=lambda e: e.received)[8 * round_number :]
        assert most_at_once(entries) == 8, entries  # held together: one latency for all eight, not eight
    pools = [session.get_adapter(emulator.url).poolmanager.pools for session in sessions]
    opened = [[pool[key].num_connections for key in pool.keys()] for pool in pools]
    assert opened == [[1]] * len(sessions)  # keep-alive: two requests, one connection each


def test_a_vendors_own_latency_overrides_the_emulators_and_never_holds_up_another(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(now=PINNED, extra_vendors=EXTRA, latency_ms=0, toy={"latency_ms": 1000})
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(call, emulator, "GET", TEAMS)
        wait_for(lambda: TEAMS in emulator.receipts, "the toy's request received")
        fast = requests.get(emulator.url + "/nowhere", timeout=HANG)  # no vendor: the emulator's 0 ms
        assert fast.status_code == 404 and slow.result().status_code == 200
    (nowhere,), (toy,) = emulator.log.entries("/nowhere"), emulator.log.entries(TEAMS)
    assert (nowhere.round_trip, toy.round_trip) == (0.0, 1.0)
    assert toy.received < nowhere.received and nowhere.answered < toy.answered  # answered while the toy's was held
    emulator.vendor("toy").latency_ms = None  # at run time: the emulator's again
    assert call(emulator, "GET", TEAMS).status_code == 200
    assert emulator.log.entries(TEAMS)[-1].round_trip == 0.0
    assert isinstance(emulator.vendor("toy").with_options(teams=1), VendorEmulator)


def test_rate_limits_count_requests_as_they_arrive_not_as_they_are_answered(emulator_factory: EmulatorFactory) -> None:
    # The round trip is three windows long: requests reach the vendor while earlier ones are still
    # in flight. The second, sent as soon as the first is received, reaches it within the first's
    # window and is throttled; the third, sent a window later, is admitted, the first still unanswered.
    emulator = emulator_factory(now=PINNED, extra_vendors=EXTRA, latency_ms=LIMIT_WINDOW * 3000)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(call, emulator, "GET", LIMITED)
        wait_for(lambda: len(emulator.receipts) == 1, "the first request received")
        second = pool.submit(call, emulator, "GET", LIMITED)
        wait_for(lambda: len(emulator.receipts) == 2, "the second request received")
        time.sleep(LIMIT_WINDOW)  # the third is sent at least a window after the second (and the first)
        third = pool.submit(call, emulator, "GET", LIMITED)
        statuses = [future.result().status_code for future in (first, second, third)]
    one, two, three = sorted(emulator.log.entries(LIMITED), key=lambda e: e.received)
    assert two.reached - one.reached < LIMIT_WINDOW <= three.reached - one.reached  # what the vendor counted
    assert three.received < one.answered  # all three sent before the first was answered
    assert two.answered - two.received >= two.round_trip - CLOCK_GRAIN  # the throttled answer, too, a round trip later
    assert statuses == [200, 429, 200]


def test_with_jitter_requests_sent_one_window_apart_may_arrive_within_one(emulator_factory: EmulatorFactory) -> None:
    # A seed whose first round trip is long and second short: sent a window apart, the second
    # reaches the vendor (half its round trip after it was sent) within the window of the first.
    latency, jitter = LIMIT_WINDOW * 2000, LIMIT_WINDOW * 1000
    gain = 0.9 * LIMIT_WINDOW  # what the second gains on the first: far more than a busy machine's delay
    seed = next(
        s for s in range(1, 10_000) if INBOUND_SHARE * (round_trip(latency, jitter, s, 1) - round_trip(latency, jitter, s, 2)) > gain
    )
    emulator = emulator_factory(seed=seed, now=PINNED, extra_vendors=EXTRA, latency_ms=latency, jitter_ms=jitter)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(call, emulator, "GET", LIMITED)
        wait_for(lambda: len(emulator.receipts) == 1, "the first request received")
        time.sleep(LIMIT_WINDOW)
        second = pool.submit(call, emulator, "GET", LIMITED)
        statuses = [first.result().status_code, second.result().status_code]
    one, two = sorted(emulator.log.entries(LIMITED), key=lambda e: e.received)
    assert two.received - one.received >= LIMIT_WINDOW - CLOCK_GRAIN  # sent a window apart
    assert two.reached - one.reached < LIMIT_WINDOW  # arrived within one
    assert statuses == [200, 429]


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
    fast = VENDORS[0]  # any one: its own latency of 0 against everyone else's 2 s
    flags = ["--latency-ms", "2000", "--jitter-ms", "100", f"--{fast}-latency-ms", "0", f"--{fast}-jitter-ms", "0"]
    with command_line("--port", "0", *flags) as url, ThreadPoolExecutor(len(routes)) as pool:
        asked = {
            name: pool.submit(timed, lambda route=route: requests.request(route.method, url + route.path, timeout=HANG))
            for name, route in routes.items()
        }
        taken = {name: future.result()[0] for name, future in asked.items()}
    # The others' answers came after their round trip of 1.9 s at least; the fast one's, at once.
    assert all(seconds >= 1.9 for name, seconds in taken.items() if name != fast), taken
    assert taken[fast] < 1.0, taken
    refused = subprocess.run([sys.executable, "-m", "emulator", "--latency-ms", "10", "--jitter-ms", "20"],
                             cwd=ROOT, capture_output=True, text=True, timeout=30)  # fmt: skip
    assert refused.returncode == 2 and "must not exceed latency_ms" in refused.stderr


def answer(url: str, route: Route, key: str) -> Any:
    """The status and JSON body of ``route`` (no parameters, no body) at ``url`` with ``key``."""
    reply = requests.request(route.method, url + route.path, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    return reply.status_code, reply.json()


# --------------------------------------------------------------------------- the vendors' clock


def test_every_answer_dates_itself_by_the_vendors_clock_which_an_offset_moves(emulator_factory: EmulatorFactory) -> None:
    import email.utils

    behind = emulator_factory(extra_vendors=EXTRA, clock_offset_seconds=-86400)
    before = datetime.now(timezone.utc)
    answer = call(behind, "GET", TEAMS)
    dated = email.utils.parsedate_to_datetime(answer.headers["Date"])
    # A day behind this machine's clock (the header has whole seconds), and so is the vendors' today.
    assert before - timedelta(days=1, seconds=1) <= dated <= datetime.now(timezone.utc) - timedelta(days=1)
    assert before - timedelta(days=1) <= behind.world.now() <= datetime.now(timezone.utc) - timedelta(days=1)


@pytest.mark.process  # the emulator's command line
def test_command_line_runs_the_vendors_clock_at_an_offset() -> None:
    import email.utils

    with command_line("--port", "0", "--clock-offset-seconds", "-7200") as url:
        answer = requests.get(url + "/nowhere", timeout=HANG)
    dated = email.utils.parsedate_to_datetime(answer.headers["Date"])
    assert abs((datetime.now(timezone.utc) - dated).total_seconds() - 7200) < 60
